"""The one preprocessing function: a loaded image to a model input.

Training, calibration, evaluation, scanning and the desktop app all call
:func:`preprocess`; its parameters travel with the model in the model card as a
:class:`Preprocessing` object, so that every stage feeds the model identically.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from pneumo.films.imaging import LoadedImage
from pneumo.model.margins import Box, margin_box

_INTERPOLATIONS = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR}
CONTRASTS = ("none", "equalize")
_EQUALIZE_LEVELS = 1024


@dataclass(frozen=True)
class Preprocessing:
    """How a grayscale ``[0, 1]`` image becomes a model input.

    With ``trim``, uniform margins around the film (padding, a collimator's black,
    a scanned film's frame) are cropped away first
    (:func:`pneumo.model.margins.trim_margins`), so that how a site frames its
    films does not reach the model; a film without margins is unchanged. The
    image is squashed (aspect ratio not kept) to ``input_size`` squared with
    a fixed interpolation, optionally histogram-equalised (``contrast``), then
    mapped linearly: ``x = pixels * scale + offset``. Squashing is deliberate:
    most training images exist only as squashed 224x224 copies, so every image
    is resized the same way. Equalising makes the input independent of the
    film's display curve (exposure, a vendor's VOI LUT or window), which varies
    between sites far more than anatomy does.
    """

    input_size: int = 224
    interpolation: str = "area"
    scale: float = 1.0
    offset: float = 0.0
    contrast: str = "none"
    trim: bool = False

    def __post_init__(self) -> None:
        if self.interpolation not in _INTERPOLATIONS:
            raise ValueError(f"unknown interpolation {self.interpolation!r}")
        if self.contrast not in CONTRASTS:
            raise ValueError(f"unknown contrast {self.contrast!r}; choose one of {CONTRASTS}")
        if self.input_size < 8:
            raise ValueError("input_size must be at least 8")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored in the model card (and bound into the model
        files). ``trim`` appears only when on, so cards and bindings written before
        it existed read, and stay, as they were."""
        data = asdict(self)
        if not self.trim:
            del data["trim"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        """Inverse of :meth:`to_dict`."""
        return cls(
            input_size=int(data["input_size"]),
            interpolation=str(data.get("interpolation", "area")),
            scale=float(data.get("scale", 1.0)),
            offset=float(data.get("offset", 0.0)),
            contrast=str(data.get("contrast", "none")),
            trim=bool(data.get("trim", False)),
        )


def equalize(pixels: np.ndarray, levels: int = _EQUALIZE_LEVELS) -> np.ndarray:
    """Histogram-equalise a ``[0, 1]`` image: each pixel becomes its mid-rank.

    A pixel maps to the fraction of pixels darker than it plus half of those
    equal to it (binned to ``levels``), so the result is unchanged by an
    increasing intensity curve that keeps distinct grey levels in distinct bins
    (and nearly so by one that merges a few); a flat image becomes 0.5.
    """
    bins = np.minimum((np.clip(pixels, 0.0, 1.0) * levels).astype(np.int64), levels - 1)
    hist = np.bincount(bins.ravel(), minlength=levels).astype(np.float64)
    mid_rank = (np.cumsum(hist) - hist / 2.0) / bins.size
    return mid_rank[bins].astype(np.float32)


def input_box(image: LoadedImage | np.ndarray, spec: Preprocessing) -> Box:
    """The region of ``image`` that :func:`preprocess` squashes into the model input
    (all of it unless ``spec.trim`` crops margins): where a heat map belongs."""
    pixels = np.asarray(image.pixels if isinstance(image, LoadedImage) else image)
    return margin_box(pixels.astype(np.float32, copy=False)) if spec.trim else Box.whole(
        pixels.shape)


def preprocess(image: LoadedImage | np.ndarray, spec: Preprocessing) -> np.ndarray:
    """Return the model input for ``image``: ``float32`` of shape (S, S, 1).

    ``image`` is a :class:`LoadedImage` or a 2-D array of grayscale values in
    ``[0, 1]``.
    """
    return preprocess_with_box(image, spec)[0]


def preprocess_with_box(image: LoadedImage | np.ndarray, spec: Preprocessing
                        ) -> tuple[np.ndarray, Box]:
    """:func:`preprocess` and :func:`input_box` at once (the margins are looked
    for once): the model input and the region of ``image`` it was made from."""
    pixels = image.pixels if isinstance(image, LoadedImage) else image
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {pixels.shape}")
    box = margin_box(pixels) if spec.trim else Box.whole(pixels.shape)
    if not box.is_whole(pixels.shape):
        pixels = pixels[box.top:box.bottom, box.left:box.right]
    size = spec.input_size
    if pixels.shape != (size, size):
        pixels = cv2.resize(
            pixels, (size, size), interpolation=_INTERPOLATIONS[spec.interpolation]
        )
    pixels = np.clip(pixels, 0.0, 1.0)
    if spec.contrast == "equalize":
        pixels = equalize(pixels)
    out = pixels * np.float32(spec.scale) + np.float32(spec.offset)
    return out.astype(np.float32, copy=False)[:, :, np.newaxis], box
