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
from pathlib import Path
from typing import Any

import numpy as np

from pneumo.errors import ModelError
from pneumo.evaluation.metrics import BinaryMetrics, choose_threshold, compute_metrics
from pneumo.model.card_sections import (
    FLOAT,
    INT8,
    KERAS,
    MAX_DELTA_AUC,
    MAX_DELTA_SENSITIVITY,
    GateResult,
    ParityReport,
    ThresholdDecision,
)

_EPS = 1e-9

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


def parity_report(labels: np.ndarray, probabilities: Mapping[str, np.ndarray],
                  threshold: float, data: str, details: dict[str, Any] | None = None,
                  int8_at_own_threshold: BinaryMetrics | None = None) -> ParityReport:
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
                        int8_at_own_threshold, dict(details or {}))


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
