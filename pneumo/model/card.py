"""The model card: everything a stage needs to know about a model.

Input size and preprocessing, labels, decision threshold, metrics, training
provenance and the sha256 of each model file. Stored as JSON beside the models.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pneumo.errors import ModelError
from pneumo.evaluation.metrics import BinaryMetrics
from pneumo.model.preprocess import Preprocessing

CARD_FILENAME = "model_card.json"
LABELS = ("NORMAL", "PNEUMONIA")


@dataclass(frozen=True)
class ModelCard:
    """Description of a trained model; see the module docstring."""

    name: str
    architecture: str
    preprocessing: Preprocessing
    threshold: float = 0.5
    labels: tuple[str, str] = LABELS
    metrics: dict[str, BinaryMetrics] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def input_size(self) -> int:
        """Side of the square model input, in pixels."""
        return self.preprocessing.input_size

    def threshold_for(self, model_file: str | Path) -> float:
        """The decision threshold of one model file.

        Conversion may re-derive the int8 model's threshold on validation; it
        records one per file under ``extra["thresholds"]``. Other files use
        :attr:`threshold`.
        """
        per_file = self.extra.get("thresholds", {})
        return float(per_file.get(Path(model_file).name, self.threshold))

    def label_for(self, probability: float, threshold: float | None = None) -> str:
        """NORMAL or PNEUMONIA for a pneumonia probability."""
        t = self.threshold if threshold is None else threshold
        return self.labels[1] if probability >= t else self.labels[0]

    def with_updates(self, **changes: Any) -> ModelCard:
        """A copy with some fields replaced."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "architecture": self.architecture,
            "preprocessing": self.preprocessing.to_dict(),
            "threshold": self.threshold,
            "labels": list(self.labels),
            "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
            "training": self.training,
            "files": self.files,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        """Inverse of :meth:`to_dict`."""
        labels = tuple(data.get("labels", LABELS))
        if len(labels) != 2:
            raise ModelError("model card: 'labels' must name exactly two classes")
        return cls(
            name=str(data["name"]),
            architecture=str(data["architecture"]),
            preprocessing=Preprocessing.from_dict(data["preprocessing"]),
            threshold=float(data.get("threshold", 0.5)),
            labels=(str(labels[0]), str(labels[1])),
            metrics={k: BinaryMetrics.from_dict(v) for k, v in data.get("metrics", {}).items()},
            training=dict(data.get("training", {})),
            files=dict(data.get("files", {})),
            extra=dict(data.get("extra", {})),
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
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path}: invalid model card ({exc})") from None


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
