"""Exports: the worklist as CSV and images as PNG, always written atomically."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

from pneumo.errors import PneumoError
from pneumo.results.export import write_csv
from pneumo.results.records import ScanRecord
from pneumo.util.atomic import write_bytes_atomic


def export_csv(records: Iterable[ScanRecord], path: str | Path, include_identifiers: bool) -> int:
    """Write ``records`` with :func:`pneumo.results.export.write_csv`; returns the row count."""
    rows = list(records)
    write_csv(rows, Path(path), include_identifiers=include_identifiers)
    return len(rows)


def png_bytes(image: QImage) -> bytes:
    """``image`` encoded as PNG."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    ok = image.save(buffer, "PNG")  # type: ignore[call-overload]  # stubs say bytes
    buffer.close()
    if not ok or data.isEmpty():
        raise PneumoError("could not encode the image as PNG")
    return bytes(data.data())


def save_png(image: QImage, path: str | Path) -> Path:
    """Write ``image`` to ``path`` as PNG, atomically; returns the path.

    ``.png`` is appended when ``path`` has no suffix.
    """
    out = Path(path)
    if not out.suffix:
        out = out.with_suffix(".png")
    write_bytes_atomic(out, png_bytes(image))
    return out


def save_widget_png(widget: QWidget, path: str | Path) -> Path:
    """A screenshot of ``widget`` (as rendered now) saved as PNG, atomically."""
    return save_png(widget.grab().toImage(), path)
