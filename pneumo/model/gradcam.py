"""Grad-CAM heat maps from the float model's ``explain`` signature, and their maths.

:class:`Explainer` runs ``model_float.tflite`` with LiteRT (never TensorFlow):
its ``explain`` signature returns the probability, the raw Grad-CAM map over
the last convolutional feature grid (gradient of the *logit* averaged per
channel, weighted sum of the feature maps, ReLU) and the pooled embedding.
The rest is numpy/OpenCV: :func:`normalise_heatmap` to ``[0, 1]``,
:func:`heatmap_to_image_size` and the colour-mapped overlays
:func:`colorize_heatmap` and :func:`overlay_rgba`.

Like :class:`~pneumo.model.runner.ModelRunner` (whose sha256 check and loader it
uses), an explainer is not thread-safe: one explainer per thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pneumo.errors import ModelError
from pneumo.films.imaging import LoadedImage
from pneumo.model.card import ModelCard
from pneumo.model.litert import LiteRTModel
from pneumo.model.margins import Box
from pneumo.model.preprocess import preprocess

EXPLAIN_SIGNATURE = "explain"
_OUTPUTS = ("probability", "heatmap", "embedding")


@dataclass(frozen=True)
class Explanation:
    """Probability, normalised heat map (h, w) in ``[0, 1]`` and embedding (d,).

    ``peak`` is the raw Grad-CAM maximum before normalisation: ``0.0`` means
    no region argues for pneumonia and the heat map is all zeros.
    """

    probability: float
    heatmap: np.ndarray
    embedding: np.ndarray
    peak: float


class Explainer(LiteRTModel):
    """A loaded ``model_float.tflite`` with an ``explain`` signature, plus its card.

    ``card`` defaults to ``model_card.json`` beside the model; with ``verify``
    the file's sha256 must match the card's entry (:class:`ModelIntegrityError`).
    A file without an ``explain`` signature raises :class:`ModelError`.
    """

    def __init__(
        self,
        model_float_path: str | Path,
        card: ModelCard | None = None,
        *,
        num_threads: int = 2,
        verify: bool = True,
    ) -> None:
        super().__init__(model_float_path, card, num_threads=num_threads, verify=verify)
        signatures = self._interpreter.get_signature_list()
        if EXPLAIN_SIGNATURE not in signatures:
            raise ModelError(f"{self._path}: model has no {EXPLAIN_SIGNATURE!r} signature "
                             "(convert it with 'pneumo convert')")
        self._runner = self._interpreter.get_signature_runner(EXPLAIN_SIGNATURE)
        inputs = self._runner.get_input_details()
        outputs = self._runner.get_output_details()
        missing = [name for name in _OUTPUTS if name not in outputs]
        if len(inputs) != 1 or missing:
            raise ModelError(f"{self._path}: {EXPLAIN_SIGNATURE!r} signature must take one image "
                             f"and return {', '.join(_OUTPUTS)} (missing: {missing})")
        (self._input_name, det), = inputs.items()
        s = self.input_size
        if tuple(int(d) for d in det["shape"][1:]) != (s, s, 1) or det["dtype"] != np.float32:
            raise ModelError(f"{self._path}: explain input is {det['dtype']} {det['shape']}, "
                             f"but the model card expects float32 (1, {s}, {s}, 1)")
        self._heatmap_shape = tuple(int(d) for d in outputs["heatmap"]["shape"][1:])

    @property
    def heatmap_shape(self) -> tuple[int, ...]:
        """(h, w) of the feature grid the heat map covers."""
        return self._heatmap_shape

    def explain(self, model_input: np.ndarray) -> Explanation:
        """Explain one preprocessed input of shape (S, S, 1)."""
        arr = np.asarray(model_input, dtype=np.float32)
        s = self.input_size
        if arr.shape != (s, s, 1):
            raise ValueError(f"expected an input of shape {(s, s, 1)}, got {arr.shape}")
        try:
            out: dict[str, Any] = self._runner(**{self._input_name: arr[np.newaxis]})
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"{self._path}: explain failed ({exc})") from None
        probability = np.asarray(out["probability"], dtype=np.float64).reshape(-1)
        raw = np.asarray(out["heatmap"], dtype=np.float32).reshape(self._heatmap_shape)
        embedding = np.asarray(out["embedding"], dtype=np.float32).reshape(-1)
        if not (np.isfinite(probability).all() and np.isfinite(raw).all()
                and np.isfinite(embedding).all()):
            raise ModelError(f"{self._path}: explain produced non-finite values")
        return Explanation(
            probability=float(np.clip(probability[0], 0.0, 1.0)),
            heatmap=normalise_heatmap(raw),
            embedding=embedding.copy(),
            peak=float(raw.max(initial=0.0)),
        )

    def explain_image(self, image: LoadedImage) -> Explanation:
        """Preprocess ``image`` as the card says and explain it."""
        return self.explain(preprocess(image, self._card.preprocessing))


def normalise_heatmap(cam: np.ndarray) -> np.ndarray:
    """Raw Grad-CAM to ``float32`` in ``[0, 1]``: negatives to 0, divided by the maximum.

    Zero stays "no evidence" (no min-max stretching); an all-zero (or
    all-negative) map stays all zeros. Non-finite values raise ``ValueError``.
    """
    arr = np.asarray(cam, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise ValueError("heat map has non-finite values")
    arr = np.maximum(arr, 0.0)
    peak = float(arr.max(initial=0.0))
    if peak <= np.finfo(np.float32).tiny:
        return np.zeros_like(arr)
    return (arr / peak).astype(np.float32)


def heatmap_to_image_size(heatmap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an (h, w) heat map to ``size = (H, W)``, bilinear, clipped to ``[0, 1]``.

    The model sees the whole image squashed to a square, so stretching the map
    over the whole image puts every cell back where it came from (with trimmed
    margins, :func:`heatmap_on_film` places it on the part the model saw).
    """
    arr = np.asarray(heatmap, dtype=np.float32)
    height, width = int(size[0]), int(size[1])
    if arr.ndim != 2 or height < 1 or width < 1:
        raise ValueError(f"expected a 2-D heat map and a positive size, got {arr.shape}, {size}")
    if arr.shape != (height, width):
        arr = np.asarray(cv2.resize(arr, (width, height), interpolation=cv2.INTER_LINEAR),
                         dtype=np.float32)
    return np.clip(arr, 0.0, 1.0).astype(np.float32, copy=False)


