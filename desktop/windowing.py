"""Grey levels on screen: window presets, the window/level lookup table, and
numpy arrays as QImages (what :class:`desktop.viewer.ImageViewer` draws).

Window and level are in [0, 1] image units; a film comes as ``uint16``
display levels (:data:`pneumo.scanning.display.DISPLAY_LEVELS` of them), and
a window is applied by indexing a ``uint8`` table with them.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

#: Window presets: name -> (width, centre) in [0, 1] units; None = auto (1-99 %).
PRESETS: dict[str, tuple[float, float] | None] = {
    "Auto": None,
    "Full range": (1.0, 0.5),
    "Lung": (0.55, 0.35),
    "Mediastinum": (0.45, 0.65),
    "High contrast": (0.3, 0.5),
}
MIN_WIDTH = 0.01


def window_lut(width: float, centre: float, levels: int, invert: bool) -> np.ndarray:
    """``uint8`` lookup table mapping ``levels`` grey levels through a window."""
    x = np.arange(levels, dtype=np.float32) / np.float32(levels - 1)
    lo = centre - width / 2.0
    out = np.clip((x - lo) / max(width, MIN_WIDTH), 0.0, 1.0)
    if invert:
        out = 1.0 - out
    return (out * 255.0 + 0.5).astype(np.uint8)


def gray_qimage(gray: np.ndarray) -> QImage:
    """A QImage (own copy) of a 2-D ``uint8`` array."""
    arr = np.ascontiguousarray(gray, dtype=np.uint8)
    h, w = arr.shape
    return QImage(arr.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def rgba_qimage(rgba: np.ndarray) -> QImage:
    """A QImage (own copy) of an (H, W, 4) ``uint8`` RGBA array."""
    arr = np.ascontiguousarray(rgba, dtype=np.uint8)
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
