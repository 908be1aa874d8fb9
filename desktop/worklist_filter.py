"""Sorting and filtering the worklist: a proxy over
:class:`~desktop.worklist_model.WorklistModel` by free text and result category
(the categories are the core's, :func:`pneumo.results.worklist.filter_accepts`)."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSortFilterProxyModel, Qt

from desktop.worklist_model import ROW_ROLE, SORT_ROLE, ModelIndex, WorklistRow
from pneumo.results.worklist import RowFilter, filter_accepts, has_warnings


class WorklistFilter(QSortFilterProxyModel):
    """Sorts by :data:`SORT_ROLE`; filters by free text and result category."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._category = RowFilter.ALL
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_text(self, text: str) -> None:
        """Keep rows where any column contains ``text`` (case-insensitive)."""
        self._text = text.strip().lower()
        self.invalidate()

    def set_category(self, category: RowFilter) -> None:
        """Keep the rows that pass ``category`` (see :func:`pneumo.results.worklist.filter_accepts`)."""
        self._category = category
        self.invalidate()

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        """Apply the category then the text filter."""
        model = self.sourceModel()
        row = model.index(source_row, 0, source_parent).data(ROW_ROLE)
        if not isinstance(row, WorklistRow):
            return True
        if not filter_accepts(self._category, row.state, has_warnings(row.record)):
            return False
        if not self._text:
            return True
        for col in range(model.columnCount()):
            value = model.index(source_row, col, source_parent).data(Qt.ItemDataRole.DisplayRole)
            if self._text in str(value or "").lower():
                return True
        return False
