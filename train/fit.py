"""Train a model on a Kermany-layout folder and write a run directory."""

from __future__ import annotations

import datetime as _dt
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from pneumo.data.dataset import (
    Splits,
    file_list_sha256,
    labels_of,
    list_examples,
    load_model_inputs,
    training_split,
)
from pneumo.errors import DataError, UsageError
from pneumo.evaluation.metrics import BinaryMetrics, choose_threshold, compute_metrics
from pneumo.model.card import CARD_FILENAME, ModelCard
from pneumo.model.card_sections import ModelFiles, SplitSpec, TrainingRecord
from pneumo.model.locate import KERAS_FILE
from pneumo.model.preprocess import Preprocessing
from train.models import ARCHITECTURES, build_model
from train.pipeline import class_weights, framing_variants, make_dataset


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run."""

    architecture: str = "pneumonet"
    input_size: int | None = None
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 1e-3
    warmup_epochs: int = 1
    patience: int = 60
    val_fraction: float = 0.15
    seed: int = 0
    split_seed: int = 0
    hflip: bool = False
    augment: str = "standard"
    ema: float = 0.0
    framing_variants: int = 0
    contrast: str = "equalize"
    trim: bool = False
    min_sensitivity: float = 0.95
    strategy: str = "default"
    mixed_precision: bool = False
    weights: str | None = None
    workers: int = 2


def find_splits(data_dir: Path, config: TrainConfig) -> Splits:
    """Train/validation by patient from ``train/`` plus the official ``val/``;
    ``test/`` if present. A plain folder of class subfolders is all training
    data (split by patient), with no test set."""
    train, val = training_split(data_dir, config.val_fraction, config.split_seed)
    test = list_examples(data_dir / "test") if (data_dir / "test").is_dir() else []
    if not train or not val:
        raise DataError(f"{data_dir}: too few patients for a train/validation split")
    return Splits(train, val, test)


def _strategy(name: str) -> tf.distribute.Strategy:
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UsageError(f"unknown strategy {name!r}: use default, mirrored or multiworker")


class EpochLine(keras.callbacks.Callback):
    """One flushed line per epoch, readable in a log file."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs
        self.started = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.started = time.time()

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        parts = " ".join(f"{k}={v:.4f}" for k, v in sorted(logs.items()) if k != "learning_rate")
        print(f"epoch {epoch + 1}/{self.epochs} {time.time() - self.started:.0f}s {parts}",
              flush=True)


def _compile(model: keras.Model, config: TrainConfig, steps_per_epoch: int) -> None:
    total = max(1, config.epochs * steps_per_epoch)
    warmup = min(total - 1, config.warmup_epochs * steps_per_epoch)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate * 0.1 if warmup else config.learning_rate,
        decay_steps=max(1, total - warmup),
        alpha=0.01,
        warmup_target=config.learning_rate if warmup else None,
        warmup_steps=warmup,
    )
    ema = {"use_ema": True, "ema_momentum": config.ema} if config.ema else {}
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, **ema),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")],
    )


def export_model(model: keras.Model, config: TrainConfig, input_size: int, path: Path) -> keras.Model:
    """Save the network alone (float32, no optimizer state) and return it.

    A fresh build of the architecture takes the trained weights, which drops
    the optimizer's slots (two thirds of a checkpoint) and any mixed-precision
    policy, so the shipped file is small and converts cleanly.
    """
    keras.mixed_precision.set_global_policy("float32")
    clean = build_model(config.architecture, input_size)
    clean.set_weights(model.get_weights())
    clean.save(path)
    return clean


