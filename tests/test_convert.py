"""The conversion stage: int8 + float models, Grad-CAM signature, card, parity, gate.

The tiny pneumonet of the ``tiny_run`` fixture (really trained, 64 px) is
converted once per module through ``pneumo convert``'s ``main``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from convert.cli import main
from convert.explain import heatmap_agreement, plan_explain, reference_gradcam
from convert.parity import check_gate, int8_threshold, parity_report, xnnpack_partitions
from convert.pipeline import PARITY_JSON, enforce_gate
from pneumo.data.dataset import labels_of, list_examples, load_model_inputs
from pneumo.errors import ModelError, ModelIntegrityError, UsageError
from pneumo.evaluation.metrics import compute_metrics
from pneumo.model.bind import bind_folder
from pneumo.model.card import CARD_FILENAME, ModelCard, sha256_file
from pneumo.model.card_sections import FLOAT, INT8, KERAS
from pneumo.model.gradcam import Explainer, normalise_heatmap
from pneumo.model.locate import FLOAT_FILE, INT8_FILE
from pneumo.model.preprocess import Preprocessing
from pneumo.model.runner import ModelRunner

MIN_CORRELATION, MAX_ABS_DIFF = 0.99, 0.02


@pytest.fixture(scope="module")
def converted(tiny_run: Path, synthetic_dataset: Path,
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("converted")
    rc = main([str(tiny_run / "model.keras"), "--out", str(out), "--calibration",
               str(synthetic_dataset), "--calibration-count", "24", "--no-gate"])
    assert rc == 0
    return out


def _card(out: Path) -> ModelCard:
    return ModelCard.load(out / CARD_FILENAME)


def _keras(run: Path) -> Any:
    import keras

    return keras.models.load_model(run / "model.keras", compile=False)


def _assert_same_heatmaps(explainer: Explainer, model: Any, inputs: np.ndarray) -> None:
    refs = reference_gradcam(model, inputs)
    for x, ref in zip(inputs, refs):
        explanation = explainer.explain(x)
        assert np.isfinite(explanation.heatmap).all() and np.isfinite(explanation.embedding).all()
        assert 0.0 <= explanation.heatmap.min() and explanation.heatmap.max() <= 1.0
        corr, diff = heatmap_agreement(explanation.heatmap, normalise_heatmap(ref))
        assert corr >= MIN_CORRELATION and diff <= MAX_ABS_DIFF, (corr, diff)
        assert explanation.peak == pytest.approx(float(ref.max()), rel=1e-3, abs=1e-6)
    assert refs.max() > 0, "every reference map is empty: the comparison proves nothing"


# -- files, card, quantisation ---------------------------------------------------
def test_convert_writes_both_models_card_and_parity(converted: Path, tiny_run: Path) -> None:
    for name in (INT8_FILE, FLOAT_FILE, CARD_FILENAME, PARITY_JSON, "parity.md"):
        assert (converted / name).is_file(), name
    card = _card(converted)
    assert card.files == {n: sha256_file(converted / n) for n in (INT8_FILE, FLOAT_FILE)}
    training = ModelCard.load(tiny_run / CARD_FILENAME)
    assert card.preprocessing == training.preprocessing
    assert card.training == training.training
    assert card.parity is not None
    assert json.loads((converted / PARITY_JSON).read_text())["gate"] == card.parity.gate.to_dict()
    assert not list(converted.glob(".convert-*")), "staging folder left behind"


def test_int8_model_has_integer_input_and_no_float_layers(converted: Path) -> None:
    card = _card(converted)
    runner = ModelRunner(converted / INT8_FILE, card)
    assert runner.is_quantised and runner.input_dtype in (np.int8, np.uint8)
    q = card.quantisation
    assert q is not None
    assert q["input"]["dtype"] in ("int8", "uint8") and q["input"]["scale"] > 0
    assert q["float_ops"] == ["LOGISTIC"]  # only the final sigmoid, after the int8 logit
    assert q["output"]["dtype"] == "float32"


def test_float_model_has_classify_and_explain_signatures(converted: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    signatures = Interpreter(model_path=str(converted / FLOAT_FILE)).get_signature_list()
    assert set(signatures) == {"serving_default", "explain"}
    assert set(signatures["explain"]["outputs"]) == {"probability", "heatmap", "embedding"}
    assert ModelRunner(converted / FLOAT_FILE, _card(converted)).input_dtype == np.float32


def test_whole_graphs_run_in_one_xnnpack_partition(converted: Path) -> None:
    xnnpack = json.loads((converted / PARITY_JSON).read_text())["xnnpack"]
    for name in (INT8_FILE, FLOAT_FILE):
        assert xnnpack[name]["partitions"] == 1 and xnnpack[name]["not_delegated"] == [], name
    assert xnnpack[FLOAT_FILE]["signature"] == "explain"


@pytest.mark.parametrize("name", [INT8_FILE, FLOAT_FILE])
def test_a_changed_byte_is_refused(converted: Path, tmp_path: Path, name: str) -> None:
    copy = tmp_path / "assets"
    shutil.copytree(converted, copy)
    data = bytearray((copy / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / name).write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError):
        ModelRunner(copy / name)
    if name == FLOAT_FILE:
        with pytest.raises(ModelIntegrityError):
            Explainer(copy / name)


# -- parity and gate ---------------------------------------------------------------
def test_parity_report_on_the_synthetic_test_split(converted: Path,
                                                   synthetic_dataset: Path) -> None:
    report = json.loads((converted / PARITY_JSON).read_text())
    assert Path(report["data"]) == synthetic_dataset / "test"
    assert report["n"] == len(list_examples(synthetic_dataset / "test"))
    assert report["threshold"] == _card(converted).thresholds["model.keras"]
    assert set(report["metrics"]) == {KERAS, FLOAT, INT8}
    m = report["metrics"]
    assert report["max_abs_delta_probability"][FLOAT] < 1e-4
    assert report["agreement_with_keras"][FLOAT] == 1.0
    gate = report["gate"]
    assert gate["delta_auc"] == pytest.approx(m[INT8]["auc"] - m[FLOAT]["auc"])
    assert gate["delta_sensitivity"] == pytest.approx(
        m[INT8]["sensitivity"] - m[FLOAT]["sensitivity"])
    assert gate["passed"] == (abs(gate["delta_auc"]) <= 0.005
                              and abs(gate["delta_sensitivity"]) <= 0.01 + 1e-9)
    assert "| TFLite int8 |" in report["markdown"]
    check = report["gradcam_check"]
    assert check["min_correlation"] >= MIN_CORRELATION
    assert check["max_abs_difference"] <= MAX_ABS_DIFF


def _metrics(auc: float, sensitivity: float) -> Any:
    return compute_metrics(np.array([1, 0]), np.array([0.9, 0.1]), 0.5).__class__(
        n=100, accuracy=0.9, auc=auc, sensitivity=sensitivity, specificity=0.8, precision=0.9,
        f1=0.9, f2=0.9, threshold=0.5, tp=1, fp=1, tn=1, fn=1)


@pytest.mark.parametrize(("auc", "sens", "passed"), [
    (0.950, 0.950, True),
    (0.9455, 0.941, True),  # within 0.005 AUC and 1 point
    (0.9449, 0.950, False),  # AUC dropped by 0.0051
    (0.950, 0.939, False),  # sensitivity dropped by 1.1 points
    (0.956, 0.950, False),  # parity: a rise counts too
])
def test_gate_logic_on_fabricated_figures(auc: float, sens: float, passed: bool) -> None:
    gate = check_gate(_metrics(0.950, 0.950), _metrics(auc, sens))
    assert gate.passed is passed
    assert gate.to_dict()["passed"] is passed


def test_failed_gate_raises_with_the_figures_and_writes_parity(tmp_path: Path) -> None:
    y = np.array([0, 0, 1, 1, 1, 1])
    good = np.array([0.1, 0.2, 0.7, 0.8, 0.9, 0.95])
    bad = np.array([0.1, 0.2, 0.4, 0.8, 0.9, 0.95])  # loses a positive
    report = parity_report(y, {KERAS: good, FLOAT: good, INT8: bad}, 0.5, "fabricated")
    assert not report.gate.passed and report.agreement[INT8] == pytest.approx(5 / 6)
    with pytest.raises(ModelError, match=r"delta sensitivity -25\.00 points"):
        enforce_gate(report, tmp_path, "{}\n", gate=True)
    assert (tmp_path / PARITY_JSON).read_text() == "{}\n"
    enforce_gate(report, tmp_path / "off", "{}\n", gate=False)  # --no-gate: no error
    ok = parity_report(y, {KERAS: good, FLOAT: good, INT8: good}, 0.5, "fabricated")
    enforce_gate(ok, tmp_path / "ok", "{}\n", gate=True)


def test_int8_threshold_is_kept_or_rederived_on_validation() -> None:
    y = np.array([0, 0, 0, 1, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.35, 0.6, 0.7, 0.8])
    kept = int8_threshold(0.3, 0.75, y, p)
    assert not kept.rederived and kept.threshold == 0.3
    moved = int8_threshold(0.5, 0.95, y, p)
    assert moved.rederived and moved.threshold == pytest.approx(0.35)
    assert moved.validation is not None and moved.validation.sensitivity == 1.0
    assert not int8_threshold(0.5, 0.95, None, None).rederived


def test_convert_without_calibration_data_is_a_usage_error(tiny_run: Path,
                                                           tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--calibration"):
        main([str(tiny_run / "model.keras"), "--out", str(tmp_path)])


# -- Grad-CAM ------------------------------------------------------------------
def test_explain_equals_gradient_tape_gradcam_on_synthetic_films(
        converted: Path, tiny_run: Path, synthetic_dataset: Path) -> None:
    card = _card(converted)
    examples = list_examples(synthetic_dataset / "test")
    inputs = load_model_inputs([e.path for e in examples], card.preprocessing)
    explainer = Explainer(converted / FLOAT_FILE)
    assert explainer.heatmap_shape == (2, 2)  # 64 px / 32
    _assert_same_heatmaps(explainer, _keras(tiny_run), inputs)
    probs = np.array([explainer.explain(x).probability for x in inputs])
    keras_probs = ModelRunner(converted / FLOAT_FILE).predict_batch(inputs)
    np.testing.assert_allclose(probs, keras_probs, atol=1e-5)
    assert labels_of(examples).any()


def test_explain_equals_gradient_tape_gradcam_on_real_films(
        converted: Path, tiny_run: Path, real_test_films: list[Path]) -> None:
    card = _card(converted)
    inputs = load_model_inputs(real_test_films, card.preprocessing)
    explainer = Explainer(converted / FLOAT_FILE)
    refs = reference_gradcam(_keras(tiny_run), inputs)
    for x, ref in zip(inputs, refs):
        corr, diff = heatmap_agreement(explainer.explain(x).heatmap, normalise_heatmap(ref))
        assert corr >= MIN_CORRELATION and diff <= MAX_ABS_DIFF, (corr, diff)


def test_explainer_refuses_a_model_without_explain(converted: Path) -> None:
    with pytest.raises(ModelError, match="explain"):
        Explainer(converted / INT8_FILE)


def test_pneumonet_feature_maps_are_the_relu_after_last_conv(tiny_run: Path) -> None:
    model = _keras(tiny_run)
    plan = plan_explain(model)
    assert plan.feature_layer == "last_conv_relu"
    # Keras numbers unnamed layers per session, so compare the head by layer type
    kinds = [type(model.get_layer(name)).__name__ for name in plan.head]
    assert kinds == ["GlobalAveragePooling2D", "Dropout", "Dense"]
    assert (plan.head[0], plan.head[-1]) == ("embedding", "logit")


def _trained_seed(data: Path, size: int = 64) -> Any:
    import keras

    from train.models import build_model

    keras.utils.set_random_seed(3)
    model = build_model("seed", size)
    examples = list_examples(data / "train")
    x = load_model_inputs([e.path for e in examples], Preprocessing(input_size=size))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    model.fit(x, labels_of(examples), batch_size=16, epochs=3, verbose=0)
    return model


def test_seed_architecture_converts_with_explain(synthetic_dataset: Path,
                                                 tmp_path: Path) -> None:
    """Flatten + Dense-ReLU head: the hand-written backward pass, builtin ops only."""
    from convert.tflite import convert_float

    model = _trained_seed(synthetic_dataset)
    plan = plan_explain(model)
    # Keras numbers unnamed layers per session (flatten, flatten_1, ...)
    assert plan.feature_layer == "last_conv"
    assert any(name.startswith("flatten") for name in plan.head)
    path = tmp_path / FLOAT_FILE
    path.write_bytes(convert_float(model, plan=plan))
    card = ModelCard(name="seed", architecture="seed", preprocessing=Preprocessing(64),
                     files={FLOAT_FILE: sha256_file(path)})
    card.save(tmp_path / CARD_FILENAME)
    bind_folder(tmp_path)  # what convert does: the model file carries its card's fields
    assert xnnpack_partitions(path)["partitions"] == 1
    examples = list_examples(synthetic_dataset / "test")
    inputs = load_model_inputs([e.path for e in examples], card.preprocessing)
    explainer = Explainer(path)
    assert explainer.heatmap_shape == (12, 12)
    _assert_same_heatmaps(explainer, model, inputs)


def test_unsupported_head_is_refused_loudly() -> None:
    import keras

    from convert.explain import make_explain_fn

    inputs = keras.Input((16, 16, 1), name="image")
    x = keras.layers.Conv2D(4, 3, name="last_conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="embedding")(x)
    x = keras.layers.Dense(4, activation="tanh")(x)
    x = keras.layers.Dense(1, name="logit")(x)
    model = keras.Model(inputs, keras.layers.Activation("sigmoid", name="probability")(x))
    fn = make_explain_fn(model)
    with pytest.raises(ModelError, match="tanh"):
        fn(np.zeros((1, 16, 16, 1), np.float32))
    with pytest.raises(ModelError, match="last_conv"):
        plan_explain(keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                       keras.layers.Dense(1, name="logit")]))


# -- benchmark -------------------------------------------------------------------
def test_bench_prints_a_table(converted: Path, tiny_run: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_models", Path(__file__).resolve().parents[1] / "bench" / "bench_models.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_models", bench)  # dataclasses look it up
    spec.loader.exec_module(bench)
    assert bench.main(["--models", str(converted), "--keras", str(tiny_run / "model.keras"),
                       "--runs", "3", "--warmup", "1"]) == 0
    out = capsys.readouterr().out
    for task in ("classify", "explain", "keras predict", "keras model(x)"):
        assert f"| {task} |" in out
    assert out.count(f"| {INT8_FILE} |") == 2 and out.count(f"| {FLOAT_FILE} |") == 4
