"""Finding the uniform margins around a film (a scanner's padding, a collimator's
black, a scanned film's white frame), so that preprocessing can crop them away.

Used only by :func:`pneumo.model.preprocess.preprocess` when the card's
:class:`~pneumo.model.preprocess.Preprocessing` asks for it (``trim``). A
margin is a run of whole rows (or columns) at an edge that are near-constant
at the value of the outermost one. Lines are judged on a copy reduced to
about :data:`DETECT_SIDE` pixels on its short side and median-filtered (noise);
pixels away from the edge's value that form only small blobs there (letters
and markers burned into a margin) are ignored; a line counts as margin when
nearly all of its other pixels lie within a tolerance of the edge's value, so
a line that crosses the patient is never one. The run found on the copy is
then followed line by line at full size, so that no sliver of margin is left.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Short side of the copy on which margins are found.
DETECT_SIDE = 256
#: Median filter on that copy (against noise).
_MEDIAN = 3
#: A margin line: this share of its pixels within ``_TOLERANCE`` of the edge's value,
#: not counting blobs smaller than ``_BLOB`` of the copy's area (letters).
_SHARE = 0.9
_TOLERANCE = 0.03
_BLOB = 0.005
#: Opening of the pixels away from the edge's value: strokes thinner than this go.
_STROKE = 5
#: Margins are trimmed only while at least this share of each side is left.
_KEEP = 0.5


@dataclass(frozen=True)
class Box:
    """Rows ``top:bottom`` and columns ``left:right`` of an image."""

    top: int
    bottom: int
    left: int
    right: int

    def is_whole(self, shape: tuple[int, ...]) -> bool:
        """True when the box is the whole of an image of ``shape``."""
        return (self.top, self.left) == (0, 0) and (self.bottom, self.right) == shape[:2]

    @classmethod
    def whole(cls, shape: tuple[int, ...]) -> Box:
        """The whole of an image of ``shape``."""
        return cls(0, int(shape[0]), 0, int(shape[1]))

    def scaled(self, shape: tuple[int, ...], to: tuple[int, ...]) -> Box:
        """The same region of an image of ``shape`` resized to ``to``."""
        fy, fx = to[0] / shape[0], to[1] / shape[1]
        return Box(round(self.top * fy), max(round(self.top * fy) + 1, round(self.bottom * fy)),
                   round(self.left * fx), max(round(self.left * fx) + 1, round(self.right * fx)))


def _edge_run(lines: np.ndarray) -> int:
    """How many leading rows of ``lines`` are near-constant at the first row's value
    (small blobs aside)."""
    value = float(np.median(lines[0]))
    far = (np.abs(lines - value) > _TOLERANCE).astype(np.uint8)
    away = cv2.morphologyEx(far, cv2.MORPH_OPEN, np.ones((_STROKE, _STROKE), np.uint8))
    _, blobs, stats, _ = cv2.connectedComponentsWithStats(away, connectivity=8)
    small = stats[:, cv2.CC_STAT_AREA] < _BLOB * lines.size
    small[0] = True  # label 0: the pixels near the value
    uniform = (~small[blobs]).mean(axis=1) <= 1.0 - _SHARE
    ends = np.flatnonzero(~uniform)
    return int(ends[0]) if len(ends) else len(lines)


def _follow(lines: np.ndarray, start: int, limit: int) -> int:
    """Extend a run found at reduced size line by line at full size, up to ``limit``
    (a margin thinner than a line of the reduced copy is found here too)."""
    value = float(np.median(lines[0]))
    end = start
    while end < limit and (np.abs(lines[end] - value) <= _TOLERANCE).mean() >= _SHARE:
        end += 1
    return end


def _detection_copy(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` reduced by area to about :data:`DETECT_SIDE` on the short side,
    clipped to ``[0, 1]``; small films (every training film) are only clipped.

    A clinical-size film is first halved (2 x 2 means, OpenCV's fast path) while
    its short side is at least four times that, then resized once: a third of
    the cost of one area resize from 3,000 px, on a copy only used to find lines.
    """
    film: np.ndarray = np.asarray(pixels, dtype=np.float32)
    while min(film.shape) >= 4 * DETECT_SIDE:
        h, w = film.shape
        film = cv2.resize(film[: h - h % 2, : w - w % 2], (w // 2, h // 2),
                          interpolation=cv2.INTER_AREA)
    h, w = film.shape
    factor = DETECT_SIDE / max(1, min(h, w))
    if factor < 1.0:
        film = cv2.resize(film, (max(1, round(w * factor)), max(1, round(h * factor))),
                          interpolation=cv2.INTER_AREA)
    return np.clip(film, 0.0, 1.0).astype(np.float32, copy=False)


def margin_box(pixels: np.ndarray) -> Box:
    """The part of a 2-D ``[0, 1]`` image inside its uniform margins (the whole
    image when it has none, or when trimming would leave less than half a side)."""
    h, w = pixels.shape
    film = _detection_copy(pixels)
    factor_y, factor_x = film.shape[0] / h, film.shape[1] / w
    levels = np.round(film * 255.0).astype(np.uint8)
    small: np.ndarray = cv2.medianBlur(levels, _MEDIAN) / 255.0
    sh, sw = small.shape
    found = [_edge_run(small[: sh // 2]), _edge_run(small[::-1][: sh // 2]),
             _edge_run(small.T[: sw // 2]), _edge_run(small.T[::-1][: sw // 2])]
    full = (pixels, pixels[::-1], pixels.T, pixels.T[::-1])
    factors = (factor_y, factor_y, factor_x, factor_x)
    top, bottom, left, right = (_follow(lines, int(run / factor), len(lines) // 2)
                                for lines, run, factor in zip(full, found, factors, strict=True))
    # A run to the middle means a near-blank image, not a margin.
    if h - top - bottom < _KEEP * h or max(top, bottom) >= h // 2:
        top = bottom = 0
    if w - left - right < _KEEP * w or max(left, right) >= w // 2:
        left = right = 0
    return Box(top, h - bottom, left, w - right)


def trim_margins(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` without their uniform margins; the very same array when it has none."""
    box = margin_box(pixels)
    if box.is_whole(pixels.shape):
        return pixels
    return pixels[box.top:box.bottom, box.left:box.right]
