"""Scan results: one :class:`ScanRecord` per input file, and CSV/JSON export.

Privacy default: the patient identifiers (``patient_id`` and
``patient_name``) are left out of every export unless
``include_identifiers=True`` is passed (``--include-identifiers`` on the
command line). Other DICOM fields (study date and description, SOP instance
UID) are kept so that results can be matched back to the archive; note that
file paths may themselves contain names.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pneumo.atomic import write_text_atomic
from pneumo.imaging import ImageMetadata

#: Fields that identify the patient, left out of exports by default.
IDENTIFIER_FIELDS = ("patient_id", "patient_name")
#: Fields copied from :class:`~pneumo.imaging.ImageMetadata`.
METADATA_FIELDS = (
    "patient_id",
    "patient_name",
    "study_date",
    "study_description",
    "modality",
    "view_position",
    "body_part",
    "sop_instance_uid",
)
#: Export columns, in order (identifiers only when asked for).
COLUMNS = ("path", "label", "probability", "error", "warnings", *METADATA_FIELDS)


@dataclass(frozen=True)
class ScanRecord:
    """The outcome for one file: a label and probability, or an error.

    Exactly one of ``label``/``probability`` (both set) and ``error`` is set.
    DICOM fields are ``None`` when absent (always for PNG/JPEG files).
    """

    path: Path
    label: str | None = None
    probability: float | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()
    patient_id: str | None = None
    patient_name: str | None = None
    study_date: str | None = None
    study_description: str | None = None
    modality: str | None = None
    view_position: str | None = None
    body_part: str | None = None
    sop_instance_uid: str | None = None

    @property
    def ok(self) -> bool:
        """True when the file was classified."""
        return self.error is None

    @classmethod
    def from_metadata(cls, path: Path, metadata: ImageMetadata | None, **fields: Any) -> ScanRecord:
        """A record carrying the DICOM fields of ``metadata`` plus ``fields``."""
        if metadata is not None:
            for name in METADATA_FIELDS:
                fields.setdefault(name, getattr(metadata, name, None))
        return cls(path=Path(path), **fields)

    def to_dict(self, include_identifiers: bool = False) -> dict[str, Any]:
        """JSON-ready form; patient id and name only if ``include_identifiers``."""
        out: dict[str, Any] = {}
        for name in COLUMNS:
            if name in IDENTIFIER_FIELDS and not include_identifiers:
                continue
            value = getattr(self, name)
            if name == "path":
                value = str(value)
            elif name == "warnings":
                value = list(value)
            out[name] = value
        return out


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


def format_record(record: ScanRecord) -> str:
    """One human-readable line: label, probability and path (or the error)."""
    if record.error is not None:
        return f"{'ERROR':<10} {'':>6}  {record.path}: {record.error}"
    line = f"{record.label or '':<10} {record.probability or 0.0:6.3f}  {record.path}"
    for warning in record.warnings:
        line += f"  [warning: {warning}]"
    return line


def summarize(records: Iterable[ScanRecord], labels: tuple[str, str]) -> str:
    """``"5 files: 2 NORMAL, 2 PNEUMONIA, 1 failed"``."""
    counts = {labels[0]: 0, labels[1]: 0}
    failed = total = 0
    for record in records:
        total += 1
        if record.error is not None:
            failed += 1
        elif record.label is not None:
            counts[record.label] = counts.get(record.label, 0) + 1
    parts = [f"{n} {label}" for label, n in counts.items()] + [f"{failed} failed"]
    return f"{total} file{'s' if total != 1 else ''}: " + ", ".join(parts)
