"""The worklist: one row per file, as a Qt table model (its sorting and
filtering proxy is :class:`desktop.worklist_filter.WorklistFilter`).

Rows are frozen :class:`WorklistRow` values wrapping the core
:class:`~pneumo.results.records.ScanRecord`; the model only displays them. Rows are
added as *pending* when a scan finds a file and filled when its record arrives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor

from desktop.result_style import warning_icon
from pneumo.model.card import LABELS, ModelCard
from pneumo.results.display import Labels, RowState, colours_for, row_state, state_name
from pneumo.results.records import ScanRecord
from pneumo.results.worklist import patient_text, result_text, study_text
from pneumo.util.text import display_path, escape_text

ROW_ROLE = Qt.ItemDataRole.UserRole + 1
"""Item role returning the row's :class:`WorklistRow`."""
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
"""Item role returning a sortable key."""

COLUMNS = ("File", "Result", "Probability", "Patient", "Study", "Warnings")
COL_FILE, COL_RESULT, COL_PROBABILITY, COL_PATIENT, COL_STUDY, COL_WARNINGS = range(6)

ModelIndex = QModelIndex | QPersistentModelIndex
"""The index types Qt passes to a model's methods."""


@dataclass(frozen=True)
class WorklistRow:
    """A file in the worklist: its record once scanned, or pending/cancelled."""

    path: Path
    record: ScanRecord | None = None
    cancelled: bool = False
    labels: Labels = LABELS
    """The model card's label names (negative, positive)."""

    @property
    def state(self) -> RowState:
        """Pending, cancelled, error, negative or positive."""
        return row_state(self.record, self.labels, self.cancelled)

    @property
    def unreliable(self) -> bool:
        """True for a result that comes with a warning (drawn with an icon and a word)."""
        return self.record is not None and self.record.unreliable

    @property
    def status(self) -> str:
        """The state's name: the card's label, or ERROR, PENDING or CANCELLED."""
        return state_name(self.state, self.labels)

    def as_record(self) -> ScanRecord:
        """The record, or an error record saying why there is none (for export)."""
        if self.record is not None:
            return self.record
        why = "scan cancelled" if self.cancelled else "not scanned yet"
        return ScanRecord(path=self.path, error=why)


