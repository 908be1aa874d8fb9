"""DICOM tags of the selected file, with an option to hide identifying fields."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pneumo.films.imaging import ImageMetadata
from pneumo.results.records import IDENTIFIER_FIELDS
from pneumo.results.worklist import HIDDEN_TEXT

#: (ImageMetadata attribute, label) in display order.
TAG_FIELDS = (
    ("patient_id", "Patient ID"),
    ("patient_name", "Patient name"),
    ("patient_age", "Patient age"),
    ("patient_sex", "Patient sex"),
    ("modality", "Modality"),
    ("body_part", "Body part"),
    ("view_position", "View position"),
    ("study_date", "Study date"),
    ("study_description", "Study description"),
    ("institution", "Institution"),
)
#: Technical fields shown below the DICOM tags.
IMAGE_FIELDS = (
    ("format", "Format"),
    ("photometric", "Photometric"),
    ("bits_stored", "Bits stored"),
    ("value_mapping", "Value mapping"),
)


def tag_rows(meta: ImageMetadata | None, hide_identifiers: bool) -> list[tuple[str, str]]:
    """(label, value) pairs for ``meta``; identifiers masked when asked."""
    if meta is None:
        return []
    rows: list[tuple[str, str]] = []
    for attr, label in TAG_FIELDS + IMAGE_FIELDS:
        value = getattr(meta, attr, None)
        text = "" if value is None else str(value)
        if attr == "patient_name":
            text = text.replace("^", " ").strip()
        if attr in IDENTIFIER_FIELDS and hide_identifiers and text:
            text = HIDDEN_TEXT
        rows.append((label, text))
    rows.insert(len(TAG_FIELDS), ("Size", f"{meta.width} x {meta.height} pixels"))
    return rows


class TagsPanel(QWidget):
    """A two-column table of tags and a "Hide identifying fields" check box."""

    hide_identifiers_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 2, self)
        self.table.setHorizontalHeaderLabels(["Tag", "Value"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents
        )
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.hide_box = QCheckBox("Hide identifying fields (name, ID)")
        self.note = QLabel("")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.hide_box)
        layout.addWidget(self.note)
        layout.addWidget(self.table)
        self._meta: ImageMetadata | None = None
        self.hide_box.toggled.connect(self._hide_toggled)

    def set_metadata(self, meta: ImageMetadata | None) -> None:
        """Show the tags of a file (None clears the table)."""
        self._meta = meta
        if meta is None:
            self.note.setText("No file selected.")
        elif meta.format != "DICOM":
            self.note.setText(f"{meta.format} file: no patient or study tags.")
        else:
            self.note.setText("")
        self.note.setVisible(bool(self.note.text()))
        self._refresh()

    def set_hide_identifiers(self, hide: bool) -> None:
        """Set the check box (without re-emitting when unchanged)."""
        self.hide_box.setChecked(bool(hide))
        self._refresh()

    def values(self) -> dict[str, str]:
        """Label -> shown value (for tests and copying)."""
        out: dict[str, str] = {}
        for r in range(self.table.rowCount()):
            label, value = self.table.item(r, 0), self.table.item(r, 1)
            if label is not None and value is not None:
                out[label.text()] = value.text()
        return out

    def _hide_toggled(self, hide: bool) -> None:
        self._refresh()
        self.hide_identifiers_changed.emit(hide)

    def _refresh(self) -> None:
        rows = tag_rows(self._meta, self.hide_box.isChecked())
        self.table.setRowCount(len(rows))
        for r, (label, value) in enumerate(rows):
            key = QTableWidgetItem(label)
            key.setFlags(Qt.ItemFlag.ItemIsEnabled)
            val = QTableWidgetItem(value or "—")
            val.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            self.table.setItem(r, 0, key)
            self.table.setItem(r, 1, val)
        self.table.resizeRowsToContents()
