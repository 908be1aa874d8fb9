"""Labelled image folders: listing, patient-level splits and model inputs.

Used by training, calibration and evaluation alike; the model inputs come from
the same :func:`~pneumo.films.imaging.load_image` and
:func:`~pneumo.model.preprocess.preprocess` as the app's, so every stage sees
identical arrays for the same file.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pneumo.errors import DataError
from pneumo.films.formats import IMAGE_EXTENSIONS
from pneumo.films.imaging import load_image
from pneumo.model.card import LABELS, ModelCard
from pneumo.model.preprocess import Preprocessing, preprocess

_PERSON = re.compile(r"^(person\d+)_", re.IGNORECASE)
_IM = re.compile(r"^((?:NORMAL\d*-)?IM-\d+)-\d+", re.IGNORECASE)
_NIH = re.compile(r"^(\d+)_\d+$")


@dataclass(frozen=True)
class Example:
    """One labelled image: ``label`` is 1 for PNEUMONIA, 0 for NORMAL."""

    path: Path
    label: int
    patient: str


def patient_id(filename: str) -> str:
    """The patient a Kermany file name belongs to.

    ``person123_bacteria_456.jpeg`` -> ``person123``; ``IM-0115-0001.jpeg`` ->
    ``IM-0115``; ``NORMAL2-IM-1427-0001.jpeg`` -> ``NORMAL2-IM-1427``; an NIH
    ChestX-ray8 name ``00001280_004.jpeg`` -> ``00001280``; any other name is
    its own patient (its stem).
    """
    stem = Path(filename).stem
    for pattern in (_PERSON, _IM, _NIH):
        match = pattern.match(stem)
        if match:
            return match.group(1)
    return stem


def list_examples(folder: str | Path, labels: Sequence[str] = LABELS) -> list[Example]:
    """All images under ``folder/<class>/`` for the two classes, sorted.

    ``labels`` names the negative then the positive class folder. A folder of
    exactly two other class subfolders is accepted too, sorted by name.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    class_dirs = [root / name for name in labels]
    if not all(d.is_dir() for d in class_dirs):
        subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if len(subdirs) != 2:
            raise DataError(
                f"{root}: expected class subfolders {labels[0]}/ and {labels[1]}/ "
                f"(or exactly two class subfolders), found {[d.name for d in subdirs]}"
            )
        class_dirs = subdirs
    examples = [
        Example(path=p, label=label, patient=patient_id(p.name))
        for label, class_dir in enumerate(class_dirs)
        for p in sorted(class_dir.rglob("*"))
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    ]
    if not examples:
        raise DataError(f"{root}: no images found in its class subfolders")
    return examples


def patient_split(
    examples: Sequence[Example], val_fraction: float = 0.15, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """Split into (train, validation) by patient, stratified by class, seeded.

    All images of one patient land on the same side. Patients are grouped by
    their majority label and drawn per class until about ``val_fraction`` of
    that class's images are in validation.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError("val_fraction must be between 0 and 1")
    by_patient: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_patient[ex.patient].append(ex)
    by_class: dict[int, list[str]] = defaultdict(list)
    for patient, items in sorted(by_patient.items()):
        majority = round(sum(e.label for e in items) / len(items))
        by_class[majority].append(patient)
    rng = random.Random(seed)
    val_patients: set[str] = set()
    for label in sorted(by_class):
        patients = by_class[label]
        rng.shuffle(patients)
        target = val_fraction * sum(len(by_patient[p]) for p in patients)
        taken = 0
        for patient in patients:
            if taken >= target:
                break
            val_patients.add(patient)
            taken += len(by_patient[patient])
    train = [e for e in examples if e.patient not in val_patients]
    val = [e for e in examples if e.patient in val_patients]
    return train, val


def training_split(
    data_dir: str | Path,
    val_fraction: float = 0.15,
    seed: int = 0,
    labels: Sequence[str] = LABELS,
) -> tuple[list[Example], list[Example]]:
    """The (train, validation) split a training run uses on ``data_dir``.

    ``data_dir/train`` (or ``data_dir`` itself when it has no ``train/``) split by
    patient, plus the official ``data_dir/val`` when present. Training,
    int8 calibration and OOD fitting all call this, so none of them can use a
    validation image for fitting.
    """
    root = Path(data_dir)
    train_dir = root / "train" if (root / "train").is_dir() else root
    train, val = patient_split(list_examples(train_dir, labels), val_fraction, seed)
    if train_dir != root and (root / "val").is_dir():
        val = val + list_examples(root / "val", labels)
    return train, val


def card_training_split(
    data_dir: str | Path, card: ModelCard
) -> tuple[list[Example], list[Example]]:
    """The (train, validation) split that ``card``'s training run used
    (:attr:`ModelCard.split`)."""
    split = card.split
    return training_split(data_dir, split.val_fraction, split.split_seed, card.labels)


@dataclass(frozen=True)
class Splits:
    """The examples of each split a stage uses: training side, validation side,
    and a test or parity set (``test_source`` is where it came from)."""

    train: list[Example]
    val: list[Example]
    test: list[Example]
    test_source: Path | None = None


def sample(examples: Sequence[Example], count: int, seed: int) -> list[Example]:
    """At most ``count`` of ``examples``, drawn without replacement with ``seed``,
    in their original order (all of them when there are no more than ``count``)."""
    if len(examples) <= count:
        return list(examples)
    picks = np.random.default_rng(seed).choice(len(examples), size=count, replace=False)
    return [examples[i] for i in sorted(picks)]


def file_list_sha256(examples: Sequence[Example]) -> str:
    """A hash of the (label, file name) list: identifies a training set."""
    digest = hashlib.sha256()
    for ex in sorted(examples, key=lambda e: (e.label, e.path.name)):
        digest.update(f"{ex.label}\t{ex.path.name}\n".encode())
    return digest.hexdigest()


def load_model_inputs(
    paths: Sequence[Path],
    spec: Preprocessing,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Model inputs (N, S, S, 1) float32 for ``paths``, decoded in parallel."""
    out = np.empty((len(paths), spec.input_size, spec.input_size, 1), dtype=np.float32)

    def one(i: int) -> int:
        out[i] = preprocess(load_image(paths[i]), spec)
        return i

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for done, _ in enumerate(pool.map(one, range(len(paths))), start=1):
            if progress is not None:
                progress(done, len(paths))
    return out


def labels_of(examples: Sequence[Example]) -> np.ndarray:
    """The 0/1 labels of ``examples`` as an int array."""
    return np.array([e.label for e in examples], dtype=np.int32)
