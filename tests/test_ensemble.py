"""``pneumo ensemble``: runs merged into one logit-averaging model."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pneumo.errors import ModelError
from pneumo.model.card import CARD_FILENAME, ModelCard

pytest.importorskip("tensorflow")


def _logits(model: object, x: np.ndarray) -> np.ndarray:
    import keras

    assert isinstance(model, keras.Model)
    head = keras.Model(model.inputs[0], model.get_layer("logit").output)
    return np.asarray(head(x)).reshape(-1)


def test_merged_logit_is_the_mean_of_the_members_logits() -> None:
    import keras

    from train.ensemble import merge_members
    from train.models import build_model

    members = []
    for seed in (1, 2, 3):
        keras.utils.set_random_seed(seed)
        members.append(build_model("pneumonet", 64))
    x = np.random.default_rng(0).random((5, 64, 64, 1), dtype=np.float32)
    merged = merge_members(members)
    expected = np.mean([_logits(m, x) for m in members], axis=0)
    np.testing.assert_allclose(_logits(merged, x), expected, rtol=1e-4, atol=1e-5)
    probability = np.asarray(merged(x)).reshape(-1)
    np.testing.assert_allclose(probability, 1 / (1 + np.exp(-expected)), rtol=1e-4, atol=1e-6)
    assert merged.get_layer("last_conv").output.shape[-1] == 3 * 192
    assert merged.get_layer("embedding").output.shape[-1] == 3 * 192


def test_members_without_the_head_layers_are_refused() -> None:
    import keras

    from train.ensemble import merge_members

    inputs = keras.Input((16, 16, 1))
    plain = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)))
    with pytest.raises(ModelError, match="last_conv_relu"):
        merge_members([plain, plain])
    with pytest.raises(ModelError, match="at least two"):
        merge_members([plain])


@pytest.fixture(scope="module")
def second_run(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another tiny run on the same patient split, other initial weights."""
    from train.fit import TrainConfig, train

    run_dir = tmp_path_factory.mktemp("tiny_run_seed1")
    train(synthetic_dataset, run_dir, TrainConfig(input_size=64, epochs=2, batch_size=16,
                                                  learning_rate=3e-3, warmup_epochs=0,
                                                  seed=1, split_seed=0))
    return run_dir


def test_ensemble_run_converts_and_classifies(tiny_run: Path, second_run: Path,
                                              synthetic_dataset: Path, tmp_path: Path) -> None:
    from convert.cli import main as convert_main
    from pneumo.cli import main as pneumo_main
    from pneumo.films.imaging import load_image
    from pneumo.model.runner import ModelRunner

    out = tmp_path / "ensemble"
    assert pneumo_main(["ensemble", str(tiny_run), str(second_run), "--data",
                        str(synthetic_dataset), "--out", str(out)]) == 0
    card = ModelCard.load(out / CARD_FILENAME)
    members = [ModelCard.load(r / CARD_FILENAME) for r in (tiny_run, second_run)]
    assert card.architecture == "ensemble of 2 x pneumonet"
    assert [m["seed"] for m in card.training.members] == [0, 1]
    assert card.preprocessing == members[0].preprocessing
    assert (card.training.validation_file_list_sha256
            == members[0].training.validation_file_list_sha256)
    assert card.metrics["validation"].n == members[0].metrics["validation"].n
    assert (out / "history_member1.csv").is_file()
    assert json.loads((out / "evaluation.json").read_text())["test"]["n"] == card.metrics[
        "test"].n

    converted = tmp_path / "converted"
    assert convert_main([str(out / "model.keras"), "--out", str(converted), "--calibration",
                         str(synthetic_dataset), "--calibration-count", "24",
                         "--no-gate"]) == 0
    runner = ModelRunner(converted / "model.tflite")
    film = next((synthetic_dataset / "test" / "PNEUMONIA").glob("*.png"))
    prediction = runner.classify(load_image(film))
    assert 0.0 <= prediction.probability <= 1.0
    explain = ModelCard.load(converted / CARD_FILENAME).explain
    assert explain is not None and explain.feature_shape[-1] == 2 * 192


def test_members_with_different_validation_splits_are_refused(
        tiny_run: Path, synthetic_dataset: Path, tmp_path: Path) -> None:
    from train.ensemble import build_ensemble

    other = tmp_path / "other_split"
    shutil.copytree(tiny_run, other)
    card = ModelCard.load(other / CARD_FILENAME)
    training = dataclasses.replace(card.training, validation_file_list_sha256="0" * 64)
    card.with_updates(training=training).save(other / CARD_FILENAME)
    with pytest.raises(ModelError, match="validation split differs"):
        build_ensemble([tiny_run, other], synthetic_dataset, tmp_path / "out")
    assert not (tmp_path / "out").exists()
