"""Parity of the converted models with the Keras model, and the int8 gate.

Keras float, TFLite float and TFLite int8 are compared on one labelled set at
the card's threshold: accuracy, AUC, sensitivity, specificity, agreement of
the decisions with Keras and the largest probability difference. The gate
holds int8 to the TFLite float model: ``|delta AUC| <= 0.005`` and
``|delta sensitivity| <= 1 point`` (parity, so either direction counts).
Also here: the XNNPACK partition count of a flatbuffer, read from the
interpreter's nodes, and the int8 threshold re-derivation on validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pneumo.errors import ModelError
from pneumo.evaluation.metrics import BinaryMetrics, choose_threshold, compute_metrics

KERAS, FLOAT, INT8 = "keras", "tflite_float", "tflite_int8"
TITLES = {KERAS: "Keras float32", FLOAT: "TFLite float32", INT8: "TFLite int8"}
MAX_DELTA_AUC = 0.005
MAX_DELTA_SENSITIVITY = 0.01
_EPS = 1e-9


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


def check_gate(float_metrics: BinaryMetrics, int8_metrics: BinaryMetrics,
               max_delta_auc: float = MAX_DELTA_AUC,
               max_delta_sensitivity: float = MAX_DELTA_SENSITIVITY) -> GateResult:
    """Compare int8 with float metrics (int8 minus float)."""
    return GateResult(
        delta_auc=float(int8_metrics.auc - float_metrics.auc),
        delta_sensitivity=float(int8_metrics.sensitivity - float_metrics.sensitivity),
        max_delta_auc=max_delta_auc,
        max_delta_sensitivity=max_delta_sensitivity,
    )


@dataclass(frozen=True)
class ParityReport:
    """Metrics of each model on the parity data, agreement, deltas and the gate."""

    data: str
    n: int
    threshold: float
    metrics: dict[str, BinaryMetrics]
    agreement: dict[str, float]
    max_abs_delta_probability: dict[str, float]
    gate: GateResult
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (written as ``parity.json``)."""
        return {
            "data": self.data,
            "n": self.n,
            "threshold": self.threshold,
            "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
            "agreement_with_keras": self.agreement,
            "max_abs_delta_probability": self.max_abs_delta_probability,
            "gate": self.gate.to_dict(),
            **self.extra,
        }

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


def parity_report(labels: np.ndarray, probabilities: Mapping[str, np.ndarray],
                  threshold: float, data: str, extra: dict[str, Any] | None = None
                  ) -> ParityReport:
    """Compute the report; ``probabilities`` maps :data:`KERAS`, :data:`FLOAT`,
    :data:`INT8` (at least) to probabilities (N,) for ``labels``."""
    missing = [k for k in (KERAS, FLOAT, INT8) if k not in probabilities]
    if missing:
        raise ValueError(f"parity needs probabilities of {missing}")
    y = np.asarray(labels).ravel()
    ref = np.asarray(probabilities[KERAS], dtype=np.float64).ravel()
    metrics: dict[str, BinaryMetrics] = {}
    agreement: dict[str, float] = {}
    deltas: dict[str, float] = {}
    for key, probs in probabilities.items():
        p = np.asarray(probs, dtype=np.float64).ravel()
        if p.shape != y.shape:
            raise ValueError(f"{key}: {p.shape[0]} probabilities for {y.shape[0]} labels")
        if not np.isfinite(p).all():
            raise ModelError(f"{key}: non-finite probabilities on the parity data")
        metrics[key] = compute_metrics(y, p, threshold)
        agreement[key] = float(np.mean((p >= threshold) == (ref >= threshold))) if len(y) else 1.0
        deltas[key] = float(np.max(np.abs(p - ref))) if len(y) else 0.0
    gate = check_gate(metrics[FLOAT], metrics[INT8])
    return ParityReport(data, len(y), float(threshold), metrics, agreement, deltas, gate,
                        dict(extra or {}))


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


def int8_threshold(card_threshold: float, min_sensitivity: float,
                   val_labels: np.ndarray | None, val_int8: np.ndarray | None
                   ) -> ThresholdDecision:
    """Keep the card's threshold while int8 still meets the training rule on validation.

    The rule is the training one: highest specificity at validation sensitivity
    ``>= min_sensitivity``. When int8 misses the sensitivity at the card's
    threshold, the threshold is re-derived by that rule on int8's validation
    probabilities (validation only, never test).
    """
    if val_labels is None or val_int8 is None or len(val_labels) == 0:
        return ThresholdDecision(card_threshold, False, "no validation data: card threshold kept")
    at_card = compute_metrics(val_labels, val_int8, card_threshold)
    if at_card.sensitivity + _EPS >= min_sensitivity:
        return ThresholdDecision(card_threshold, False,
                                 f"int8 validation sensitivity {at_card.sensitivity:.4f} >= "
                                 f"{min_sensitivity:.2f} at the card threshold", at_card)
    new = choose_threshold(val_labels, val_int8, min_sensitivity)
    return ThresholdDecision(new, True,
                             f"int8 validation sensitivity {at_card.sensitivity:.4f} < "
                             f"{min_sensitivity:.2f} at {card_threshold:.4f}; re-derived on "
                             "validation by the training rule",
                             compute_metrics(val_labels, val_int8, new))


def xnnpack_partitions(model_path: str | Path, num_threads: int = 1) -> dict[str, Any]:
    """How XNNPACK splits the main graph (subgraph 0) of a flatbuffer.

    LiteRT does not log "Replacing N out of M node(s) ... yielding K
    partitions" in release builds, so it is read from the nodes: K is the
    number of ``DELEGATE`` nodes; a node is delegated when one of its outputs
    is a delegate output or all its consumers are delegated nodes.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
    interpreter.allocate_tensors()
    signature = next((key for key in interpreter.get_signature_list()
                      if interpreter._interpreter.GetSubgraphIndexFromSignature(key) == 0), None)
    ops = interpreter._get_ops_details()
    delegates = [o for o in ops if o["op_name"] == "DELEGATE"]
    nodes = [o for o in ops if o["op_name"] != "DELEGATE"]
    d_out = {int(t) for o in delegates for t in o["outputs"]}
    d_in = {int(t) for o in delegates for t in o["inputs"]}
    graph_out = {int(t) for t in interpreter._interpreter.OutputIndices()}
    consumers: dict[int, list[int]] = {}
    for o in nodes:
        for t in o["inputs"]:
            consumers.setdefault(int(t), []).append(int(o["index"]))
    done = {int(o["index"]) for o in nodes if d_out & {int(t) for t in o["outputs"]}}
    changed = True
    while changed:
        changed = False
        for o in nodes:
            index, outs = int(o["index"]), [int(t) for t in o["outputs"]]
            if index in done or any(t in d_in or t in graph_out for t in outs):
                continue
            users = [c for t in outs for c in consumers.get(t, [])]
            if users and all(u in done for u in users):
                done.add(index)
                changed = True
    return {
        "subgraph": 0,
        "signature": signature,
        "nodes": len(nodes),
        "delegated_nodes": len(done),
        "partitions": len(delegates),
        "not_delegated": sorted({str(o["op_name"]) for o in nodes if int(o["index"]) not in done}),
    }
