"""The local result store: every result and an append-only audit trail, in SQLite.

One file (standard library ``sqlite3``, WAL journal) in the user's data
directory (:func:`default_store_path`; ``$PNEUMO_STORE`` or ``--store FILE``
override it). Table ``results`` gets a row per classification (path, content
sha256, SOP Instance UID, model sha256, probability, label, warnings, time,
who, and the whole record as JSON); table ``events`` gets a row per action
(scan, export, threshold override, model change, ...). Triggers refuse
UPDATE and DELETE on both tables: the store only grows.

A store that is corrupt or was written by a newer version is renamed aside
(``results.sqlite3.corrupt-20260102T030405``; nothing is deleted) and a new
one is started; :attr:`ResultStore.notice` says so in one line.

Patient ID and name are never stored (a result answered from the store reads
them again from the file's header). Paths, UIDs and study fields are: the
store is created readable by its owner only.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from pneumo.errors import PneumoError, one_line
from pneumo.results.codec import record_to_json
from pneumo.results.provenance import ModelIdentity, host_name, os_user, utc_now
from pneumo.results.records import ScanRecord
from pneumo.results.store_rows import AuditEvent, StoredResult
from pneumo.util.text import display_path

__all__ = ["AuditEvent", "ResultStore", "StoreError", "StoredResult", "default_store_path"]

STORE_ENV = "PNEUMO_STORE"
STORE_FILE = "results.sqlite3"
SCHEMA_VERSION = 1
_BUSY_MS = 10_000

_SCHEMA = """
CREATE TABLE results (
    id INTEGER PRIMARY KEY, time TEXT NOT NULL, user TEXT NOT NULL, origin TEXT NOT NULL,
    path TEXT NOT NULL, content_sha256 TEXT, sop_instance_uid TEXT,
    model_sha256 TEXT NOT NULL, model_name TEXT NOT NULL, analysis_key TEXT NOT NULL,
    threshold REAL, probability REAL, label TEXT, error TEXT,
    warnings TEXT NOT NULL, record TEXT NOT NULL);
CREATE INDEX results_by_content ON results (content_sha256, analysis_key);
CREATE INDEX results_by_path ON results (path);
CREATE INDEX results_by_time ON results (time);
CREATE TABLE events (
    id INTEGER PRIMARY KEY, time TEXT NOT NULL, user TEXT NOT NULL, host TEXT NOT NULL,
    action TEXT NOT NULL, path TEXT, model_sha256 TEXT, detail TEXT NOT NULL);
CREATE INDEX events_by_time ON events (time);
"""
_APPEND_ONLY = """
CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, 'the result store is append-only'); END;
CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, 'the result store is append-only'); END;
"""


class StoreError(PneumoError):
    """The result store cannot be opened or written."""


def user_data_dir() -> Path:
    """This platform's per-user data folder for PneumoScan."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "PneumoScan"


def default_store_path() -> Path:
    """``$PNEUMO_STORE``, else ``results.sqlite3`` in :func:`user_data_dir`."""
    env = os.environ.get(STORE_ENV)
    return Path(env) if env else user_data_dir() / STORE_FILE


