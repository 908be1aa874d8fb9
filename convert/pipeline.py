"""The conversion pipeline behind ``pneumo convert`` (the CLI is :mod:`convert.cli`).

Writes to DIR: ``model.tflite`` (full-integer int8, calibrated on real
training images), ``model_float.tflite`` (float32, signatures
``serving_default`` and ``explain``), ``model_card.json`` (the training card
plus file sha256s, quantisation, parity report and int8 threshold),
``parity.json`` and ``parity.md``. Each model file carries the card's decision
fields in its metadata (:mod:`pneumo.model.binding`), so that a later edit of
the card is refused at load. The models are built in a staging folder
and moved into DIR only when the int8 parity gate passes; on failure only
``parity.json`` is written and a :class:`~pneumo.errors.ModelError` says why.

Choices, measured on a pneumonet checkpoint (224 px, official test split, 624
films; float AUC 0.9480):

* int8 body with a float32 sigmoid (default): AUC 0.9480, sensitivity -0.26
  points, max abs delta p 0.08; gate passed. With ``--int8-probability`` (an
  int8 output has 256 levels) 53% of the films tie at the top level and AUC
  drops to 0.9341 (merely rounding the float probability to 1/256 gives
  0.9363): gate failed. The float tail is one scalar op, same latency.
* int8 vs uint8 input: identical metrics; latency within noise (0.97-1.14 ms,
  1 thread); uint8 adds a QUANTIZE op, so int8 is the default.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pneumo.data.dataset import (
    Example,
    Splits,
    card_training_split,
    labels_of,
    list_examples,
    load_model_inputs,
    sample,
)
from pneumo.errors import DataError, ModelError, UsageError
from pneumo.model.bind import bind_files
from pneumo.model.card import CARD_FILENAME, ModelCard, sha256_file
from pneumo.model.card_sections import ExplainSpec, ModelFiles, ParityReport, ThresholdDecision
from pneumo.model.locate import FLOAT_FILE, INT8_FILE, KERAS_FILE
from pneumo.util.atomic import write_text_atomic

PARITY_JSON, PARITY_MD = "parity.json", "parity.md"
GRADCAM_CHECK_IMAGES = 8


@dataclass(frozen=True)
class ConvertOptions:
    """Everything ``pneumo convert`` was asked to do."""

    model: Path
    out: Path
    calibration: Path
    calibration_count: int = 300
    parity_data: Path | None = None
    card: Path | None = None
    gate: bool = True
    io_dtype: str = "int8"
    float_sigmoid: bool = True
    num_threads: int = 2
    workers: int = 2


def find_splits(options: ConvertOptions, card: ModelCard) -> Splits:
    """The training card's patient split of the calibration folder, and parity data."""
    data = options.calibration
    train, val = card_training_split(data, card)
    if options.parity_data is not None:
        root = options.parity_data
        source = root / "test" if (root / "test").is_dir() else root
    elif (data / "test").is_dir():
        source = data / "test"
    else:
        raise UsageError(f"{data} has no test/ folder: pass --parity-data DATA_DIR")
    if not train:
        raise DataError(f"{data}: no training images for calibration")
    return Splits(train, val, list_examples(source, card.labels), source)


def convert_model(options: ConvertOptions) -> ModelCard:
    """Convert, check parity and the gate, write the output folder; return the new card."""
    from convert import tflite
    from convert.explain import plan_explain

    card = ModelCard.load(options.card or options.model.parent / CARD_FILENAME)
    model = tflite.load_keras_model(options.model)
    if tflite.input_size_of(model) != card.input_size:
        raise ModelError(f"{options.model}: input is {tflite.input_size_of(model)} px but its "
                         f"card says {card.input_size}")
    splits = find_splits(options, card)
    calibration = sample(splits.train, options.calibration_count, card.split.sampling_seed)
    x_cal = load_model_inputs([e.path for e in calibration], card.preprocessing, options.workers)
    plan = plan_explain(model)
    float_bytes = tflite.convert_float(model, plan=plan)
    int8_bytes = tflite.convert_int8(model, x_cal, options.io_dtype, options.float_sigmoid)
    quantisation = tflite.quantisation_of(int8_bytes)
    allowed = ("LOGISTIC",) if options.float_sigmoid else ()
    if quantisation.float_ops != allowed:
        raise ModelError(f"int8 conversion left float ops {list(quantisation.float_ops)} "
                         f"(expected {list(allowed)})")
    options.out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=options.out))
    try:
        (staging / INT8_FILE).write_bytes(int8_bytes)
        (staging / FLOAT_FILE).write_bytes(float_bytes)
        files = {n: sha256_file(staging / n) for n in (INT8_FILE, FLOAT_FILE)}
        staged = card.with_updates(files=files)
        report, decision = _check(model, staging, staged, splits, options)
        new_card = staged.with_updates(
            threshold=decision.threshold,
            models=ModelFiles(classify=INT8_FILE, explain=FLOAT_FILE,
                              keras=card.models.keras or KERAS_FILE),
            quantisation=quantisation.to_dict(),
            int8_threshold=decision,
            thresholds={INT8_FILE: decision.threshold, FLOAT_FILE: card.threshold,
                        card.models.keras or KERAS_FILE: card.threshold},
            explain=ExplainSpec(tflite.EXPLAIN, plan.feature_layer, tuple(plan.feature_shape)),
            conversion=_provenance(calibration, splits, options),
            parity=report,
        )
        new_card = bind_files(staging, new_card, (INT8_FILE, FLOAT_FILE))
        report = new_card.parity or report
        text = json.dumps({**report.to_dict(), "markdown": report.markdown()}, indent=2) + "\n"
        enforce_gate(report, options.out, text, options.gate)
        new_card.save(staging / CARD_FILENAME)
        write_text_atomic(staging / PARITY_JSON, text)
        write_text_atomic(staging / PARITY_MD, report.markdown() + "\n")
        for name in (INT8_FILE, FLOAT_FILE, PARITY_JSON, PARITY_MD, CARD_FILENAME):
            os.replace(staging / name, options.out / name)
        return new_card
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def enforce_gate(report: ParityReport, out: Path, parity_text: str, gate: bool) -> None:
    """Raise :class:`ModelError` with the figures when ``gate`` is on and int8 fails it.

    ``parity_text`` (the ``parity.json`` content) is written to ``out`` first,
    so that the figures can be inspected.
    """
    if gate and not report.gate.passed:
        write_text_atomic(out / PARITY_JSON, parity_text)
        raise ModelError(f"int8 parity gate failed on {report.data}: {report.gate.describe()}; "
                         f"wrote only {out / PARITY_JSON} (--no-gate writes the models anyway)")


