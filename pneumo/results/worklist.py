"""What the worklist shows (no Qt): its result, patient and study columns, the
result filter and the count line; states and colours come from
:mod:`pneumo.results.display`."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from pneumo.results.display import (
    UNRELIABLE,
    Labels,
    RowState,
    is_unreliable,
    row_state,
    state_name,
)
from pneumo.results.records import ScanRecord

HIDDEN_TEXT = "(hidden)"
"""Shown instead of a patient identifier while identifiers are hidden."""


class RowFilter(Enum):
    """The worklist's result filter."""

    ALL = "all"
    POSITIVE = "positive"
    NEGATIVE = "negative"
    ERROR = "error"
    WARNINGS = "warnings"
    PENDING = "pending"

def state_text(state: RowState, labels: Labels) -> str:
    """The text of the worklist's result column."""
    if state is RowState.PENDING:
        return "pending…"
    if state is RowState.CANCELLED:
        return "cancelled"
    return state_name(state, labels)

def has_warnings(record: ScanRecord | None) -> bool:
    """True when a file has warnings or a fired check rule (the "With warnings" filter)."""
    return record is not None and (bool(record.warnings) or record.checks.flagged)


def result_text(record: ScanRecord | None, labels: Labels, cancelled: bool = False) -> str:
    """The worklist's result column: the state's text, plus the word
    :data:`UNRELIABLE` for a result that comes with a warning."""
    text = state_text(row_state(record, labels, cancelled), labels)
    return f"{text} · {UNRELIABLE}" if is_unreliable(record) else text

def filter_choices(labels: Labels) -> tuple[tuple[str, RowFilter], ...]:
    """The result filter's entries, (text, filter), in menu order."""
    return (
        ("All", RowFilter.ALL),
        (labels[1], RowFilter.POSITIVE),
        (labels[0], RowFilter.NEGATIVE),
        ("ERROR", RowFilter.ERROR),
        ("With warnings", RowFilter.WARNINGS),
        ("PENDING", RowFilter.PENDING),
    )


def filter_accepts(choice: RowFilter, state: RowState, has_warnings: bool) -> bool:
    """True when a row in ``state`` passes the result filter ``choice``."""
    if choice is RowFilter.ALL:
        return True
    if choice is RowFilter.WARNINGS:
        return has_warnings
    if choice is RowFilter.PENDING:
        return state in (RowState.PENDING, RowState.CANCELLED)
    return state.value == choice.value


def count_text(states: Iterable[RowState], labels: Labels) -> str:
    """The worklist's count line: ``"5 files · 2 pneumonia · 1 errors"``."""
    states = list(states)
    if not states:
        return "No files"
    if not any(s.has_result or s is RowState.ERROR for s in states):
        return f"{len(states)} files"
    positive = sum(s is RowState.POSITIVE for s in states)
    errors = sum(s is RowState.ERROR for s in states)
    return f"{len(states)} files · {positive} {labels[1].lower()} · {errors} errors"


def patient_text(record: ScanRecord | None, hide_identifiers: bool) -> str:
    """Patient name and id for display, masked when ``hide_identifiers``."""
    if record is None or (record.patient_name is None and record.patient_id is None):
        return ""
    if hide_identifiers:
        return HIDDEN_TEXT
    name = (record.patient_name or "").replace("^", " ").strip()
    pid = record.patient_id or ""
    return f"{name} ({pid})" if name and pid else name or pid


def study_text(record: ScanRecord | None) -> str:
    """Study date (YYYY-MM-DD) and description."""
    if record is None:
        return ""
    date = record.study_date or ""
    if len(date) == 8 and date.isdigit():
        date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    return " ".join(p for p in (date, record.study_description or "") if p)
