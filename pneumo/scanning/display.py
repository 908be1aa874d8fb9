"""One film for the viewer, decoded in a decoding worker: display levels and a pyramid.

:func:`load_for_display` is the job the app's viewer runs in the decoder pool
(:mod:`pneumo.scanning.pool`), so a file that crashes a decoder costs a
"decoder crashed" message, not the app. It returns what the viewer draws and
nothing larger: the film as ``uint16`` display levels, a pyramid of halved
copies (window/level is a lookup over the copy that matches the zoom, so it
stays fluid on a 3,000 px film), an automatic window and the metadata.
:func:`model_input` is the heat map's job: the same file through the one
:func:`~pneumo.model.preprocess.preprocess`. A film that is slow to decode
(classic JPEG 2000) is first painted from :func:`load_preview_for_display`, a
reduced decode. The viewer puts the preview and the film ahead of every queued
job (:meth:`~pneumo.scanning.pool.DecoderPool.submit_all_first`), and the heat
map's job behind them, so that with idle workers the film is painted while
the other worker prepares the heat map's input: measured, that is sooner for
both than one job doing both from one decode (``bench/bench_viewer.py``: 70
against 81 ms for an uncompressed 3,000 px film, 233 against 289 ms for
JPEG-LS).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pneumo.errors import ImageError
from pneumo.films.imaging import ImageMetadata, load_image
from pneumo.model.margins import Box
from pneumo.model.preprocess import Preprocessing, preprocess_with_box
from pneumo.scanning.prepare import Prepared

#: Grey levels of a display copy (window/level is a lookup table over them).
DISPLAY_LEVELS = 4096
#: The pyramid halves the film until its long side is at most this.
SMALLEST_SIDE = 1024


@dataclass(frozen=True)
class HeatInput:
    """A film's model input and where on the film it came from (the heat map's place)."""

    model_input: np.ndarray
    box: Box
    shape: tuple[int, int]


@dataclass(frozen=True)
class DisplayFilm:
    """A film ready to draw (or why it cannot be): see the module docstring."""

    path: Path
    metadata: ImageMetadata | None = None
    levels: np.ndarray | None = None
    pyramid: tuple[np.ndarray, ...] = ()
    auto_window: tuple[float, float] = (1.0, 0.5)
    warnings: tuple[str, ...] = ()
    problem: str | None = None
    full_size: tuple[int, int] | None = None
    """Set on a quick preview (:func:`load_preview_for_display`): the (rows, columns)
    of the film that ``levels`` stands for at a reduced size."""


def load_for_display(path: Path) -> DisplayFilm:
    """Decode ``path`` for the viewer."""
    try:
        image = load_image(path)
    except ImageError as exc:
        return DisplayFilm(Path(path), problem=exc.problem)
    levels, window = display_levels(image.pixels)
    return DisplayFilm(Path(path), image.metadata, levels, pyramid(levels), window,
                       tuple(image.warnings))


def load_preview_for_display(path: Path) -> DisplayFilm | None:
    """A quick reduced picture of ``path`` while its full decode runs
    (:func:`pneumo.films.preview.load_preview`), or None when it has none."""
    from pneumo.films.preview import load_preview

    image = load_preview(path)
    if image is None:
        return None
    levels, window = display_levels(image.pixels)
    return DisplayFilm(Path(path), image.metadata, levels, pyramid(levels), window,
                       tuple(image.warnings),
                       full_size=(image.metadata.height, image.metadata.width))


def model_input(path: Path, spec: Preprocessing) -> HeatInput | str:
    """The model input of ``path`` (:func:`preprocess`) and the region of the film it
    was made from, or why there is none."""
    try:
        image = load_image(path)
        shape = (int(image.pixels.shape[0]), int(image.pixels.shape[1]))
        return HeatInput(*preprocess_with_box(image, spec), shape)
    except ImageError as exc:
        return exc.problem


class RecentHeatInputs:
    """The heat map inputs of the last few films a scan prepared, by path.

    A scan decodes and preprocesses each film anyway; the app keeps the last
    ``size`` of those inputs (``add`` is the scan's ``on_prepared``), so
    that the heat map of a film it shows while or after scanning it needs no
    second decode. Thread-safe: the scan adds in its thread, the viewer's job
    reads in another.
    """

    def __init__(self, size: int = 8) -> None:
        self._size = max(1, size)
        self._items: OrderedDict[Path, HeatInput] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, prepared: Prepared) -> None:
        """Keep ``prepared``'s model input (files that have none are left out)."""
        meta = prepared.metadata
        if prepared.model_input is None or prepared.box is None or meta is None:
            return
        heat = HeatInput(prepared.model_input, prepared.box, (meta.height, meta.width))
        with self._lock:
            self._items.pop(prepared.path, None)
            self._items[prepared.path] = heat
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def get(self, path: Path) -> HeatInput | None:
        """The kept input of ``path``, if any."""
        with self._lock:
            return self._items.get(Path(path))


def display_levels(pixels: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """``uint16`` display levels of [0, 1] pixels and an auto (1-99 %) window.

    The window is ``(width, centre)`` in [0, 1] units.
    """
    scaled = np.multiply(pixels, np.float32(DISPLAY_LEVELS - 1), dtype=np.float32)
    scaled += np.float32(0.5)  # pixels are in [0, 1]: no clipping needed
    step = max(1, int(np.sqrt(pixels.size / 250_000)))
    lo, hi = np.percentile(pixels[::step, ::step], [1.0, 99.0])
    width = max(float(hi - lo), 0.05)
    return scaled.astype(np.uint16), (width, float(lo + hi) / 2.0)


def pyramid(levels: np.ndarray) -> tuple[np.ndarray, ...]:
    """Halved copies of ``levels`` (2 x 2 means) down to :data:`SMALLEST_SIDE`."""
    out: list[np.ndarray] = []
    current = levels
    while max(current.shape) > SMALLEST_SIDE:
        h, w = current.shape
        # Bilinear at exactly half size averages 2 x 2 blocks, and is fast.
        current = cv2.resize(current[: h - h % 2, : w - w % 2], (max(1, w // 2), max(1, h // 2)),
                             interpolation=cv2.INTER_LINEAR)
        out.append(current)
    return tuple(out)
