"""The model card: everything a stage needs to know about a model.

Input size and preprocessing, labels, decision thresholds, metrics, training
provenance, the sha256 of each model file, and what later stages add
(conversion parity, the out-of-distribution model, calibration, the population
check). Stored as JSON
(:data:`CARD_FILENAME`) beside the models; every section is typed
(:mod:`pneumo.model.card_sections`).

Format versions: 1 (until 2026-12) kept everything after training in one
untyped ``extra`` dict; 2 gives each section its own key. :meth:`ModelCard.load`
reads both; :meth:`ModelCard.save` writes :data:`CARD_FORMAT_VERSION`. Keys a
reader does not know stay in :attr:`ModelCard.extra` and are written back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pneumo.checks.population import PopulationModel
from pneumo.errors import ModelError
from pneumo.evaluation.metrics import BinaryMetrics
from pneumo.model.calibration import CalibrationReport
from pneumo.model.card_sections import (
    ExplainSpec,
    ModelFiles,
    ParityReport,
    SplitSpec,
    ThresholdDecision,
    TrainingRecord,
)
from pneumo.model.ood import OodModel
from pneumo.model.preprocess import Preprocessing

CARD_FILENAME = "model_card.json"
CARD_FORMAT_VERSION = 2
LABELS = ("NORMAL", "PNEUMONIA")

# Format-1 ``extra`` keys that became typed fields in format 2.
_V1_TYPED = ("threshold_rule", "keras_model", "models", "thresholds", "int8_threshold",
             "explain", "quantisation", "conversion", "parity", "ood", "calibration")


@dataclass(frozen=True)
class ModelCard:
    """Description of a trained model; see the module docstring."""

    name: str
    architecture: str
    preprocessing: Preprocessing
    threshold: float = 0.5
    labels: tuple[str, str] = LABELS
    metrics: Mapping[str, BinaryMetrics] = field(default_factory=dict)
    training: TrainingRecord = field(default_factory=TrainingRecord)
    files: Mapping[str, str] = field(default_factory=dict)
    threshold_rule: str | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)
    models: ModelFiles = field(default_factory=ModelFiles)
    int8_threshold: ThresholdDecision | None = None
    explain: ExplainSpec | None = None
    quantisation: Mapping[str, Any] | None = None
    conversion: Mapping[str, Any] | None = None
    parity: ParityReport | None = None
    ood: OodModel | None = None
    calibration: CalibrationReport | None = None
    population: PopulationModel | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def input_size(self) -> int:
        """Side of the square model input, in pixels."""
        return self.preprocessing.input_size

    @property
    def split(self) -> SplitSpec:
        """The training run's patient split (every stage recovers it from here)."""
        return self.training.split

    def threshold_for(self, model_file: str | Path) -> float:
        """The decision threshold of one model file.

        Conversion may re-derive the int8 model's threshold on validation; it
        records one per file in :attr:`thresholds`. Other files use
        :attr:`threshold`.
        """
        return float(self.thresholds.get(Path(model_file).name, self.threshold))

    def label_for(self, probability: float, threshold: float | None = None) -> str:
        """NORMAL or PNEUMONIA for a pneumonia probability."""
        t = self.threshold if threshold is None else threshold
        return self.labels[1] if probability >= t else self.labels[0]

    def with_updates(self, **changes: Any) -> ModelCard:
        """A copy with some fields replaced."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (format :data:`CARD_FORMAT_VERSION`)."""
        def opt(section: Any) -> Any:
            return None if section is None else section.to_dict()

        return {
            "format_version": CARD_FORMAT_VERSION,
            "name": self.name,
            "architecture": self.architecture,
            "preprocessing": self.preprocessing.to_dict(),
            "threshold": self.threshold,
            "labels": list(self.labels),
            "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
            "training": self.training.to_dict(),
            "files": dict(self.files),
            "threshold_rule": self.threshold_rule,
            "thresholds": dict(self.thresholds),
            "models": self.models.to_dict(),
            "int8_threshold": opt(self.int8_threshold),
            "explain": opt(self.explain),
            "quantisation": None if self.quantisation is None else dict(self.quantisation),
            "conversion": None if self.conversion is None else dict(self.conversion),
            "parity": opt(self.parity),
            "ood": opt(self.ood),
            "calibration": opt(self.calibration),
            "population": opt(self.population),
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        """Inverse of :meth:`to_dict`; reads every earlier format too."""
        version = int(data.get("format_version", 1))
        if version > CARD_FORMAT_VERSION:
            raise ModelError(f"model card format {version} is newer than this PneumoScan "
                             f"reads ({CARD_FORMAT_VERSION}): update PneumoScan")
        sections = dict(data) if version >= 2 else _sections_of_v1(data)
        labels = tuple(data.get("labels", LABELS))
        if len(labels) != 2:
            raise ModelError("model card: 'labels' must name exactly two classes")

        def opt(key: str, kind: Any) -> Any:
            value = sections.get(key)
            return None if value is None else kind.from_dict(value)

        return cls(
            name=str(data["name"]),
            architecture=str(data["architecture"]),
            preprocessing=Preprocessing.from_dict(data["preprocessing"]),
            threshold=float(data.get("threshold", 0.5)),
            labels=(str(labels[0]), str(labels[1])),
            metrics={k: BinaryMetrics.from_dict(v) for k, v in data.get("metrics", {}).items()},
            training=TrainingRecord.from_dict(data.get("training", {})),
            files={str(k): str(v) for k, v in data.get("files", {}).items()},
            threshold_rule=_str_or_none(sections.get("threshold_rule")),
            thresholds={str(k): float(v) for k, v in (sections.get("thresholds") or {}).items()},
            models=ModelFiles.from_dict(sections.get("models") or {}),
            int8_threshold=opt("int8_threshold", ThresholdDecision),
            explain=opt("explain", ExplainSpec),
            quantisation=sections.get("quantisation"),
            conversion=sections.get("conversion"),
            parity=opt("parity", ParityReport),
            ood=opt("ood", OodModel),
            calibration=opt("calibration", CalibrationReport),
            population=opt("population", PopulationModel),
            extra=dict(sections.get("extra") or {}),
        )

    def save(self, path: str | Path) -> None:
        """Write the card as JSON, atomically."""
        from pneumo.util.atomic import write_text_atomic

        write_text_atomic(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> ModelCard:
        """Read a card; a missing or malformed file raises :class:`ModelError`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls.from_dict(data)
        except FileNotFoundError:
            raise ModelError(f"{path}: model card not found") from None
        except ModelError as exc:
            raise ModelError(f"{path}: {exc}") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelError(f"{path}: invalid model card ({exc})") from None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _sections_of_v1(data: Mapping[str, Any]) -> dict[str, Any]:
    """Format 1 kept the later sections in ``extra``: lift them out."""
    extra = dict(data.get("extra", {}))
    sections = {key: extra.pop(key) for key in _V1_TYPED if key in extra}
    models = dict(sections.pop("models", None) or {})
    keras = sections.pop("keras_model", None)
    if keras is not None:
        models.setdefault("keras", keras)
    sections["models"] = models
    sections["extra"] = extra
    return sections


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
