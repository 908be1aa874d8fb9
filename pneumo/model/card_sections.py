"""Typed sections of the model card, each with ``to_dict``/``from_dict``.

The card is the contract between the stages: training writes the split and
its provenance, conversion the files, thresholds, parity and explain layout,
``fit-ood`` the out-of-distribution model and the calibration report, and the
scan and the app read them. Every section here is a frozen dataclass, so a
stage reads ``card.split.split_seed`` instead of a string key with a fallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pneumo.evaluation.metrics import BinaryMetrics

_EPS = 1e-9
MAX_DELTA_AUC = 0.005
MAX_DELTA_SENSITIVITY = 0.01
#: Parity report keys of the three models compared.
KERAS, FLOAT, INT8 = "keras", "tflite_float", "tflite_int8"
TITLES = {KERAS: "Keras float32", FLOAT: "TFLite float32", INT8: "TFLite int8"}


def _opt(value: Any, kind: type) -> Any:
    return None if value is None else kind(value)


@dataclass(frozen=True)
class SplitSpec:
    """How a run split its training folder, by patient, and drew its subsets.

    ``split_seed`` and ``val_fraction`` decide the validation patients;
    ``sampling_seed`` draws subsets of the training side (int8 calibration
    images, a limited OOD fit), so that every stage recovers the same images.
    """

    val_fraction: float = 0.15
    split_seed: int = 0
    sampling_seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SplitSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(float(data.get("val_fraction", 0.15)), int(data.get("split_seed", 0)),
                   int(data.get("sampling_seed", 0)))

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SplitSpec:
        """The split of a training configuration (cards of format 1 kept only that;
        runs from before ``split_seed`` existed split with ``seed``)."""
        seed = int(config.get("seed", 0))
        return cls(float(config.get("val_fraction", 0.15)),
                   int(config.get("split_seed", seed)), seed)


@dataclass(frozen=True)
class TrainingRecord:
    """How the model was trained: its split and rule, configuration and provenance.

    ``config`` is the training stage's own configuration, kept verbatim for
    provenance; what other stages need of it is typed here (``split``,
    ``min_sensitivity``).
    """

    split: SplitSpec = field(default_factory=SplitSpec)
    min_sensitivity: float = 0.95
    config: Mapping[str, Any] = field(default_factory=dict)
    train_images: int | None = None
    validation_images: int | None = None
    test_images: int | None = None
    train_file_list_sha256: str | None = None
    validation_file_list_sha256: str | None = None
    epochs_run: int | None = None
    best_epoch: int | None = None
    best_validation_auc: float | None = None
    fit_wall_time_s: float | None = None
    total_wall_time_s: float | None = None
    machine: str | None = None
    date: str | None = None
    software: Mapping[str, str] = field(default_factory=dict)
    members: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = asdict(self)
        out["split"] = self.split.to_dict()
        out["config"] = dict(self.config)
        out["software"] = dict(self.software)
        out["members"] = [dict(m) for m in self.members]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingRecord:
        """Inverse of :meth:`to_dict`; also reads the untyped record of format 1."""
        config = dict(data.get("config", {}))
        split = data.get("split")
        best_auc = data.get("best_validation_auc", data.get("best_validation_auc_during_training"))
        return cls(
            split=SplitSpec.from_dict(split) if isinstance(split, Mapping)
            else SplitSpec.from_config(config),
            min_sensitivity=float(data.get("min_sensitivity", config.get("min_sensitivity", 0.95))),
            config=config,
            train_images=_opt(data.get("train_images"), int),
            validation_images=_opt(data.get("validation_images"), int),
            test_images=_opt(data.get("test_images"), int),
            train_file_list_sha256=_opt(data.get("train_file_list_sha256"), str),
            validation_file_list_sha256=_opt(data.get("validation_file_list_sha256"), str),
            epochs_run=_opt(data.get("epochs_run"), int),
            best_epoch=_opt(data.get("best_epoch"), int),
            best_validation_auc=_opt(best_auc, float),
            fit_wall_time_s=_opt(data.get("fit_wall_time_s"), float),
            total_wall_time_s=_opt(data.get("total_wall_time_s"), float),
            machine=_opt(data.get("machine"), str),
            date=_opt(data.get("date"), str),
            software={str(k): str(v) for k, v in dict(data.get("software", {})).items()},
            members=tuple(dict(m) for m in data.get("members", ())),
        )


@dataclass(frozen=True)
class ModelFiles:
    """Which file of the model folder does what (``None``: not present)."""

    classify: str | None = None
    explain: str | None = None
    keras: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelFiles:
        """Inverse of :meth:`to_dict`."""
        return cls(*(_opt(data.get(k), str) for k in ("classify", "explain", "keras")))


@dataclass(frozen=True)
class ExplainSpec:
    """Where the float model's ``explain`` signature takes its Grad-CAM from."""

    signature: str
    feature_layer: str
    feature_shape: tuple[int, ...]
    target: str = "logit"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"signature": self.signature, "feature_layer": self.feature_layer,
                "feature_shape": list(self.feature_shape), "target": self.target}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExplainSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(str(data["signature"]), str(data["feature_layer"]),
                   tuple(int(n) for n in data["feature_shape"]), str(data.get("target", "logit")))


