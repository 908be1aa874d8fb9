"""Image viewer: zoom, pan, window/level, invert, and a heat-map overlay.

A :class:`QGraphicsView` showing two pixmap items: the film (grey levels
through a window/level lookup table) and the Grad-CAM overlay above it.
Mouse: wheel zooms at the cursor, left drag changes window (horizontal) and
level (vertical), middle or right drag pans. Window and level are in [0, 1]
image units. Everything heavy (decoding, colour mapping) happens in workers;
the viewer only applies a lookup table, to the copy of the film (full size, or
one of the halved copies of its display pyramid) that has just enough pixels
for the current zoom, so window/level stays fluid on a 3,000 px film.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from desktop.windowing import MIN_WIDTH, PRESETS, gray_qimage, rgba_qimage, window_lut
from pneumo.scanning.display import DISPLAY_LEVELS

_DRAG_GAIN = 1.0 / 400.0  # window units per screen pixel of drag
_ZOOM_STEP = 1.2
_HALVING_SLACK = 0.995


class ImageViewer(QGraphicsView):
    """The film with an optional overlay; see the module docstring."""

    window_changed = Signal(float, float)
    """(width, centre) after every window/level change."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QColor("#101214"))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # file drops go to the main window
        self._image_item = QGraphicsPixmapItem()
        self._image_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._overlay_item = QGraphicsPixmapItem()
        self._overlay_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._overlay_item.setZValue(1.0)
        self.scene().addItem(self._image_item)
        self.scene().addItem(self._overlay_item)
        self._levels: np.ndarray | None = None
        self._pyramid: tuple[np.ndarray, ...] = ()
        self._preview_of: tuple[int, int] | None = None
        self._shown = -1  # the pyramid level drawn (0: full size)
        self._auto: tuple[float, float] = (1.0, 0.5)
        self._window: tuple[float, float] = (1.0, 0.5)
        self._invert = False
        self._fit_mode = True
        self._drag: tuple[Qt.MouseButton, QPoint] | None = None
        self._overlay_wanted = True
        self._has_overlay = False
        self.set_overlay_opacity(0.45)

    # -- content -----------------------------------------------------------------
    def has_image(self) -> bool:
        """True while a film is shown."""
        return self._levels is not None

    def set_image(self, levels: np.ndarray, auto_window: tuple[float, float],
                  pyramid: tuple[np.ndarray, ...] = (),
                  preview_of: tuple[int, int] | None = None) -> None:
        """Show a film given as ``uint16`` display levels (and halved copies of
        them, smallest last); window set to auto. ``preview_of``: ``levels`` is a
        reduced preview of a film of this (rows, columns), which
        :meth:`sharpen` replaces."""
        self._levels = levels
        self._pyramid = (levels, *pyramid)
        self._auto = auto_window
        self._window = auto_window
        self._preview_of = preview_of
        self.set_overlay(None)
        h, w = preview_of or levels.shape
        self.scene().setSceneRect(QRectF(0, 0, w, h))
        self.fit()
        self._render()

    def showing_preview_of(self, shape: tuple[int, ...]) -> bool:
        """True while a preview of a film of ``shape`` (rows, columns) is shown."""
        return self._preview_of is not None and tuple(self._preview_of) == tuple(shape)

    def sharpen(self, levels: np.ndarray, auto_window: tuple[float, float],
                pyramid: tuple[np.ndarray, ...] = ()) -> None:
        """Replace the preview by the film itself, keeping zoom, pan, inversion,
        and a window the user chose (an automatic one becomes the film's)."""
        if not self.showing_preview_of(levels.shape):
            self.set_image(levels, auto_window, pyramid)
            return
        if self._window == self._auto:
            self._window = auto_window
        self._auto = auto_window
        self._levels = levels
        self._pyramid = (levels, *pyramid)
        self._preview_of = None
        self._render()

    def clear(self) -> None:
        """Show nothing."""
        self._levels = None
        self._pyramid = ()
        self._preview_of = None
        self._image_item.setPixmap(QPixmap())
        self.set_overlay(None)

    def set_overlay(self, rgba: np.ndarray | None) -> None:
        """Set the overlay (H, W, 4) ``uint8`` at image size, or remove it."""
        if rgba is None:
            self._overlay_item.setPixmap(QPixmap())
            self._has_overlay = False
        else:
            self._overlay_item.setPixmap(QPixmap.fromImage(rgba_qimage(rgba)))
            width = self.scene().sceneRect().width()
            self._overlay_item.setScale(width / rgba.shape[1] if width else 1.0)
            self._has_overlay = True
        self._overlay_item.setVisible(self._has_overlay and self._overlay_wanted)

    def has_overlay(self) -> bool:
        """True when an overlay is loaded (visible or not)."""
        return self._has_overlay

    def set_overlay_visible(self, visible: bool) -> None:
        """Show or hide the overlay."""
        self._overlay_wanted = bool(visible)
        self._overlay_item.setVisible(self._has_overlay and self._overlay_wanted)

    def overlay_visible(self) -> bool:
        """True when an overlay is loaded and drawn."""
        return self._overlay_item.isVisible()

    def set_overlay_opacity(self, opacity: float) -> None:
        """Overlay opacity in [0, 1]."""
        self._overlay_item.setOpacity(min(1.0, max(0.0, float(opacity))))

    def overlay_opacity(self) -> float:
        """Current overlay opacity."""
        return float(self._overlay_item.opacity())

    # -- window / level ------------------------------------------------------------
    @property
    def window_level(self) -> tuple[float, float]:
        """Current window (width, centre), in [0, 1] units."""
        return self._window

    @property
    def inverted(self) -> bool:
        """True when grey levels are inverted."""
        return self._invert

    def set_window(self, width: float, centre: float) -> None:
        """Set window width and centre (level), in [0, 1] units."""
        self._window = (min(2.0, max(MIN_WIDTH, float(width))), min(1.5, max(-0.5, centre)))
        self._render()

    def apply_preset(self, name: str) -> None:
        """Apply one of :data:`PRESETS`."""
        preset = PRESETS.get(name)
        self.set_window(*(self._auto if preset is None else preset))

    def set_invert(self, invert: bool) -> None:
        """Invert grey levels (white bones become black)."""
        self._invert = bool(invert)
        self._render()

    def toggle_invert(self) -> None:
        """Flip :attr:`inverted`."""
        self.set_invert(not self._invert)

    def reset(self) -> None:
        """Auto window, no inversion, fit to the view."""
        self._invert = False
        self.set_window(*self._auto)
        self.fit()

    # -- zoom ----------------------------------------------------------------------
    def fit(self) -> None:
        """Fit the whole film in the view (and keep fitting on resize)."""
        self._fit_mode = True
        if self._levels is not None:
            self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
            self._follow_zoom()

    def actual_size(self) -> None:
        """One image pixel per screen pixel."""
        self._fit_mode = False
        self.resetTransform()
        self._follow_zoom()

    def zoom_by(self, factor: float) -> None:
        """Zoom in (factor > 1) or out around the anchor."""
        scale = self.transform().m11() * factor
        if 0.02 < scale < 40.0:
            self._fit_mode = False
            self.scale(factor, factor)
            self._follow_zoom()

    def zoom_factor(self) -> float:
        """Screen pixels per image pixel."""
        return float(self.transform().m11())

    # -- rendering -----------------------------------------------------------------
    def shown_level(self) -> int:
        """Which copy is drawn: 0 for full size, 1 for the half-size copy, ..."""
        return self._shown

    def _level_for_zoom(self) -> int:
        """The smallest copy with at least one pixel per screen pixel (else the largest)."""
        zoom = self.zoom_factor()
        width = self.scene().sceneRect().width()
        if len(self._pyramid) < 2 or zoom <= 0 or width <= 0:
            return 0
        for level in range(len(self._pyramid) - 1, 0, -1):
            # a halved copy of an odd size is a little under half: allow for it
            if self._pyramid[level].shape[1] / width >= zoom * _HALVING_SLACK:
                return level
        return 0

    def _follow_zoom(self) -> None:
        if self._levels is not None and self._level_for_zoom() != self._shown:
            self._render()

    def _render(self) -> None:
        if self._levels is not None:
            self._shown = self._level_for_zoom()
            copy = self._pyramid[self._shown]
            lut = window_lut(*self._window, levels=DISPLAY_LEVELS, invert=self._invert)
            self._image_item.setPixmap(QPixmap.fromImage(gray_qimage(lut[copy])))
            self._image_item.setScale(self.scene().sceneRect().width() / copy.shape[1])
        self.window_changed.emit(*self._window)

    def composite_image(self) -> QImage | None:
        """The film as windowed, with the overlay as drawn, at image resolution."""
        if self._levels is None:
            return None
        lut = window_lut(*self._window, levels=DISPLAY_LEVELS, invert=self._invert)
        base = gray_qimage(lut[self._levels]).convertToFormat(QImage.Format.Format_RGB32)
        if self.overlay_visible():
            painter = QPainter(base)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.setOpacity(self._overlay_item.opacity())
            h, w = self._levels.shape
            painter.drawPixmap(QRectF(0, 0, w, h), self._overlay_item.pixmap(),
                               QRectF(self._overlay_item.pixmap().rect()))
            painter.end()
        return base

    # -- events --------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        """Keep fitting while in fit mode."""
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Zoom at the cursor."""
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(_ZOOM_STEP**steps)
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Start a window/level (left) or pan (middle, right) drag."""
        if self._levels is None:
            super().mousePressEvent(event)
            return
        self._drag = (event.button(), event.position().toPoint())
        if event.button() != Qt.MouseButton.LeftButton:
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Change window/level or pan while dragging."""
        if self._drag is None:
            super().mouseMoveEvent(event)
            return
        button, last = self._drag
        pos = event.position().toPoint()
        delta = pos - last
        self._drag = (button, pos)
        if button == Qt.MouseButton.LeftButton:
            width, centre = self._window
            self.set_window(width + delta.x() * _DRAG_GAIN, centre + delta.y() * _DRAG_GAIN)
        else:
            self._fit_mode = False
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            h.setValue(h.value() - delta.x())
            v.setValue(v.value() - delta.y())
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """End a drag."""
        self._drag = None
        self.viewport().unsetCursor()
        super().mouseReleaseEvent(event)