def train(data_dir: Path, run_dir: Path, config: TrainConfig) -> ModelCard:
    """Train, choose the threshold on validation, evaluate, write ``run_dir``."""
    started = time.time()
    keras.utils.set_random_seed(config.seed)
    if config.architecture not in ARCHITECTURES:
        raise UsageError(f"unknown architecture {config.architecture!r}; "
                         f"choose one of {', '.join(ARCHITECTURES)}")
    if not 0.0 <= config.ema < 1.0:
        raise UsageError(f"--ema {config.ema}: the averaging momentum must be in [0, 1)")
    if config.framing_variants < 0:
        raise UsageError(f"--framing-variants {config.framing_variants}: must be 0 or more")
    input_size = config.input_size or ARCHITECTURES[config.architecture].input_size
    spec = Preprocessing(input_size=input_size, contrast=config.contrast, trim=config.trim)
    splits = find_splits(Path(data_dir), config)
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"data: {len(splits.train)} train, {len(splits.val)} validation, "
          f"{len(splits.test)} test images; input {input_size}px", flush=True)
    x_train = load_model_inputs([e.path for e in splits.train], spec, config.workers)
    x_val = load_model_inputs([e.path for e in splits.val], spec, config.workers)
    y_train, y_val = labels_of(splits.train), labels_of(splits.val)
    variants = framing_variants([e.path for e in splits.train], spec, config.framing_variants,
                                config.seed, config.workers) if config.framing_variants else None
    print(f"decoded and cached in {time.time() - started:.0f}s", flush=True)

    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    strategy = _strategy(config.strategy)
    batch = config.batch_size * strategy.num_replicas_in_sync
    train_ds = make_dataset(x_train, y_train, batch, training=True, seed=config.seed,
                            hflip=config.hflip, augment=config.augment, variants=variants)
    val_ds = make_dataset(x_val, y_val, batch, training=False)
    steps = int(np.ceil(len(x_train) / batch))
    with strategy.scope():
        model = build_model(config.architecture, input_size, config.weights)
        _compile(model, config, steps)
    ckpt_dir = run_dir / "checkpoints"
    best_path = ckpt_dir / "best.keras"
    ckpt_dir.mkdir(exist_ok=True)
    resuming = (ckpt_dir / "backup").exists()
    if resuming:
        print(f"resuming from {ckpt_dir / 'backup'}", flush=True)
    # Order matters: the backup keeps the raw weights (and the averages in the
    # optimizer); with --ema, validation, the best checkpoint and early stopping
    # all see the averaged weights.
    averaging = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if config.ema else []
    callbacks = [
        keras.callbacks.BackupAndRestore(str(ckpt_dir / "backup")),
        *averaging,
        keras.callbacks.ModelCheckpoint(str(best_path), monitor="val_auc", mode="max",
                                        save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=config.patience),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=resuming),
        EpochLine(config.epochs),
    ]
    fit_started = time.time()
    model.fit(train_ds, validation_data=val_ds, epochs=config.epochs,
                        class_weight=class_weights(y_train), callbacks=callbacks, verbose=0,
                        shuffle=False)  # the dataset shuffles itself
    fit_seconds = time.time() - fit_started
    if best_path.exists():
        model = keras.models.load_model(best_path)
    model = export_model(model, config, input_size, run_dir / "model.keras")

    val_auc = _history_column(run_dir / "history.csv", "val_auc")  # all epochs, resumed too
    training = replace(
        provenance(splits, config, len(val_auc), fit_seconds, time.time() - started),
        best_epoch=int(np.argmax(val_auc)) + 1 if val_auc else None,
        best_validation_auc=float(np.max(val_auc)) if val_auc else None,
    )
    return score_and_write(model, run_dir, splits, spec, x_val, config, training,
                           name=config.architecture, architecture=config.architecture)