def _check(model: Any, staging: Path, card: ModelCard, splits: Splits,
           options: ConvertOptions) -> tuple[ParityReport, ThresholdDecision]:
    from convert.explain import heatmap_agreement, reference_gradcam
    from convert.parity import (
        FLOAT,
        INT8,
        KERAS,
        int8_threshold,
        parity_report,
        xnnpack_partitions,
    )
    from pneumo.model.gradcam import Explainer, normalise_heatmap
    from pneumo.model.runner import ModelRunner

    spec = card.preprocessing
    x = load_model_inputs([e.path for e in splits.test], spec, options.workers)
    y = labels_of(splits.test)
    # Not bound yet (the int8 threshold is decided here): loaded unchecked, from staging.
    int8 = ModelRunner(staging / INT8_FILE, card, num_threads=options.num_threads, verify=False)
    flt = ModelRunner(staging / FLOAT_FILE, card, num_threads=options.num_threads, verify=False)
    probs = {KERAS: np.asarray(model.predict(x, batch_size=32, verbose=0)).reshape(-1),
             FLOAT: flt.predict_batch(x), INT8: int8.predict_batch(x)}
    explainer = Explainer(staging / FLOAT_FILE, card, num_threads=options.num_threads,
                          verify=False)
    few = x[:GRADCAM_CHECK_IMAGES]
    ours = [explainer.explain(img) for img in few]
    refs = reference_gradcam(model, few)
    agreement = [heatmap_agreement(e.heatmap, normalise_heatmap(r)) for e, r in zip(ours, refs)]
    x_val = load_model_inputs([e.path for e in splits.val], spec, options.workers)
    y_val = labels_of(splits.val)
    decision = int8_threshold(card.threshold, card.training.min_sensitivity, y_val,
                              int8.predict_batch(x_val) if len(x_val) else None)
    details: dict[str, Any] = {
        "xnnpack": {n: xnnpack_partitions(staging / n) for n in (INT8_FILE, FLOAT_FILE)},
        "gradcam_check": {
            "images": len(few),
            "min_correlation": min((a[0] for a in agreement), default=1.0),
            "max_abs_difference": max((a[1] for a in agreement), default=0.0),
            "explain_probability_max_abs_delta": max(
                (abs(e.probability - p) for e, p in zip(ours, probs[FLOAT])), default=0.0),
        },
        "files": {n: {"bytes": (staging / n).stat().st_size, "sha256": card.files[n]}
                  for n in (INT8_FILE, FLOAT_FILE)},
    }
    own = None
    if decision.rederived:
        from pneumo.evaluation.metrics import compute_metrics

        own = compute_metrics(y, probs[INT8], decision.threshold)
    report = parity_report(y, probs, card.threshold, str(splits.test_source), details, own)
    check = details["gradcam_check"]
    if check["min_correlation"] < 0.99 or check["max_abs_difference"] > 0.02:
        raise ModelError(f"explain signature disagrees with tf.GradientTape Grad-CAM: {check}")
    return report, decision


def _provenance(calibration: list[Example], splits: Splits,
                options: ConvertOptions) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    import keras
    import tensorflow as tf

    try:
        litert = version("ai-edge-litert")
    except PackageNotFoundError:
        litert = "unknown"
    return {
        "source_model": str(options.model),
        "calibration": {"images": len(calibration), "from": str(options.calibration),
                        "split": "training side of the card's patient split",
                        "pneumonia": int(sum(e.label for e in calibration))},
        "validation_images": len(splits.val),
        "io_dtype": options.io_dtype,
        "software": {"tensorflow": tf.__version__, "keras": keras.__version__,
                     "ai_edge_litert": litert},
    }
