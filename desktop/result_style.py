"""How results are drawn: colours of a result (trusted or unreliable) and the warning icon."""

from __future__ import annotations

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle

from pneumo.results.display import RowState

#: Result colours: (text, background).
COLOURS = {
    RowState.POSITIVE: ("#ffffff", "#b3261e"),
    RowState.NEGATIVE: ("#ffffff", "#2e7d32"),
    RowState.ERROR: ("#000000", "#f9a825"),
}
#: Colours of a result that comes with a warning: washed out, the label's colour as text
#: (the row also has a warning icon and the word "unreliable", not only colour).
UNRELIABLE_COLOURS = {
    RowState.POSITIVE: ("#8c1d18", "#f6dcd9"),
    RowState.NEGATIVE: ("#1e5b22", "#dcebdd"),
}


def warning_icon() -> QIcon:
    """The style's standard warning icon (a null icon without an application)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return QIcon()
    return app.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
