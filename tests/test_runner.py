"""ModelRunner: LiteRT inference matches Keras, and bad models are refused."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from pneumo.errors import ModelError, ModelIntegrityError, ModelNotFoundError
from pneumo.films.imaging import ImageMetadata, LoadedImage
from pneumo.model.card import CARD_FILENAME, ModelCard
from pneumo.model.preprocess import Preprocessing, preprocess
from pneumo.model.runner import ModelRunner, Prediction, tflite_input_spec
from tests.tinymodel import (
    build_multi_output_tflite,
    keras_predict,
    synthetic_batch,
)

pytest.importorskip("tensorflow")


@pytest.fixture()
def model_copy(float_model: Path, tmp_path: Path) -> Path:
    """A private copy of the float model folder, free to tamper with."""
    dest = tmp_path / "model"
    shutil.copytree(float_model.parent, dest)
    return dest / float_model.name


def _inputs(n: int = 8) -> np.ndarray:
    images, _ = synthetic_batch(n, 64, seed=5)
    return images


def test_float_model_matches_keras(float_model: Path) -> None:
    runner = ModelRunner(float_model)
    x = _inputs()
    lite = runner.predict_batch(x)
    keras = keras_predict(float_model.parent, x)
    assert lite.shape == (len(x),)
    np.testing.assert_allclose(lite, keras, atol=1e-4)
    assert lite.std() > 0.05, "the tiny model should not be constant"
    assert runner.predict(x[3]) == pytest.approx(lite[3], abs=1e-6)
    assert runner.input_dtype == np.float32 and not runner.is_quantised
    assert runner.input_size == 64 and runner.model_path == float_model


def test_int8_model_matches_keras(int8_model: Path) -> None:
    runner = ModelRunner(int8_model)
    assert runner.input_dtype == np.int8 and runner.is_quantised
    x = _inputs()
    lite = runner.predict_batch(x)
    np.testing.assert_allclose(lite, keras_predict(int8_model.parent, x), atol=0.05)
    assert np.all((lite >= 0.0) & (lite <= 1.0))
    assert runner.predict(x[0]) == pytest.approx(lite[0], abs=1e-6)


def test_predict_batch_empty_and_wrong_shapes(float_model: Path) -> None:
    runner = ModelRunner(float_model)
    assert runner.predict_batch(np.zeros((0, 64, 64, 1), np.float32)).shape == (0,)
    with pytest.raises(ValueError):
        runner.predict(np.zeros((32, 32, 1), np.float32))
    with pytest.raises(ValueError):
        runner.predict_batch(np.zeros((2, 64, 64), np.float32))


def test_classify_preprocesses_as_the_card_says(float_model: Path) -> None:
    runner = ModelRunner(float_model)
    rng = np.random.default_rng(1)
    pixels = rng.random((300, 250)).astype(np.float32)
    image = LoadedImage(Path("x.png"), pixels, ImageMetadata("PNG", 250, 300))
    pred = runner.classify(image)
    assert isinstance(pred, Prediction)
    expected = runner.predict(preprocess(image, runner.card.preprocessing))
    assert pred.probability == pytest.approx(expected)
    assert pred.threshold == runner.card.threshold
    assert pred.label == runner.card.label_for(expected)
    assert runner.classify(image, threshold=0.0).label == "PNEUMONIA"
    assert runner.classify(image, threshold=1.0).label == "NORMAL"


def test_wrong_input_size_is_rejected(float_model: Path) -> None:
    card = ModelCard.load(float_model.parent / CARD_FILENAME)
    wrong = card.with_updates(preprocessing=Preprocessing(input_size=32))
    with pytest.raises(ModelIntegrityError, match="edited since .* preprocessing"):
        ModelRunner(float_model, wrong)  # the card no longer matches the model's binding
    with pytest.raises(ModelError, match=r"input has shape \(1, 64, 64, 1\).*\(1, 32, 32, 1\)"):
        ModelRunner(float_model, wrong, verify=False)


def test_tampered_model_is_refused(model_copy: Path) -> None:
    data = bytearray(model_copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_copy.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError) as info:
        ModelRunner(model_copy)
    assert str(info.value) == (
        f"{model_copy}: sha256 does not match its model card; the file was changed or corrupted"
    )


def test_garbage_file_is_a_model_error(model_copy: Path) -> None:
    model_copy.write_bytes(b"this is not a flatbuffer " * 40)
    card = ModelCard.load(model_copy.parent / CARD_FILENAME)
    with pytest.raises(ModelError, match=re.escape(str(model_copy))) as info:
        ModelRunner(model_copy, card, verify=False)
    assert not isinstance(info.value, ModelIntegrityError)
    with pytest.raises(ModelError, match="not a loadable LiteRT model"):
        tflite_input_spec(model_copy)


def test_missing_model_and_missing_card(model_copy: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="model file not found"):
        ModelRunner(tmp_path / "nope.tflite")
    (model_copy.parent / CARD_FILENAME).unlink()
    with pytest.raises(ModelError, match="model card not found"):
        ModelRunner(model_copy)


def test_a_model_without_card_entry_is_refused(model_copy: Path) -> None:
    card = ModelCard.load(model_copy.parent / CARD_FILENAME)
    wrong = card.with_updates(files={model_copy.name: "0" * 64})
    with pytest.raises(ModelIntegrityError):
        ModelRunner(model_copy, wrong)
    ModelRunner(model_copy, wrong, verify=False)  # loads
    with pytest.raises(ModelIntegrityError, match="not listed in its model card"):
        ModelRunner(model_copy, card.with_updates(files={}))  # fails closed


def test_input_spec_reports_dtype_and_shape(float_model: Path, int8_model: Path) -> None:
    assert tflite_input_spec(float_model) == (np.dtype(np.float32), (1, 64, 64, 1))
    assert tflite_input_spec(int8_model)[0] == np.dtype(np.int8)


def test_extra_outputs_pick_the_probability(float_model: Path, tmp_path: Path) -> None:
    multi = build_multi_output_tflite(float_model.parent, tmp_path / "multi.tflite")
    card = ModelCard.load(float_model.parent / CARD_FILENAME)
    runner = ModelRunner(multi, card, verify=False)  # an ad-hoc export the card does not list
    x = _inputs(4)
    np.testing.assert_allclose(
        runner.predict_batch(x), ModelRunner(float_model).predict_batch(x), atol=1e-5
    )


def test_each_model_file_uses_its_own_threshold(tmp_path: Path) -> None:
    from pneumo.model.card import ModelCard
    from pneumo.model.preprocess import Preprocessing

    card = ModelCard(name="t", architecture="a", preprocessing=Preprocessing(input_size=64),
                     threshold=0.8,
                     thresholds={"model.tflite": 0.8, "model_float.tflite": 0.9})
    assert card.threshold_for("model.tflite") == 0.8
    assert card.threshold_for(tmp_path / "model_float.tflite") == 0.9
    assert card.threshold_for("other.tflite") == 0.8
