"""Reading the result store back: results and audit rows, filtered by path and
time (``pneumo history``), and a film's earlier results (the app)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pneumo.errors import UsageError
from pneumo.results.store import ResultStore, stored_path
from pneumo.results.store_rows import AuditEvent, StoredResult

__all__ = ["EarlierResult", "History", "earlier_results", "film_history", "load_history",
           "parse_since"]


@dataclass(frozen=True)
class History:
    """Results and audit rows, oldest first."""

    results: tuple[StoredResult, ...]
    events: tuple[AuditEvent, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"results": [r.to_dict() for r in self.results],
                "events": [e.to_dict() for e in self.events]}


def parse_since(text: str) -> str:
    """``--since`` (an ISO date or date-time, local time unless it says
    otherwise) as the store's UTC text, or a :class:`UsageError`."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--since: not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM): {text!r}"
                         ) from None
    if when.tzinfo is None:
        when = when.astimezone()  # local time
    return when.astimezone(UTC).isoformat(timespec="milliseconds")


def _like_prefix(folder: str) -> str:
    escaped = folder.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.rstrip(os.sep + "/") + os.sep + "%"


def load_history(store: ResultStore, path: str | Path | None = None,
                 since: str | None = None) -> History:
    """Every result and audit row, or those about ``path`` (a file: its path
    or its current contents; a folder: everything under it), from ``since``
    (store time text, see :func:`parse_since`) on."""
    where: list[str] = []
    args: list[Any] = []
    event_where: list[str] = []
    event_args: list[Any] = []
    if path is not None:
        target = Path(path)
        absolute = stored_path(target)
        if target.is_dir():
            clause = "(path = ? OR path LIKE ? ESCAPE '\\')"
            values = [absolute, _like_prefix(absolute)]
            where.append(clause)
            args += values
        else:
            from pneumo.scanning.stored import content_sha256

            digest = content_sha256(target) if target.is_file() else None
            where.append("(path = ? OR content_sha256 = ?)")
            args += [absolute, digest]
            clause, values = "path = ?", [absolute]
        event_where.append(clause)
        event_args += values
    if since is not None:
        where.append("time >= ?")
        args.append(since)
        event_where.append("time >= ?")
        event_args.append(since)
    results = store.query("SELECT * FROM results" + _where(where) + " ORDER BY id", tuple(args))
    events = store.query("SELECT * FROM events" + _where(event_where) + " ORDER BY id",
                         tuple(event_args))
    return History(tuple(StoredResult.from_row(r) for r in results),
                   tuple(AuditEvent.from_row(e) for e in events))


def earlier_results(store: ResultStore, path: str | Path,
                    content_sha256: str | None = None) -> tuple[StoredResult, ...]:
    """A film's results, oldest first: rows for its path or for its contents
    (a copy elsewhere, or the same file moved)."""
    absolute = stored_path(path)
    rows = store.query("SELECT * FROM results WHERE path = ? OR content_sha256 = ? ORDER BY id",
                       (absolute, content_sha256))
    return tuple(StoredResult.from_row(r) for r in rows)


def _where(clauses: list[str]) -> str:
    return " WHERE " + " AND ".join(clauses) if clauses else ""


@dataclass(frozen=True)
class EarlierResult:
    """One stored result of a film, as the app lists it."""

    time: str
    label: str | None
    probability: float | None
    error: str | None
    model_name: str
    model_sha256: str
    origin: str
    other_model: bool
    """Made by another model file than the one in use (another version)."""

    def text(self) -> str:
        """One line: when, the result, and which model (flagged when another)."""
        when = local_time(self.time)
        if self.probability is not None:
            outcome = f"{self.label or ''} {self.probability:.3f}"
        else:
            outcome = f"error: {self.error}"
        model = f"{self.model_name} {self.model_sha256[:8]}"
        flag = "  [other model version]" if self.other_model else ""
        return f"{when}  {outcome}  ({self.origin}, {model}){flag}"


def film_history(store: ResultStore, path: str | Path, content_sha256: str | None,
                 current_model_sha256: str | None) -> tuple[EarlierResult, ...]:
    """A film's stored results, newest first, those of another model flagged."""
    rows = earlier_results(store, path, content_sha256)
    return tuple(
        EarlierResult(time=r.time, label=r.label, probability=r.probability, error=r.error,
                      model_name=r.model_name, model_sha256=r.model_sha256, origin=r.origin,
                      other_model=current_model_sha256 is not None
                      and r.model_sha256 != current_model_sha256)
        for r in reversed(rows))


def local_time(utc_text: str, seconds: bool = False) -> str:
    """A store time (UTC ISO text) as local ``YYYY-MM-DD HH:MM[:SS]``; text that
    does not parse is returned as it is."""
    try:
        when = datetime.fromisoformat(utc_text).astimezone()
    except ValueError:
        return utc_text
    return when.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
