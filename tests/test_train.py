"""Training stage: architectures, patient split, one-epoch runs, same inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pneumo.data.dataset import list_examples, load_model_inputs, patient_id, patient_split
from pneumo.films.imaging import load_image
from pneumo.model.card import ModelCard
from pneumo.model.preprocess import Preprocessing, preprocess

tf = pytest.importorskip("tensorflow")


def test_patient_ids_follow_kermany_names() -> None:
    assert patient_id("person123_bacteria_456.jpeg") == "person123"
    assert patient_id("person1_virus_6.jpeg") == "person1"
    assert patient_id("IM-0115-0001.jpeg") == "IM-0115"
    assert patient_id("NORMAL2-IM-1427-0001.jpeg") == "NORMAL2-IM-1427"
    assert patient_id("odd name.png") == "odd name"


def _assert_disjoint_and_stratified(examples: list, val_fraction: float) -> None:
    train, val = patient_split(examples, val_fraction=val_fraction, seed=3)
    assert len(train) + len(val) == len(examples)
    assert not {e.patient for e in train} & {e.patient for e in val}
    for label in (0, 1):
        share = sum(e.label == label for e in val) / sum(e.label == label for e in examples)
        assert abs(share - val_fraction) < 0.1
    again = patient_split(examples, val_fraction=val_fraction, seed=3)
    assert [e.path for e in again[1]] == [e.path for e in val]


def test_patient_split_never_shares_a_patient_synthetic(synthetic_dataset: Path) -> None:
    _assert_disjoint_and_stratified(list_examples(synthetic_dataset / "train"), 0.25)


def test_patient_split_never_shares_a_patient_real(chest_xray_dir: Path) -> None:
    examples = list_examples(chest_xray_dir / "train")
    assert len(examples) == 5216
    _assert_disjoint_and_stratified(examples, 0.15)


@pytest.mark.parametrize("arch", ["vgg16", "vgg19", "resnet50", "inceptionv3", "efficientnetb1"])
def test_transfer_backbones_build_small_without_weights(arch: str) -> None:
    from train.models import build_model

    model = build_model(arch, input_size=75)
    assert model.input_shape == (None, 75, 75, 1)
    assert model.output_shape == (None, 1)
    out = model(np.zeros((1, 75, 75, 1), np.float32))
    assert 0.0 <= float(out[0, 0]) <= 1.0


def test_missing_backbone_weights_file_is_a_clear_error(tmp_path: Path) -> None:
    from pneumo.errors import ModelError
    from train.models import build_model

    with pytest.raises(ModelError, match="not found"):
        build_model("vgg16", input_size=32, weights=str(tmp_path / "missing.h5"))


def test_default_model_is_small_with_gap_head() -> None:
    from train.models import build_model

    model = build_model("pneumonet")
    assert model.count_params() <= 1_000_000
    assert model.input_shape == (None, 224, 224, 1)
    assert type(model.get_layer("embedding")).__name__ == "GlobalAveragePooling2D"


def test_tiny_default_run_writes_card_history_and_plots(tiny_run: Path) -> None:
    card = ModelCard.load(tiny_run / "model_card.json")
    assert card.architecture == "pneumonet"
    assert card.input_size == 64
    assert set(card.metrics) == {"validation", "test", "test_at_0.5"}
    assert card.metrics["validation"].sensitivity >= 0.95  # the threshold rule
    assert card.training.fit_wall_time_s > 0
    assert len(card.training.train_file_list_sha256) == 64
    assert (tiny_run / "model.keras").is_file()
    history = (tiny_run / "history.csv").read_text().splitlines()
    assert len(history) == 1 + card.training.epochs_run
    for plot in ("learning_curves", "roc_test", "confusion_test"):
        assert (tiny_run / "plots" / f"{plot}.png").stat().st_size > 1000
    evaluation = json.loads((tiny_run / "evaluation.json").read_text())
    assert evaluation["test"]["n"] == 16


def test_tiny_model_learns_the_synthetic_task(tiny_run: Path) -> None:
    card = ModelCard.load(tiny_run / "model_card.json")
    assert card.metrics["test"].auc > 0.8


def test_seed_architecture_trains_one_epoch(synthetic_dataset: Path, tmp_path: Path) -> None:
    from train.fit import TrainConfig, train

    card = train(synthetic_dataset, tmp_path, TrainConfig(
        architecture="seed", input_size=64, epochs=1, batch_size=16, warmup_epochs=0))
    assert card.architecture == "seed"
    assert card.training.epochs_run == 1
    assert 0.0 <= card.metrics["test"].auc <= 1.0
    assert (tmp_path / "model.keras").is_file()


def test_evaluate_keras_model_matches_training_report(tiny_run: Path,
                                                      synthetic_dataset: Path) -> None:
    from pneumo.evaluation.evaluate import evaluate
    from train.predict import load_keras_predictor

    result = evaluate(synthetic_dataset, tiny_run / "model.keras",
                      keras_loader=load_keras_predictor)
    card = ModelCard.load(tiny_run / "model_card.json")
    assert result.metrics.n == card.metrics["test"].n
    assert result.metrics.auc == pytest.approx(card.metrics["test"].auc, abs=1e-6)
    assert result.metrics.tp == card.metrics["test"].tp


@pytest.mark.parametrize("contrast", ["none", "equalize"])
def test_training_inputs_equal_app_inputs(synthetic_dataset: Path, contrast: str) -> None:
    paths = sorted((synthetic_dataset / "test" / "PNEUMONIA").glob("*.png"))[:4]
    spec = Preprocessing(input_size=64, contrast=contrast)
    batch = load_model_inputs(paths, spec, workers=2)
    for i, path in enumerate(paths):
        np.testing.assert_array_equal(batch[i], preprocess(load_image(path), spec))


def test_scan_feeds_the_model_what_training_fed_it(synthetic_dataset: Path,
                                                   tmp_path: Path) -> None:
    """The app's path (scan -> runner) and the training pipeline's cached
    arrays are the same arrays for the same files."""
    from pneumo.model.runner import ModelRunner
    from pneumo.scanning.pipeline import scan
    from tests.tinymodel import cached_tiny_tflite

    model_path = cached_tiny_tflite(tmp_path, input_size=64)
    runner = ModelRunner(model_path)
    seen: list[np.ndarray] = []
    original = runner.predict

    def recording_predict(model_input: np.ndarray) -> float:
        seen.append(np.array(model_input, copy=True))
        return original(model_input)

    runner.predict = recording_predict  # type: ignore[method-assign]
    paths = sorted((synthetic_dataset / "test" / "NORMAL").glob("*.png"))[:3]
    records = list(scan(paths, runner, workers=2))
    assert all(r.error is None for r in records)
    training_inputs = load_model_inputs(paths, runner.card.preprocessing)
    assert len(seen) == len(paths)
    for got, expected in zip(seen, training_inputs, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_interrupted_training_resumes_from_its_backup(synthetic_dataset: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from train import fit

    config = fit.TrainConfig(input_size=64, epochs=3, batch_size=16, warmup_epochs=0)
    real_end = fit.EpochLine.on_epoch_end

    def interrupt_after_epoch_two(self: fit.EpochLine, epoch: int, logs: dict | None = None) -> None:
        real_end(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(fit.EpochLine, "on_epoch_end", interrupt_after_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        fit.train(synthetic_dataset, tmp_path, config)
    assert (tmp_path / "checkpoints" / "backup").exists()
    monkeypatch.setattr(fit.EpochLine, "on_epoch_end", real_end)
    capsys.readouterr()
    card = fit.train(synthetic_dataset, tmp_path, config)
    out = capsys.readouterr().out
    assert "resuming from" in out
    assert "epoch 1/3" not in out and "epoch 3/3" in out  # only the missing epoch ran
    rows = (tmp_path / "history.csv").read_text().splitlines()
    assert len(rows) == 1 + 3  # header + epochs 1..3, nothing repeated
    assert card.training.epochs_run == 3


def test_mirrored_strategy_trains(synthetic_dataset: Path, tmp_path: Path) -> None:
    from train.fit import TrainConfig, train

    card = train(synthetic_dataset, tmp_path, TrainConfig(
        input_size=64, epochs=1, batch_size=16, warmup_epochs=0, strategy="mirrored"))
    assert card.training.config["strategy"] == "mirrored"
    assert (tmp_path / "model.keras").is_file()


def test_split_seed_alone_decides_the_validation_split(synthetic_dataset: Path) -> None:
    """Runs with other weight seeds share a split (so they can be compared or
    combined); another split seed gives another split."""
    pytest.importorskip("tensorflow")
    from train.fit import TrainConfig, find_splits

    def names(config: TrainConfig) -> set[str]:
        return {e.path.name for e in find_splits(synthetic_dataset, config).val}

    base = names(TrainConfig(seed=0, split_seed=0))
    assert names(TrainConfig(seed=7, split_seed=0)) == base
    assert any(names(TrainConfig(seed=0, split_seed=s)) != base for s in (1, 2, 3))


def test_new_runs_equalise_by_default(tiny_run: Path) -> None:
    card = ModelCard.load(tiny_run / "model_card.json")
    assert card.preprocessing.contrast == "equalize"
    assert card.training.config["split_seed"] == 0


@pytest.mark.parametrize("strength", ["standard", "strong", "wide"])
def test_augmentation_moves_training_films_only(strength: str) -> None:
    from train.pipeline import augmenter

    films = np.stack([np.tile(np.linspace(0.1, 0.9, 64, dtype=np.float32), (64, 1))] * 4)[..., None]
    augment = augmenter(seed=1, strength=strength)
    np.testing.assert_array_equal(np.asarray(augment(films, training=False)), films)
    moved = np.asarray(augment(films, training=True))
    assert moved.shape == films.shape
    assert np.abs(moved - films).mean() > 0.005


def test_wide_augmentation_moves_films_further_than_standard() -> None:
    from train.pipeline import augmenter

    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32) / 64
    spot = np.exp(-(((xx - 0.5) / 0.1) ** 2 + ((yy - 0.5) / 0.1) ** 2))
    films = np.repeat(spot[None, ..., None], 64, axis=0)

    def centre_shift(strength: str) -> float:
        out = np.asarray(augmenter(seed=2, strength=strength)(films, training=True))[..., 0]
        mass = np.clip(out - np.median(out, axis=(1, 2), keepdims=True), 0, None)
        cy = (mass * yy).sum(axis=(1, 2)) / mass.sum(axis=(1, 2))
        cx = (mass * xx).sum(axis=(1, 2)) / mass.sum(axis=(1, 2))
        return float(np.mean(np.hypot(cy - 0.5, cx - 0.5)))

    assert centre_shift("wide") > 1.5 * centre_shift("standard")


def test_unknown_augmentation_is_refused() -> None:
    from train.pipeline import augmenter

    with pytest.raises(ValueError, match="unknown augmentation"):
        augmenter(seed=0, strength="extreme")


def test_ema_run_ships_the_weights_it_validated(synthetic_dataset: Path, tmp_path: Path) -> None:
    """With --ema, validation, the best checkpoint and the exported model all
    use the averaged weights: the exported model reproduces the validation
    loss the history recorded at the best epoch."""
    import csv

    import keras

    from train import fit

    config = fit.TrainConfig(input_size=64, epochs=3, batch_size=16, learning_rate=3e-3,
                             warmup_epochs=0, ema=0.9)
    card = fit.train(synthetic_dataset, tmp_path, config)
    assert card.training.config["ema"] == 0.9
    history = list(csv.DictReader((tmp_path / "history.csv").open()))
    best = int(np.argmax([float(r["val_auc"]) for r in history]))
    splits = fit.find_splits(synthetic_dataset, config)
    x_val = load_model_inputs([e.path for e in splits.val], card.preprocessing)
    y_val = np.array([e.label for e in splits.val], dtype=np.float32)
    model = keras.models.load_model(tmp_path / "model.keras")
    p_val = model.predict(x_val, verbose=0).reshape(-1)
    loss = float(keras.losses.BinaryCrossentropy()(y_val, p_val))
    assert loss == pytest.approx(float(history[best]["val_loss"]), rel=1e-3, abs=1e-4)


def test_ema_momentum_out_of_range_is_refused(synthetic_dataset: Path, tmp_path: Path) -> None:
    from pneumo.errors import UsageError
    from train import fit

    with pytest.raises(UsageError, match="momentum"):
        fit.train(synthetic_dataset, tmp_path, fit.TrainConfig(input_size=64, epochs=1, ema=1.0))


def test_framing_variants_are_seeded_framed_copies_of_the_raw_films(
        synthetic_dataset: Path) -> None:
    from train.pipeline import framing_variants

    paths = [e.path for e in list_examples(synthetic_dataset / "train")][:6]
    spec = Preprocessing(input_size=64, contrast="equalize")
    variants = framing_variants(paths, spec, 2, seed=3)
    assert variants.shape == (2, 6, 64, 64, 1) and variants.dtype == np.float16
    np.testing.assert_array_equal(framing_variants(paths, spec, 2, seed=3), variants)
    assert not np.array_equal(framing_variants(paths, spec, 2, seed=4), variants)
    films = load_model_inputs(paths, spec)
    moved = [np.abs(variants[k, i] - films[i]).mean() > 0.01 for k in range(2) for i in range(6)]
    assert np.mean(moved) >= 0.75, moved  # a draw can be mild (a 98 % crop, no pad)


def test_training_batches_mix_each_film_with_its_own_variants() -> None:
    """Film i is constant i; its variant k is constant i + 100 (k + 1) (exact in
    float16): every batch keeps each film's label, and about half the films are
    shown as variants."""
    from train.pipeline import _version_batches

    n = 64
    inputs = np.repeat(np.arange(n, dtype=np.float32), 16).reshape(n, 4, 4, 1)
    variants = np.stack([inputs + 100 * (k + 1) for k in range(3)]).astype(np.float16)
    labels = np.arange(n) % 2
    shown = []
    for _ in range(3):  # epochs
        for x, y in _version_batches(inputs, labels, variants, 16, seed=0, original_share=0.5):
            value = x.numpy()[:, 0, 0, 0]
            assert np.array_equal(value % 100 % 2, y.numpy())
            shown.extend(value // 100)
    share_variants = np.mean(np.asarray(shown) > 0)
    assert len(shown) == 3 * n and 0.35 < share_variants < 0.65
    assert set(np.unique(shown)) == {0, 1, 2, 3}


def test_a_run_with_trim_and_framing_records_both(synthetic_dataset: Path,
                                                  tmp_path: Path) -> None:
    from train import fit

    card = fit.train(synthetic_dataset, tmp_path, fit.TrainConfig(
        input_size=64, epochs=1, batch_size=16, warmup_epochs=0, framing_variants=2,
        trim=True))
    assert card.preprocessing.trim is True
    assert card.training.config["framing_variants"] == 2
    assert ModelCard.load(tmp_path / "model_card.json").preprocessing.trim is True