class WorklistModel(QAbstractTableModel):
    """Table model over a list of :class:`WorklistRow`; rows keyed by path."""

    labels_changed = Signal()
    """The label names changed (a model with another card was loaded)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[WorklistRow] = []
        self._index: dict[str, int] = {}
        self._hide_identifiers = False
        self._labels: Labels = LABELS

    # -- Qt model API ------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        """Number of files."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        """Number of columns."""
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Display text, colours, tooltips, sort keys and the row itself."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, col)
        if role == SORT_ROLE:
            if col == COL_PROBABILITY:
                p = row.record.probability if row.record else None
                return -1.0 if p is None else p
            return self._text(row, col).lower()
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, col)
        if col == COL_RESULT and role == Qt.ItemDataRole.DecorationRole:
            return warning_icon() if row.unreliable else None
        if col == COL_RESULT and role in (
            Qt.ItemDataRole.ForegroundRole,
            Qt.ItemDataRole.BackgroundRole,
        ):
            if not (row.state.has_result or row.state is RowState.ERROR):
                return None
            fg, bg = colours_for(row.state, row.unreliable)
            return QBrush(QColor(fg if role == Qt.ItemDataRole.ForegroundRole else bg))
        if col == COL_PROBABILITY and role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    # -- content -----------------------------------------------------------------
    @property
    def labels(self) -> Labels:
        """The label names rows are shown with (the loaded model card's)."""
        return self._labels

    def set_labels(self, labels: Labels) -> None:
        """Show rows with the label names of a model card."""
        if labels == self._labels:
            return
        self._labels = labels
        for i, row in enumerate(self._rows):
            self._set_row(i, dataclasses.replace(row, labels=labels))
        self.labels_changed.emit()

    @property
    def rows(self) -> tuple[WorklistRow, ...]:
        """All rows, in insertion order."""
        return tuple(self._rows)

    def row_at(self, row: int) -> WorklistRow:
        """The row at a source-model row number."""
        return self._rows[row]

    def row_of(self, path: Path) -> int | None:
        """Source-model row number of ``path``, if listed."""
        return self._index.get(str(path))

    def records(self) -> list[ScanRecord]:
        """One record per row, for export (pending/cancelled rows as errors)."""
        return [r.as_record() for r in self._rows]

    def clear(self) -> None:
        """Remove every row."""
        self.beginResetModel()
        self._rows.clear()
        self._index.clear()
        self.endResetModel()

    def add_pending(self, paths: Iterable[Path]) -> None:
        """Add files about to be scanned; already listed files become pending again."""
        new: list[WorklistRow] = []
        seen: set[str] = set()
        for path in paths:
            key = str(path)
            existing = self._index.get(key)
            if existing is not None:
                self._set_row(existing, self._row(path))
            elif key not in seen:
                seen.add(key)
                new.append(self._row(path))
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for i, row in enumerate(new):
                self._index[str(row.path)] = first + i
                self._rows.append(row)
            self.endInsertRows()

    def set_record(self, record: ScanRecord) -> None:
        """Store the result for a file (adding a row if it was not listed)."""
        existing = self._index.get(str(record.path))
        if existing is None:
            self.add_pending([record.path])
            existing = self._index[str(record.path)]
        self._set_row(existing, self._row(record.path, record))

    def mark_cancelled(self) -> None:
        """Turn every pending row into a cancelled one."""
        for i, row in enumerate(self._rows):
            if row.record is None and not row.cancelled:
                self._set_row(i, dataclasses.replace(row, cancelled=True))

    def mark_failed(self, reason: str) -> None:
        """Give every pending row an error record saying ``reason``."""
        for i, row in enumerate(self._rows):
            if row.record is None and not row.cancelled:
                self._set_row(i, self._row(row.path, ScanRecord(path=row.path, error=reason)))

    def relabel(self, card: ModelCard, threshold: float | None) -> None:
        """Recompute every label from its probability at ``threshold``."""
        for i, row in enumerate(self._rows):
            rec = row.record
            if rec is not None and rec.probability is not None:
                label = card.label_for(rec.probability, threshold)
                if label != rec.label:
                    self._set_row(i, self._row(row.path, dataclasses.replace(rec, label=label)))

    def set_hide_identifiers(self, hide: bool) -> None:
        """Mask (or show) patient names and ids."""
        self._hide_identifiers = bool(hide)
        if self._rows:
            top = self.index(0, COL_PATIENT)
            self.dataChanged.emit(top, self.index(len(self._rows) - 1, COL_PATIENT))

    # -- internals ---------------------------------------------------------------
    def _row(self, path: Path, record: ScanRecord | None = None) -> WorklistRow:
        return WorklistRow(path, record, labels=self._labels)

    def _set_row(self, i: int, row: WorklistRow) -> None:
        self._rows[i] = row
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    def _text(self, row: WorklistRow, col: int) -> str:
        rec = row.record
        if col == COL_FILE:
            return display_path(row.path.name)
        if col == COL_PATIENT:
            return patient_text(rec, self._hide_identifiers)
        if col == COL_STUDY:
            return study_text(rec)
        if col == COL_RESULT:
            return result_text(rec, row.labels, row.cancelled)
        if col == COL_PROBABILITY:
            return "" if rec is None or rec.probability is None else f"{rec.probability:.3f}"
        if col == COL_WARNINGS:
            if rec is None:
                return ""
            text = rec.error if rec.error is not None else "; ".join(rec.warnings)
            return escape_text(text)
        return ""

    def _tooltip(self, row: WorklistRow, col: int) -> str:
        if col == COL_FILE:
            return display_path(row.path)
        return self._text(row, col)
