"""The worklist pane: filter bar, sortable table, progress bar and Cancel."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.worklist_filter import WorklistFilter
from desktop.worklist_model import (
    COL_FILE,
    COL_PATIENT,
    COL_PROBABILITY,
    COL_RESULT,
    COL_STUDY,
    ROW_ROLE,
    WorklistModel,
    WorklistRow,
)
from pneumo.results.worklist import RowFilter, count_text, filter_choices

COLUMN_WIDTHS = {COL_FILE: 170, COL_RESULT: 190, COL_PROBABILITY: 82, COL_PATIENT: 130,
                 COL_STUDY: 150}


class WorklistPanel(QWidget):
    """Shows a :class:`WorklistModel` through a :class:`WorklistFilter`."""

    row_selected = Signal(object)
    """The selected :class:`WorklistRow`, or None."""
    cancel_requested = Signal()

    def __init__(self, model: WorklistModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = WorklistFilter(self)
        self.proxy.setSourceModel(model)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter (file, patient, result…)")
        self.filter_edit.setClearButtonEnabled(True)
        self.category = QComboBox()
        self._fill_categories()
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # input order until asked
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in COLUMN_WIDTHS.items():
            header.resizeSection(col, width)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m")
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.count_label = QLabel("No files")
        self._note = ""
        self._build()
        self.filter_edit.textChanged.connect(self.proxy.set_text)
        self.category.currentIndexChanged.connect(self._category_chosen)
        model.labels_changed.connect(self._fill_categories)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(150)
        self._count_timer.timeout.connect(self._update_count)
        for sig in (model.rowsInserted, model.modelReset, model.dataChanged):
            sig.connect(self._count_timer.start)

    def _build(self) -> None:
        bar = QHBoxLayout()
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.category)
        status = QHBoxLayout()
        status.addWidget(self.count_label, 1)
        status.addWidget(self.progress, 2)
        status.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addLayout(status)

    # -- progress --------------------------------------------------------------------
    def scan_started(self) -> None:
        """Show the progress bar and the Cancel button."""
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)

    def set_progress(self, done: int, total: int) -> None:
        """``done`` of ``total`` files classified."""
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def scan_finished(self) -> None:
        """Hide the progress bar and the Cancel button."""
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)

    # -- selection -------------------------------------------------------------------
    def selected_row(self) -> WorklistRow | None:
        """The row under the cursor, if any."""
        index = self.table.currentIndex()
        row = index.data(ROW_ROLE) if index.isValid() else None
        return row if isinstance(row, WorklistRow) else None

    def select_proxy_row(self, row: int) -> None:
        """Select a row in the (sorted, filtered) view order."""
        count = self.proxy.rowCount()
        if count == 0:
            return
        row = min(max(row, 0), count - 1)
        index = self.proxy.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(index)

    def move_selection(self, step: int) -> None:
        """Select the row ``step`` rows below (negative: above) the current one."""
        current = self.table.currentIndex()
        self.select_proxy_row(current.row() + step if current.isValid() else 0)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = current.data(ROW_ROLE) if current.isValid() else None
        self.row_selected.emit(row if isinstance(row, WorklistRow) else None)

    def set_note(self, note: str) -> None:
        """What the last walk left out (or that it found no image files), beside the count."""
        self._note = note
        self._update_count()

    def _update_count(self) -> None:
        text = count_text((r.state for r in self.model.rows), self.model.labels)
        note = self._note
        if note and not self.model.rows:
            text = note
        elif note:
            text = f"{text} · {note}"
        self.count_label.setText(text)

    def _fill_categories(self) -> None:
        """The result filter's entries, named with the card's labels; keeps the choice."""
        chosen = self.category.currentData()
        self.category.blockSignals(True)
        self.category.clear()
        for text, choice in filter_choices(self.model.labels):
            self.category.addItem(text, choice)
        self.category.setCurrentIndex(max(self.category.findData(chosen), 0))
        self.category.blockSignals(False)
        self._category_chosen()

    def _category_chosen(self, *_index: int) -> None:
        choice = self.category.currentData()
        self.proxy.set_category(choice if isinstance(choice, RowFilter) else RowFilter.ALL)