@dataclass(frozen=True)
class ThresholdDecision:
    """The int8 model's decision threshold and how it was reached."""

    threshold: float
    rederived: bool
    reason: str
    validation: BinaryMetrics | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored in the card."""
        return {"threshold": self.threshold, "rederived": self.rederived, "reason": self.reason,
                "validation": None if self.validation is None else self.validation.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ThresholdDecision:
        """Inverse of :meth:`to_dict`."""
        val = data.get("validation")
        return cls(float(data["threshold"]), bool(data["rederived"]), str(data["reason"]),
                   None if val is None else BinaryMetrics.from_dict(val))


@dataclass(frozen=True)
class GateResult:
    """The int8-vs-float parity gate: figures, limits and the verdict."""

    delta_auc: float
    delta_sensitivity: float
    max_delta_auc: float = MAX_DELTA_AUC
    max_delta_sensitivity: float = MAX_DELTA_SENSITIVITY

    @property
    def passed(self) -> bool:
        """True when both differences are within their limits."""
        return bool(abs(self.delta_auc) <= self.max_delta_auc + _EPS
                    and abs(self.delta_sensitivity) <= self.max_delta_sensitivity + _EPS)

    def describe(self) -> str:
        """One line with the figures, e.g. for an error message."""
        return (f"int8 vs float: delta AUC {self.delta_auc:+.4f} (limit "
                f"{self.max_delta_auc:.3f}), delta sensitivity "
                f"{100 * self.delta_sensitivity:+.2f} points (limit "
                f"{100 * self.max_delta_sensitivity:.1f})")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with ``passed``."""
        return {**asdict(self), "passed": self.passed}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateResult:
        """Inverse of :meth:`to_dict` (``passed`` is recomputed)."""
        return cls(float(data["delta_auc"]), float(data["delta_sensitivity"]),
                   float(data.get("max_delta_auc", MAX_DELTA_AUC)),
                   float(data.get("max_delta_sensitivity", MAX_DELTA_SENSITIVITY)))


_PARITY_KEYS = frozenset({"data", "n", "threshold", "metrics", "agreement_with_keras",
                          "max_abs_delta_probability", "gate", "markdown",
                          "tflite_int8_at_rederived_threshold"})


@dataclass(frozen=True)
class ParityReport:
    """Metrics of each converted model on the parity data against Keras, and the gate.

    ``int8_at_own_threshold`` is the int8 model scored at its re-derived
    threshold (``None`` when it kept the card's); ``details`` holds the
    conversion checks (XNNPACK partitions, Grad-CAM agreement, file sizes).
    """

    data: str
    n: int
    threshold: float
    metrics: Mapping[str, BinaryMetrics]
    agreement: Mapping[str, float]
    max_abs_delta_probability: Mapping[str, float]
    gate: GateResult
    int8_at_own_threshold: BinaryMetrics | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def metrics_of(self, kind: str) -> BinaryMetrics | None:
        """Test metrics of one model kind (``keras``, ``float``, ``int8``) at its own
        threshold."""
        if kind == "int8" and self.int8_at_own_threshold is not None:
            return self.int8_at_own_threshold
        return self.metrics.get({"keras": KERAS, "float": FLOAT, "int8": INT8}.get(kind, kind))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (also written as ``parity.json``)."""
        out: dict[str, Any] = {
            "data": self.data,
            "n": self.n,
            "threshold": self.threshold,
            "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
            "agreement_with_keras": dict(self.agreement),
            "max_abs_delta_probability": dict(self.max_abs_delta_probability),
            "gate": self.gate.to_dict(),
            **self.details,
        }
        if self.int8_at_own_threshold is not None:
            out["tflite_int8_at_rederived_threshold"] = self.int8_at_own_threshold.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParityReport:
        """Inverse of :meth:`to_dict` (a stored ``markdown`` is recomputed instead)."""
        own = data.get("tflite_int8_at_rederived_threshold")
        return cls(
            data=str(data["data"]), n=int(data["n"]), threshold=float(data["threshold"]),
            metrics={k: BinaryMetrics.from_dict(v) for k, v in data["metrics"].items()},
            agreement={k: float(v) for k, v in data["agreement_with_keras"].items()},
            max_abs_delta_probability={
                k: float(v) for k, v in data["max_abs_delta_probability"].items()},
            gate=GateResult.from_dict(data["gate"]),
            int8_at_own_threshold=None if own is None else BinaryMetrics.from_dict(own),
            details={k: v for k, v in data.items() if k not in _PARITY_KEYS},
        )

    def markdown(self) -> str:
        """A Markdown table for the README."""
        lines = [
            f"Parity on {self.data} (n = {self.n}, threshold {self.threshold:.4f}):",
            "",
            ("| model | accuracy | AUC | sensitivity | specificity | agreement with Keras "
             "| max abs delta p |"),
            "|---|---|---|---|---|---|---|",
        ]
        for key, m in self.metrics.items():
            lines.append(
                f"| {TITLES.get(key, key)} | {m.accuracy:.4f} | {m.auc:.4f} | "
                f"{m.sensitivity:.4f} | {m.specificity:.4f} | "
                f"{100 * self.agreement[key]:.2f}% | {self.max_abs_delta_probability[key]:.4f} |")
        verdict = "passed" if self.gate.passed else "FAILED"
        lines += ["", f"Gate {verdict}: {self.gate.describe()}."]
        return "\n".join(lines)
