"""Scan results: one :class:`ScanRecord` per input file (exports: :mod:`pneumo.results.export`).

Privacy default: the patient identifiers (``patient_id`` and
``patient_name``) are left out of every export unless
``include_identifiers=True`` is passed (``--include-identifiers`` on the
command line). Other DICOM fields (study date and description, SOP instance
UID) are kept so that results can be matched back to the archive; note that
file paths may themselves contain names.

Reliability: ``record.checks`` holds what the checks found
(:class:`~pneumo.checks.findings.CheckFindings`: scores, thresholds, the age,
the rules that fired) and :attr:`ScanRecord.unreliable` says whether a
classified film's answer comes with any warning. JSON nests the findings under
``"checks"``; CSV spreads them over :data:`~pneumo.checks.findings.CHECK_COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pneumo.checks.findings import CheckFindings
from pneumo.films.imaging import ImageMetadata
from pneumo.util.text import display_path, escape_text

if TYPE_CHECKING:
    from pneumo.scanning.walk import Skipped

#: Fields that identify the patient, left out of exports by default.
IDENTIFIER_FIELDS = ("patient_id", "patient_name")
#: Fields copied from :class:`~pneumo.films.imaging.ImageMetadata`.
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
#: Provenance: the file's content and the model that judged it, and whether
#: the result was answered from the result store (:mod:`pneumo.results.store`).
PROVENANCE_FIELDS = ("content_sha256", "model_sha256", "from_store")
#: Export columns, in order (identifiers only when asked for); the findings
#: follow as ``checks`` (JSON) or :data:`CHECK_COLUMNS` (CSV).
COLUMNS = ("path", "label", "probability", "error", "warnings", "unreliable", *METADATA_FIELDS,
           *PROVENANCE_FIELDS)


@dataclass(frozen=True)
class ScanRecord:
    """The outcome for one file: a label and probability, or an error.

    Exactly one of ``label``/``probability`` (both set) and ``error`` is set.
    DICOM fields are ``None`` when absent (always for PNG/JPEG files).
    ``content_sha256`` and ``model_sha256`` (the file's and the model file's
    sha256) are set by a scan through the result store; ``from_store`` says
    the result was answered from the store without decoding the file.
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
    checks: CheckFindings = field(default_factory=CheckFindings)
    content_sha256: str | None = None
    model_sha256: str | None = None
    from_store: bool = False

    @property
    def ok(self) -> bool:
        """True when the file was classified."""
        return self.error is None

    @property
    def unreliable(self) -> bool:
        """True when a classified film's answer comes with a warning (a check
        rule fired, or the gate or the decoder warned): not to be trusted as is."""
        return self.error is None and (bool(self.warnings) or self.checks.flagged)

    @classmethod
    def from_metadata(cls, path: Path, metadata: ImageMetadata | None, **fields: Any) -> ScanRecord:
        """A record carrying the DICOM fields of ``metadata`` plus ``fields``."""
        if metadata is not None:
            for name in METADATA_FIELDS:
                fields.setdefault(name, getattr(metadata, name, None))
        return cls(path=Path(path), **fields)

    def to_dict(self, include_identifiers: bool = False) -> dict[str, Any]:
        """JSON-ready form; patient id and name only if ``include_identifiers``.

        The path is in its :func:`~pneumo.util.text.display_path` form and
        every text is escaped (:func:`~pneumo.util.text.escape_text`), so any
        file name or DICOM field can be written as UTF-8 on one line.
        """
        out: dict[str, Any] = {}
        for name in COLUMNS:
            if name in IDENTIFIER_FIELDS and not include_identifiers:
                continue
            value = getattr(self, name)
            if name == "path":
                value = display_path(value)
            elif name == "warnings":
                value = [escape_text(w) for w in value]
            elif isinstance(value, str):
                value = escape_text(value)
            out[name] = value
        out["checks"] = self.checks.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScanRecord:
        """Inverse of :meth:`to_dict` (also reads a CSV row of
        :func:`pneumo.results.export.write_csv`); ``unreliable`` is recomputed."""
        fields: dict[str, Any] = {
            name: _text_or_none(data.get(name)) for name in METADATA_FIELDS}
        warnings = data.get("warnings") or ()
        if isinstance(warnings, str):
            warnings = [w for w in warnings.split("; ") if w]
        probability = data.get("probability")
        checks = data.get("checks")
        from_store = data.get("from_store")
        return cls(
            path=Path(str(data["path"])), label=_text_or_none(data.get("label")),
            probability=None if probability in (None, "") else float(probability),
            error=_text_or_none(data.get("error")), warnings=tuple(str(w) for w in warnings),
            checks=CheckFindings.from_dict(checks if isinstance(checks, Mapping) else data),
            content_sha256=_text_or_none(data.get("content_sha256")),
            model_sha256=_text_or_none(data.get("model_sha256")),
            from_store=from_store in (True, "True", "true", "1"),
            **fields)


def _text_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def format_record(record: ScanRecord) -> str:
    """One human-readable line: label, probability and path (or the error).

    Paths and texts are escaped (:mod:`pneumo.util.text`): a file name with a
    newline or bytes that are not UTF-8 still gives exactly one line.
    """
    path = display_path(record.path)
    if record.error is not None:
        return f"{'ERROR':<10} {'':>6}  {path}: {escape_text(record.error)}"
    line = f"{escape_text(record.label or ''):<10} {record.probability or 0.0:6.3f}  {path}"
    for warning in record.warnings:
        line += f"  [warning: {escape_text(warning)}]"
    return line


def format_skipped(item: Skipped) -> str:
    """One line for a file the walk left out: ``SKIPPED  path: reason``."""
    return f"{'SKIPPED':<10} {'':>6}  {display_path(item.path)}: {item.reason}"


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
