"""The tf.data input pipeline over cached, preprocessed arrays."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

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


def make_dataset(
    inputs: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    training: bool,
    seed: int = 0,
    hflip: bool = False,
    augment: str = "standard",
) -> tf.data.Dataset:
    """Batches of (input, label); shuffled and augmented when ``training``."""
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
