"""Keras model inference for ``pneumo evaluate`` on a ``.keras`` file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from pneumo.errors import ModelError


def load_keras_predictor(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """A batch predictor (inputs (N,S,S,1) -> probabilities (N,)) for a
    ``.keras`` file."""
    try:
        model = keras.models.load_model(path, compile=False)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot load Keras model ({exc})") from None

    def predict_batch(inputs: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(inputs, batch_size=64, verbose=0)).reshape(-1)

    return predict_batch