def heatmap_on_film(heatmap: np.ndarray, shape: tuple[int, ...], box: Box) -> np.ndarray:
    """An (h, w) heat map of the model input placed on a film of ``shape``: stretched
    over ``box``, the region the input was made from
    (:func:`pneumo.model.preprocess.input_box`), and zero outside it (trimmed margins)."""
    if box.is_whole(shape):
        return heatmap_to_image_size(heatmap, (int(shape[0]), int(shape[1])))
    out = np.zeros((int(shape[0]), int(shape[1])), dtype=np.float32)
    out[box.top:box.bottom, box.left:box.right] = heatmap_to_image_size(
        heatmap, (box.bottom - box.top, box.right - box.left))
    return out


def colorize_heatmap(heatmap: np.ndarray, opacity: float = 0.4,
                     colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
    """A heat map in ``[0, 1]`` to an RGBA ``uint8`` layer whose alpha is ``opacity``."""
    _check_opacity(opacity)
    levels = np.round(np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0) * 255)
    bgr = cv2.applyColorMap(levels.astype(np.uint8), colormap)
    alpha = np.full(levels.shape + (1,), round(opacity * 255), dtype=np.uint8)
    return np.concatenate([bgr[..., ::-1], alpha], axis=-1)


def overlay_rgba(gray: np.ndarray, heatmap: np.ndarray, opacity: float = 0.4,
                 colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
    """Blend a colour-mapped heat map over a grayscale image in ``[0, 1]``.

    ``gray`` is (H, W); ``heatmap`` is in ``[0, 1]`` at any size (resized to
    the image). Returns opaque RGBA ``uint8`` (H, W, 4):
    ``(1 - opacity) * image + opacity * colour``; opacity 0 gives the image.
    """
    _check_opacity(opacity)
    image = np.asarray(gray, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {image.shape}")
    heat = heatmap_to_image_size(heatmap, (image.shape[0], image.shape[1]))
    base = np.repeat(np.clip(image, 0.0, 1.0)[..., np.newaxis] * 255.0, 3, axis=-1)
    colour = colorize_heatmap(heat, 1.0, colormap)[..., :3].astype(np.float32)
    blended = np.round((1.0 - opacity) * base + opacity * colour)
    alpha = np.full(image.shape + (1,), 255, dtype=np.uint8)
    return np.concatenate([blended.astype(np.uint8), alpha], axis=-1)


def _check_opacity(opacity: float) -> None:
    if not 0.0 <= float(opacity) <= 1.0:
        raise ValueError(f"opacity must be between 0 and 1, got {opacity}")
