"""Where the main window opens: sized to the screen the first time, and a
saved geometry only where it still fits.

A first launch takes :data:`FIRST_FRACTION` of the screen's available area,
centred. A saved geometry is restored only when the window then lies on one
screen's available area and is no smaller than :data:`MIN_SIZE` (or that
screen): a geometry saved on another monitor, at another resolution or on
Qt's offscreen platform would otherwise bring back a window off the screen or
squeezed flat.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

FIRST_FRACTION = 0.8
MIN_SIZE = QSize(640, 480)
#: Pixels a restored window may stick out of the screen (window-manager frames).
SLACK = 16


def first_launch_rect(available: QRect, fraction: float = FIRST_FRACTION) -> QRect:
    """``fraction`` of ``available`` in each direction, centred in it."""
    size = QSize(round(available.width() * fraction), round(available.height() * fraction))
    rect = QRect(0, 0, size.width(), size.height())
    rect.moveCenter(available.center())
    return rect


def fits(rect: QRect, screens: list[QRect]) -> bool:
    """Whether ``rect`` lies on one of ``screens`` (available areas) and is not
    smaller than :data:`MIN_SIZE`, or than that screen when it is smaller."""
    for area in screens:
        grown = area.adjusted(-SLACK, -SLACK, SLACK, SLACK)
        if grown.contains(rect):
            return (rect.width() >= min(MIN_SIZE.width(), area.width())
                    and rect.height() >= min(MIN_SIZE.height(), area.height()))
    return False


def place_window(window: QWidget, saved: QByteArray | None) -> bool:
    """Restore ``saved`` when it fits a screen, else size ``window`` for its
    first launch. Returns whether the saved geometry was used."""
    screens = [s.availableGeometry() for s in QGuiApplication.screens()]
    if saved is not None and window.restoreGeometry(saved):
        if window.isMaximized() or window.isFullScreen() or fits(window.geometry(), screens):
            return True
        window.setWindowState(Qt.WindowState.WindowNoState)
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        window.setGeometry(first_launch_rect(screen.availableGeometry()))
    return False