def score_and_write(
    model: keras.Model,
    run_dir: Path,
    splits: Splits,
    spec: Preprocessing,
    x_val: np.ndarray,
    config: TrainConfig,
    training: TrainingRecord,
    *,
    name: str,
    architecture: str,
) -> ModelCard:
    """Choose the threshold on validation, score validation and test, and write
    the card, ``evaluation.json`` and plots of a trained ``model`` to ``run_dir``."""
    y_val = labels_of(splits.val)
    p_val = predict(model, x_val)
    threshold = choose_threshold(y_val, p_val, config.min_sensitivity)
    metrics: dict[str, BinaryMetrics] = {
        "validation": compute_metrics(y_val, p_val, threshold),
    }
    reports: dict[str, tuple[np.ndarray, np.ndarray]] = {"validation": (y_val, p_val)}
    if splits.test:
        x_test = load_model_inputs([e.path for e in splits.test], spec, config.workers)
        y_test = labels_of(splits.test)
        p_test = predict(model, x_test)
        metrics["test"] = compute_metrics(y_test, p_test, threshold)
        metrics["test_at_0.5"] = compute_metrics(y_test, p_test, 0.5)
        reports["test"] = (y_test, p_test)
    card = ModelCard(
        name=f"{name}-{_dt.date.today():%Y%m%d}",
        architecture=architecture,
        preprocessing=spec,
        threshold=threshold,
        metrics=metrics,
        training=training,
        files={},
        threshold_rule=f"highest validation specificity at sensitivity >= "
                       f"{config.min_sensitivity:.2f}",
        models=ModelFiles(keras=KERAS_FILE),
    )
    card.save(run_dir / CARD_FILENAME)
    _write_reports(run_dir, card, reports)
    return card


def print_run_summary(card: ModelCard, run_dir: Path) -> None:
    """One line per scored split of a run's card, then where the run was written."""
    for name, m in card.metrics.items():
        print(f"{name}: n={m.n} accuracy={m.accuracy:.4f} auc={m.auc:.4f} "
              f"sensitivity={m.sensitivity:.4f} specificity={m.specificity:.4f} "
              f"threshold={m.threshold:.4f}")
    print(f"wrote {run_dir}")


def predict(model: keras.Model, inputs: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Pneumonia probabilities (N,) of a Keras model for preprocessed inputs."""
    return np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0)).reshape(-1)


def _history_column(history_csv: Path, column: str) -> list[float]:
    import csv

    if not history_csv.exists():
        return []
    with open(history_csv, newline="") as fh:
        return [float(row[column]) for row in csv.DictReader(fh) if row.get(column)]


def provenance(splits: Splits, config: TrainConfig, epochs: int, fit_s: float,
               total_s: float) -> TrainingRecord:
    """The card's ``training`` record: split and rule, config, split sizes and
    hashes, times, machine and software versions."""
    return TrainingRecord(
        split=SplitSpec(config.val_fraction, config.split_seed, config.seed),
        min_sensitivity=config.min_sensitivity,
        config=asdict(config),
        train_images=len(splits.train),
        validation_images=len(splits.val),
        test_images=len(splits.test),
        train_file_list_sha256=file_list_sha256(splits.train),
        validation_file_list_sha256=file_list_sha256(splits.val),
        epochs_run=epochs,
        fit_wall_time_s=round(fit_s, 1),
        total_wall_time_s=round(total_s, 1),
        machine=f"{platform.machine()}, {_cpu_count()} CPU cores",
        date=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        software={
            "python": sys.version.split()[0],
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
        },
    )


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _write_reports(run_dir: Path, card: ModelCard,
                   reports: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    from pneumo.util.atomic import write_text_atomic

    evaluation = {name: m.to_dict() for name, m in card.metrics.items()}
    write_text_atomic(run_dir / "evaluation.json", json.dumps(evaluation, indent=2) + "\n")
    try:
        from pneumo.evaluation import plots
    except ImportError:  # matplotlib missing: plots are optional
        return
    plot_dir = run_dir / "plots"
    plot_dir.mkdir(exist_ok=True)
    if (run_dir / "history.csv").exists():
        plots.plot_learning_curves(run_dir / "history.csv", plot_dir / "learning_curves.png")
    for name, (y, p) in reports.items():
        plots.plot_roc(y, p, card.metrics[name], plot_dir / f"roc_{name}.png")
        plots.plot_confusion(card.metrics[name], plot_dir / f"confusion_{name}.png")
