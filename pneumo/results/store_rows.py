"""Rows of the result store as frozen dataclasses: :class:`StoredResult` and
:class:`AuditEvent` (what ``pneumo history`` and the app show)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pneumo.results.codec import record_from_json
from pneumo.results.records import ScanRecord

__all__ = ["AuditEvent", "StoredResult"]


@dataclass(frozen=True)
class StoredResult:
    """One classification as the store keeps it."""

    id: int
    time: str
    user: str
    origin: str
    path: str
    content_sha256: str | None
    sop_instance_uid: str | None
    model_sha256: str
    model_name: str
    analysis_key: str
    threshold: float | None
    probability: float | None
    label: str | None
    error: str | None
    warnings: tuple[str, ...]
    record_json: str = field(repr=False)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoredResult:
        """From a ``results`` row."""
        return cls(
            id=int(row["id"]), time=row["time"], user=row["user"], origin=row["origin"],
            path=row["path"], content_sha256=row["content_sha256"],
            sop_instance_uid=row["sop_instance_uid"], model_sha256=row["model_sha256"],
            model_name=row["model_name"], analysis_key=row["analysis_key"],
            threshold=row["threshold"], probability=row["probability"], label=row["label"],
            error=row["error"], warnings=tuple(_json(row["warnings"], [])),
            record_json=row["record"],
        )

    def record(self) -> ScanRecord:
        """The full record the scan made (raises ``ValueError`` if unreadable)."""
        try:
            return record_from_json(self.record_json)
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"stored record {self.id} cannot be read ({exc})") from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id, "time": self.time, "user": self.user, "origin": self.origin,
            "path": self.path, "content_sha256": self.content_sha256,
            "sop_instance_uid": self.sop_instance_uid, "model_sha256": self.model_sha256,
            "model_name": self.model_name, "threshold": self.threshold,
            "probability": self.probability, "label": self.label, "error": self.error,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class AuditEvent:
    """One audit row: who did what, when, with which model."""

    id: int
    time: str
    user: str
    host: str
    action: str
    path: str | None
    model_sha256: str | None
    detail: Mapping[str, Any]

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> AuditEvent:
        """From an ``events`` row."""
        return cls(
            id=int(row["id"]), time=row["time"], user=row["user"], host=row["host"],
            action=row["action"], path=row["path"], model_sha256=row["model_sha256"],
            detail=_json(row["detail"], {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.id, "time": self.time, "user": self.user, "host": self.host,
                "action": self.action, "path": self.path, "model_sha256": self.model_sha256,
                "detail": dict(self.detail)}


def _json(text: str | None, default: Any) -> Any:
    try:
        value = json.loads(text) if text else default
    except ValueError:
        return default
    return value if isinstance(value, type(default)) else default
