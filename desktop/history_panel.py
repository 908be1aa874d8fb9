"""The "Earlier results" pane: a film's results kept in the result store.

Newest first; a result made by another model file than the one loaded (another
model version) is marked and greyed. The rows come from
:func:`pneumo.results.history.film_history`; this widget only lists them.
"""

from __future__ import annotations

from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from pneumo.results.history import EarlierResult

OTHER_MODEL_COLOUR = "#8a6d00"


class HistoryPanel(QWidget):
    """A list of a film's earlier results with a one-line heading."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = QLabel("No film selected.")
        self.heading.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("earlierResults")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.heading)
        layout.addWidget(self.list, 1)

    def show_note(self, text: str) -> None:
        """No list, only ``text`` (no store, no selection, not scanned yet)."""
        self.heading.setText(text)
        self.list.clear()

    def show_results(self, results: tuple[EarlierResult, ...]) -> None:
        """List ``results`` (newest first), marking those of another model."""
        others = sum(r.other_model for r in results)
        text = f"{len(results)} result{'s' if len(results) != 1 else ''} in the store"
        if others:
            text += f", {others} by another model version (marked)"
        self.heading.setText(text + ".")
        self.list.clear()
        for result in results:
            item = QListWidgetItem(result.text())
            if result.other_model:
                item.setForeground(QBrush(QColor(OTHER_MODEL_COLOUR)))
                font = QFont(item.font())
                font.setItalic(True)
                item.setFont(font)
                item.setToolTip(f"Made by another model file (sha256 {result.model_sha256}); "
                                "the model now loaded may answer differently.")
            self.list.addItem(item)

    def texts(self) -> list[str]:
        """The listed lines (for tests)."""
        return [self.list.item(i).text() for i in range(self.list.count())]
