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

from pneumo.results.records import COLUMNS, IDENTIFIER_FIELDS, ScanRecord
from pneumo.util.atomic import write_text_atomic

__all__ = ["write_csv", "write_json"]


def _columns(include_identifiers: bool) -> list[str]:
    return [c for c in COLUMNS if include_identifiers or c not in IDENTIFIER_FIELDS]


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
