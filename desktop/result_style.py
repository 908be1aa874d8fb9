"""How a warning is drawn in the app: the style's warning icon (the result colours,
trusted and unreliable, are the core's: :func:`pneumo.results.display.colours_for`)."""

from __future__ import annotations

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle


def warning_icon() -> QIcon:
    """The style's standard warning icon (a null icon without an application)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return QIcon()
    return app.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
