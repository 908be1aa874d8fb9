"""The tf.data input pipeline over cached, preprocessed arrays."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from pneumo.data.augment import FRAMING, seeded_variants
from pneumo.films.imaging import load_image
from pneumo.model.preprocess import Preprocessing, preprocess

AUGMENTATIONS = ("standard", "strong", "wide")


def augmenter(seed: int, hflip: bool = False, strength: str = "standard") -> keras.Sequential:
    """Augmentation for frontal chest films.

    ``standard``: small rotations (about 7 degrees), shifts (5 %), zoom (10 %),
    brightness and contrast. ``strong`` adds random blur and sharpening, for
    films resized or processed differently from the training copies. Never
    vertical flips; horizontal flips only when asked (the heart sits on the
    left in nearly every film). ``wide`` widens the geometry instead:
    rotations up to about 14 degrees, shifts of 10 % and zoom of 20 %, for films
    framed and positioned less consistently than the training copies.
    """
    if strength not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {strength!r}")
    rotation, shift, zoom = (0.04, 0.1, 0.2) if strength == "wide" else (0.02, 0.05, 0.1)
    steps: list[layers.Layer] = [
        layers.RandomRotation(rotation, fill_mode="constant", seed=seed),
        layers.RandomTranslation(shift, shift, fill_mode="constant", seed=seed + 1),
        layers.RandomZoom(zoom, fill_mode="constant", seed=seed + 2),
        layers.RandomBrightness(0.1, value_range=(0.0, 1.0), seed=seed + 3),
        layers.RandomContrast(0.2, value_range=(0.0, 1.0), seed=seed + 4),
    ]
    if strength == "strong":
        steps += [
            layers.RandomGaussianBlur(0.5, kernel_size=3, sigma=1.0, value_range=(0.0, 1.0),
                                      seed=seed + 6),
            layers.RandomSharpness(0.3, value_range=(0.0, 1.0), seed=seed + 7),
        ]
    if hflip:
        steps.insert(0, layers.RandomFlip("horizontal", seed=seed + 5))
    return keras.Sequential(steps, name="augment")


def framing_variants(paths: Sequence[Path], spec: Preprocessing, count: int, seed: int,
                     workers: int = 2) -> np.ndarray:
    """Model inputs of ``count`` seeded framing variants of each film, (count, N, S, S, 1)
    ``float16``.

    Each variant is the *raw* film after a random subset of
    :data:`pneumo.data.augment.FRAMING` (crop, border, burned-in text), then the
    shared preprocessing: a border changes the histogram that equalisation reads,
    so framing cannot be imitated on the equalised input.
    """
    size = spec.input_size
    out = np.empty((count, len(paths), size, size, 1), dtype=np.float16)

    def one(i: int) -> None:
        pixels = np.asarray(load_image(paths[i]).pixels, dtype=np.float32)
        for k, film in enumerate(seeded_variants(pixels, count, seed, i, FRAMING)):
            out[k, i] = preprocess(film, spec)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(one, range(len(paths))))
    return out


def _version_batches(inputs: np.ndarray, labels: np.ndarray, variants: np.ndarray,
                     batch_size: int, seed: int, original_share: float) -> tf.data.Dataset:
    """Shuffled batches in which each film is itself with ``original_share`` and
    otherwise one of its ``variants``, drawn anew every epoch."""
    rng = np.random.default_rng(seed)
    count = len(variants)

    def gather(index: np.ndarray) -> np.ndarray:
        pick = rng.integers(0, count, len(index))
        batch = variants[pick, index].astype(np.float32)
        keep = rng.random(len(index)) < original_share
        batch[keep] = inputs[index[keep]]
        return batch

    size = inputs.shape[1:]
    y = tf.constant(labels.astype(np.float32))
    ds = tf.data.Dataset.range(len(inputs))
    ds = ds.shuffle(len(inputs), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=False)

    def load(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x = tf.numpy_function(gather, [index], tf.float32, stateful=True)
        x.set_shape((None, *size))
        return x, tf.gather(y, index)

    return ds.map(load, num_parallel_calls=1)


def make_dataset(
    inputs: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    training: bool,
    seed: int = 0,
    hflip: bool = False,
    augment: str = "standard",
    variants: np.ndarray | None = None,
    original_share: float = 0.5,
) -> tf.data.Dataset:
    """Batches of (input, label); shuffled and augmented when ``training``.

    With ``variants`` (from :func:`framing_variants`; training only), each film is
    shown as itself with ``original_share`` and otherwise as one of its variants.
    """
    if training and variants is not None and len(variants):
        ds = _version_batches(inputs, labels, variants, batch_size, seed, original_share)
    else:
        ds = tf.data.Dataset.from_tensor_slices((inputs, labels.astype(np.float32)))
        if training:
            ds = ds.shuffle(len(inputs), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=False)
    if training:
        augment_batch = augmenter(seed, hflip, augment)
        ds = ds.map(
            lambda x, y: (tf.clip_by_value(augment_batch(x, training=True), 0.0, 1.0), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def class_weights(labels: np.ndarray) -> dict[int, float]:
    """Balanced class weights: n / (2 * n_class)."""
    n = len(labels)
    pos = int(np.sum(labels))
    neg = n - pos
    return {0: n / (2.0 * max(neg, 1)), 1: n / (2.0 * max(pos, 1))}
