"""Combine trained runs into one model that averages their logits.

``pneumo ensemble RUN_DIR RUN_DIR [...] --data DATA_DIR --out RUN_DIR``

Every member ends in ``last_conv`` (+ BatchNorm + ReLU) feature maps, global average pooling
(``embedding``) and one dense ``logit``. Both head steps are linear, so the mean
of the members' logits equals one dense layer over the *concatenated* feature
maps with each member's weights divided by the member count. The ensemble is
therefore an ordinary single-output model whose concatenated feature maps
are named ``last_conv``, like a member's: it
converts, quantises and explains (Grad-CAM over all members' channels) exactly
like one member, in one LiteRT file.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np

from pneumo.data.dataset import file_list_sha256, load_model_inputs
from pneumo.errors import DataError, ModelError
from pneumo.model.card import CARD_FILENAME, ModelCard
from train.fit import TrainConfig, find_splits, print_run_summary, provenance, score_and_write
from train.models import EMBEDDING, LAST_CONV

_FEATURES = f"{LAST_CONV}_relu"


def merge_members(members: Sequence[keras.Model]) -> keras.Model:
    """One model whose logit is the mean of ``members``' logits."""
    if len(members) < 2:
        raise ModelError("an ensemble needs at least two members")
    inputs = keras.Input(members[0].inputs[0].shape[1:], name="image")
    features, kernels, biases = [], [], []
    for i, member in enumerate(members):
        if tuple(member.inputs[0].shape[1:]) != tuple(inputs.shape[1:]):
            raise ModelError(f"member {i} takes {member.inputs[0].shape[1:]}, "
                             f"member 0 takes {inputs.shape[1:]}")
        try:
            trunk_output = member.get_layer(_FEATURES).output
            kernel, bias = member.get_layer("logit").get_weights()
        except ValueError as exc:
            raise ModelError(f"member {i} ({member.name}) lacks the layers an ensemble "
                             f"needs ({_FEATURES}, logit): {exc}") from None
        trunk = keras.Model(member.inputs[0], trunk_output, name=f"member{i}")
        features.append(trunk(inputs))
        kernels.append(kernel)
        biases.append(bias)
    # Named like a member's last convolution so that conversion finds the
    # Grad-CAM feature maps the same way.
    x = keras.layers.Concatenate(name=LAST_CONV)(features)
    x = keras.layers.GlobalAveragePooling2D(name=EMBEDDING)(x)
    logit = keras.layers.Dense(1, name="logit")
    x = logit(x)
    logit.set_weights([np.concatenate(kernels, axis=0) / len(members),
                       np.mean(biases, axis=0)])
    outputs = keras.layers.Activation("sigmoid", name="probability", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"ensemble{len(members)}")


def _check_same_split(cards: Sequence[ModelCard], runs: Sequence[Path]) -> None:
    """Members must share preprocessing and validation split: a member trained on
    another member's validation images would leak into the ensemble's threshold."""
    first = cards[0]
    for run, card in zip(runs[1:], cards[1:], strict=True):
        if card.preprocessing != first.preprocessing:
            raise ModelError(f"{run}: preprocessing {card.preprocessing} differs from "
                             f"{runs[0]}'s {first.preprocessing}")
        if card.labels != first.labels:
            raise ModelError(f"{run}: labels {card.labels} differ from {runs[0]}'s")
        mine = card.training.validation_file_list_sha256
        if mine is None or mine != first.training.validation_file_list_sha256:
            raise ModelError(f"{run}: its validation split differs from {runs[0]}'s; "
                             "train members with the same --split-seed and --val-fraction")


def build_ensemble(runs: Sequence[Path], data_dir: Path, out: Path) -> ModelCard:
    """Merge the runs' models, re-choose the threshold on their shared validation
    split, score the test split and write a run directory to ``out``."""
    started = time.time()
    cards = [ModelCard.load(run / CARD_FILENAME) for run in runs]
    _check_same_split(cards, runs)
    config_fields = set(TrainConfig.__dataclass_fields__)
    saved = {k: v for k, v in cards[0].training.config.items() if k in config_fields}
    config = TrainConfig(**saved)
    splits = find_splits(Path(data_dir), config)
    if file_list_sha256(splits.val) != cards[0].training.validation_file_list_sha256:
        raise DataError(f"{data_dir}: its validation split is not the one the members "
                        "were validated on (different data folder?)")
    model = merge_members([keras.models.load_model(run / "model.keras") for run in runs])
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.keras")
    spec = cards[0].preprocessing
    x_val = load_model_inputs([e.path for e in splits.val], spec, config.workers)
    member_fit = sum(c.training.fit_wall_time_s or 0.0 for c in cards)
    training = replace(
        provenance(splits, config, 0, member_fit, member_fit + time.time() - started),
        members=tuple({"run": str(run), "name": card.name,
                       "validation_auc": card.metrics["validation"].auc
                       if "validation" in card.metrics else None,
                       "seed": card.training.config.get("seed"),
                       "fit_wall_time_s": card.training.fit_wall_time_s}
                      for run, card in zip(runs, cards, strict=True)),
    )
    _copy_member_histories(runs, out)
    architecture = f"ensemble of {len(runs)} x {cards[0].architecture}"
    return score_and_write(model, out, splits, spec, x_val, config, training,
                           name=f"{cards[0].architecture}-x{len(runs)}", architecture=architecture)


def _copy_member_histories(runs: Sequence[Path], out: Path) -> None:
    """Members' training histories and learning curves, numbered, into ``out``."""
    for i, run in enumerate(runs):
        if (run / "history.csv").is_file():
            shutil.copyfile(run / "history.csv", out / f"history_member{i}.csv")
        if (run / "plots" / "learning_curves.png").is_file():
            (out / "plots").mkdir(exist_ok=True)
            shutil.copyfile(run / "plots" / "learning_curves.png",
                            out / "plots" / f"learning_curves_member{i}.png")


def main(argv: list[str]) -> int:
    """Run ``pneumo ensemble``; returns the exit code."""
    p = argparse.ArgumentParser(prog="pneumo ensemble", description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="run directories from pneumo train")
    p.add_argument("--data", type=Path, required=True, help="the members' data folder")
    p.add_argument("--out", type=Path, required=True, help="run directory to write")
    args = p.parse_args(argv)
    card = build_ensemble(args.runs, args.data, args.out)
    print_run_summary(card, args.out)
    return 0
