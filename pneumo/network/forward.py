"""Sending results (SR and SC files) to a PACS by C-STORE, retried with back-off.

Result files wait in an outbox folder; :class:`Forwarder` sends everything
there in one association, moves each object the PACS accepted into ``sent/``
and keeps the rest for the next attempt. When the PACS cannot be reached (or
refuses), it waits 1 s, 2 s, 4 s ... up to :data:`MAX_BACKOFF_S` and tries
again; files left in the outbox by a stopped listener are sent at the next
start. Every attempt is a ``send`` row in the audit trail (per object when it
was sent, per attempt when the association failed).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pneumo.errors import UsageError, one_line
from pneumo.results.provenance import SEND

if TYPE_CHECKING:
    from pneumo.results.store import ResultStore

__all__ = ["Destination", "Forwarder", "check_ae_title"]

MAX_BACKOFF_S = 60.0
_TIMEOUT_S = 30


def check_ae_title(text: str) -> str:
    """An AE title as typed, stripped; :class:`UsageError` unless it has 1-16
    printable characters and no backslash."""
    title = text.strip()
    if not 0 < len(title) <= 16 or not title.isprintable() or "\\" in title:
        raise UsageError(f"not a valid AE title (1-16 printable characters): {text!r}")
    return title


@dataclass(frozen=True)
class Destination:
    """Where results go: ``HOST:PORT:AET``."""

    host: str
    port: int
    ae_title: str

    @classmethod
    def parse(cls, text: str) -> Destination:
        """``HOST:PORT:AET`` (the host may be an IPv6 address)."""
        try:
            host, port, aet = text.rsplit(":", 2)
            number = int(port)
        except ValueError:
            raise UsageError(f"--forward: expected HOST:PORT:AET, got {text!r}") from None
        if not host or not 0 < number < 65536:
            raise UsageError(f"--forward: expected HOST:PORT:AET, got {text!r}")
        return cls(host.strip("[]"), number, check_ae_title(aet))

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


class Forwarder:
    """A thread that empties ``outbox`` into the PACS at ``destination``."""

    def __init__(self, destination: Destination, outbox: Path, *, calling_ae: str,
                 store: ResultStore | None = None,
                 log: Callable[[str], None] | None = None,
                 first_backoff_s: float = 1.0) -> None:
        self.destination = destination
        self.outbox = Path(outbox)
        self.sent_dir = self.outbox.parent / "sent"
        self.calling_ae = calling_ae
        self._store = store
        self._log = log or (lambda _msg: None)
        self._first_backoff = first_backoff_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.outbox.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        """Start sending (files already in the outbox go first)."""
        self._thread = threading.Thread(target=self._run, name="pneumo-forward", daemon=True)
        self._thread.start()
        self._wake.set()

    def notify(self) -> None:
        """New files are in the outbox."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the association in progress (if any) and stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def pending(self) -> list[Path]:
        """Files waiting in the outbox, oldest name first."""
        return sorted(p for p in self.outbox.glob("*.dcm") if not p.name.startswith("."))

    def _run(self) -> None:
        backoff = self._first_backoff
        attempt = 0
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            files = self.pending()
            if not files or self._stop.is_set():
                continue
            attempt += 1
            problem = self._send(files, attempt)
            if problem is None:
                backoff, attempt = self._first_backoff, 0
                if self.pending():
                    self._wake.set()
                continue
            self._log(f"cannot send {len(files)} results to {self.destination} ({problem}); "
                      f"retrying in {backoff:g} s")
            if self._stop.wait(backoff):
                return
            backoff = min(MAX_BACKOFF_S, backoff * 2)
            self._wake.set()

    def _send(self, files: list[Path], attempt: int) -> str | None:
        """Send ``files`` in one association; None when the PACS took them all."""
        try:
            assoc = self._associate()
        except Exception as exc:  # noqa: BLE001 - sockets and pynetdicom raise many types
            return self._failed(files, attempt, one_line(exc))
        if not assoc.is_established:
            why = "association rejected" if assoc.is_rejected else "no association"
            return self._failed(files, attempt, why)
        refused: list[str] = []
        try:
            for path in files:
                status = assoc.send_c_store(path)
                code = int(getattr(status, "Status", -1)) if status else -1
                if code == 0 or 0xB000 <= code <= 0xBFFF:  # success or warning
                    self._done(path, code, attempt)
                else:
                    refused.append(f"{path.name}: status 0x{code & 0xFFFF:04X}")
                    self._audit(path, ok=False, attempt=attempt,
                                error=f"status 0x{code & 0xFFFF:04X}")
                if not assoc.is_established:
                    break
        except Exception as exc:  # noqa: BLE001
            refused.append(one_line(exc))
        finally:
            if assoc.is_established:
                assoc.release()
        return "; ".join(refused) if refused else None

    def _associate(self) -> Any:
        from pydicom.uid import Comprehensive3DSRStorage, SecondaryCaptureImageStorage
        from pynetdicom import AE

        from pneumo.network.contexts import FORWARD_SYNTAXES

        ae = AE(ae_title=self.calling_ae)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = _TIMEOUT_S
        for sop in (Comprehensive3DSRStorage, SecondaryCaptureImageStorage):
            for syntax in FORWARD_SYNTAXES:
                ae.add_requested_context(sop, [syntax])
        d = self.destination
        return ae.associate(d.host, d.port, ae_title=d.ae_title)

    def _done(self, path: Path, code: int, attempt: int) -> None:
        self.sent_dir.mkdir(parents=True, exist_ok=True)
        target = self.sent_dir / path.name
        os.replace(path, target)
        self.sent += 1
        self._audit(target, ok=True, attempt=attempt, status=code)

    def _failed(self, files: list[Path], attempt: int, error: str) -> str:
        self._audit(None, ok=False, attempt=attempt, error=error, files=len(files))
        return error

    def _audit(self, path: Path | None, *, ok: bool, attempt: int, **detail: Any) -> None:
        if self._store is None:
            return
        from pneumo.results.store import StoreError

        try:
            self._store.add_event(SEND, path=path, detail={
                "to": str(self.destination), "ok": ok, "attempt": attempt, **detail})
        except StoreError as exc:
            self._log(str(exc))
