"""CSV and JSON exports of scan records, written atomically.

Privacy default: patient ID and name (:data:`IDENTIFIER_FIELDS`) are left
out unless ``include_identifiers`` is true. CSV cells that a spreadsheet
would run as a formula are quoted.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from pneumo.checks.findings import CHECK_COLUMNS
from pneumo.results.records import COLUMNS, IDENTIFIER_FIELDS, ScanRecord
from pneumo.util.atomic import write_text_atomic

__all__ = ["read_csv", "read_json", "write_csv", "write_json"]


def _columns(include_identifiers: bool) -> list[str]:
    return [c for c in COLUMNS if include_identifiers or c not in IDENTIFIER_FIELDS] + list(
        CHECK_COLUMNS)


def write_csv(
    records: Iterable[ScanRecord], path: str | Path, include_identifiers: bool = False
) -> None:
    """Write ``records`` as CSV (header row, warnings joined by ``"; "``), atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_columns(include_identifiers), lineterminator="\n")
    writer.writeheader()
    for record in records:
        row = record.to_dict(include_identifiers)
        row["warnings"] = "; ".join(row["warnings"])
        if row["probability"] is not None:
            row["probability"] = f"{row['probability']:.6f}"
        del row["checks"]
        row.update(record.checks.to_row())
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
    write_text_atomic(Path(path), buf.getvalue())


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: object) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is quoted with '."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def write_json(
    records: Iterable[ScanRecord],
    path_or_stdout: str | Path | TextIO,
    include_identifiers: bool = False,
) -> None:
    """Write ``records`` as a JSON list of objects.

    ``path_or_stdout`` is a file path (written atomically), ``"-"`` for
    standard output, or an open text stream.
    """
    data = [r.to_dict(include_identifiers) for r in records]
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if isinstance(path_or_stdout, (str, Path)):
        if str(path_or_stdout) == "-":
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            write_text_atomic(Path(path_or_stdout), text)
    else:
        path_or_stdout.write(text)
        path_or_stdout.flush()


def read_json(path: str | Path) -> list[ScanRecord]:
    """The records of a file written by :func:`write_json`."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [ScanRecord.from_dict(item) for item in data]


def read_csv(path: str | Path) -> list[ScanRecord]:
    """The records of a file written by :func:`write_csv` (probabilities to 6 decimals)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [ScanRecord.from_dict({k: _uncell(v) for k, v in row.items()}) for row in rows]


def _uncell(text: str) -> str:
    """Inverse of :func:`_csv_cell`'s formula quoting."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS) else text