class ResultStore:
    """An open result store; safe to share between threads (one lock)."""

    def __init__(self, path: str | Path, *, user: str | None = None) -> None:
        self.path = Path(path)
        self.notice: str | None = None
        self._user = user or os_user()
        self._host = host_name()
        self._lock = threading.Lock()
        self._db = self._open_or_recover()

    # -- opening ------------------------------------------------------------
    def _open_or_recover(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create the results store folder "
                             f"({exc.strerror or exc})") from None
        try:
            return self._open()
        except _SetAside as why:
            reason, detail = why.args
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and not self._looks_corrupt(exc):
                raise StoreError(f"{self.path}: cannot open the results store "
                                 f"({one_line(exc)})") from None
            reason, detail = "corrupt", one_line(exc)
        aside = self._set_aside(reason)
        self.notice = (f"{self.path}: results store is {detail}; kept as {aside.name}, "
                       "a new store was started")
        try:
            return self._open()
        except (sqlite3.Error, _SetAside) as exc:
            raise StoreError(f"{self.path}: cannot start a new results store "
                             f"({one_line(exc)})") from None

    @staticmethod
    def _looks_corrupt(exc: sqlite3.Error) -> bool:
        text = str(exc).lower()
        return any(w in text for w in ("not a database", "malformed", "corrupt", "encrypted"))

    def _open(self) -> sqlite3.Connection:
        new = not self.path.exists()
        if new:  # create it private before SQLite does
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        db = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000, check_same_thread=False,
                             isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if version > SCHEMA_VERSION:
                raise _SetAside("newer", f"from a newer PneumoScan (schema {version}, "
                                f"this version reads {SCHEMA_VERSION})")
            if version == 0 and tables:
                raise _SetAside("foreign", "not a PneumoScan results store")
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise _SetAside("corrupt", f"corrupt ({check})")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            if version == 0:
                self._create(db)
        except BaseException:
            db.close()
            raise
        return db

    @staticmethod
    def _create(db: sqlite3.Connection) -> None:
        script = _SCHEMA + "".join(_APPEND_ONLY.format(table=t) for t in ("results", "events"))
        db.executescript(f"BEGIN; {script} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")

    def _set_aside(self, reason: str) -> Path:
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.{reason}-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.{reason}-{stamp}-{n}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(str(self.path) + suffix)
            if part.exists():
                os.replace(part, Path(str(aside) + suffix))
        return aside

    def close(self) -> None:
        """Close the connection (further calls raise :class:`StoreError`)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------
    def add_result(self, record: ScanRecord, model: ModelIdentity, *, threshold: float,
                   origin: str = "scan") -> int:
        """Append one result row (patient ID and name left out); returns its id."""
        row = (utc_now(), self._user, origin, stored_path(record.path), record.content_sha256,
               record.sop_instance_uid, model.sha256, model.name, model.analysis_key,
               threshold, record.probability, record.label, record.error,
               json.dumps(list(record.warnings)),
               record_to_json(replace(record, patient_id=None, patient_name=None)))
        return self._insert(
            "INSERT INTO results (time, user, origin, path, content_sha256, sop_instance_uid, "
            "model_sha256, model_name, analysis_key, threshold, probability, label, error, "
            "warnings, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

    def add_event(self, action: str, *, path: str | Path | None = None,
                  model_sha256: str | None = None,
                  detail: Mapping[str, Any] | None = None) -> int:
        """Append one audit row (who and when are filled in); returns its id."""
        row = (utc_now(), self._user, self._host, action,
               None if path is None else stored_path(path), model_sha256,
               json.dumps(dict(detail or {}), sort_keys=True, default=str))
        return self._insert("INSERT INTO events (time, user, host, action, path, model_sha256, "
                            "detail) VALUES (?, ?, ?, ?, ?, ?, ?)", row)

    def _insert(self, sql: str, row: tuple[Any, ...]) -> int:
        row = tuple(_storable(value) for value in row)
        with self._lock:
            try:
                cursor = self._db.execute(sql, row)
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot write to the results store "
                                 f"({one_line(exc)})") from None
            return int(cursor.lastrowid or 0)

    # -- reading -------------------------------------------------------------
    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Rows of a read-only ``sql`` (for :mod:`pneumo.results.history`)."""
        with self._lock:
            try:
                return list(self._db.execute(sql, args).fetchall())
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot read the results store "
                                 f"({one_line(exc)})") from None

    def cached(self, content_sha256: str, analysis_key: str) -> StoredResult | None:
        """The latest repeatable result for these file contents and this analysis."""
        rows = self.query(
            "SELECT * FROM results WHERE content_sha256 = ? AND analysis_key = ? "
            "AND (error IS NULL OR error NOT LIKE 'unexpected error%') "
            "ORDER BY id DESC LIMIT 1", (content_sha256, analysis_key))
        return StoredResult.from_row(rows[0]) if rows else None

    def last_model(self) -> str | None:
        """The model sha256 of the latest audit row that names a model."""
        rows = self.query("SELECT model_sha256 FROM events WHERE model_sha256 IS NOT NULL "
                          "ORDER BY id DESC LIMIT 1")
        return str(rows[0]["model_sha256"]) if rows else None


def stored_path(path: str | Path) -> str:
    """How the store keeps a path: absolute, in the one printable form of every
    output (:func:`~pneumo.util.text.display_path`; a name that is not UTF-8
    cannot go into SQLite's text as it is)."""
    return display_path(os.path.abspath(path))


def _storable(value: Any) -> Any:
    """``value``, with text SQLite cannot hold (a file name's undecodable bytes,
    kept by Python as lone surrogates) written as backslash escapes."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


class _SetAside(Exception):
    """(reason, detail): the file must be kept aside and a new store started."""


def open_store(path: str | Path | None, notify: Callable[[str], None] | None = None
               ) -> ResultStore:
    """Open the store at ``path`` (default :func:`default_store_path`); a store
    set aside is reported through ``notify``."""
    store = ResultStore(default_store_path() if path is None else path)
    if store.notice and notify is not None:
        notify(store.notice)
    return store
