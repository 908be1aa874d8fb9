"""``pneumo listen``: a DICOM Storage SCP that classifies each film it receives.

:class:`Listener` runs a pynetdicom server (its own threads, one per
association) and one classifier thread. An association thread keeps each
received object atomically in the :class:`~pneumo.network.inbox.Inbox` and
queues it for the :class:`~pneumo.network.classifier.Classifier` (gate,
checks, model, result store; ``on_record`` gets every record), which, with a
:class:`~pneumo.network.forward.Destination`, writes its SR and SC into the
outbox for the :class:`~pneumo.network.forward.Forwarder`.

Safety: it binds to 127.0.0.1 unless told otherwise; with ``allowed_aes``
only those calling AE titles may associate; an association that sends more
than ``max_association_bytes`` or meets a full disk is aborted (nothing half
written); :meth:`Listener.stop` stops accepting, lets the associations in
progress finish (for up to ``grace_s``), classifies what was received and
returns. Files received but not classified before a kill are classified at
the next start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pneumo.errors import PneumoError, one_line
from pneumo.network.classifier import Classifier
from pneumo.network.forward import Destination, Forwarder
from pneumo.network.inbox import DiskFull, Inbox
from pneumo.results.provenance import LISTEN_START, LISTEN_STOP, RECEIVE, REJECT
from pneumo.results.records import ScanRecord

if TYPE_CHECKING:
    from pneumo.model.runner import ModelRunner
    from pneumo.results.store import ResultStore

__all__ = ["Listener", "ListenerConfig", "ListenerStats"]

_OUT_OF_RESOURCES = 0xA700


@dataclass(frozen=True)
class ListenerConfig:
    """What ``pneumo listen`` was asked for."""

    directory: Path
    host: str = "127.0.0.1"
    port: int = 11112
    ae_title: str = "PNEUMOSCAN"
    allowed_aes: tuple[str, ...] = ()
    forward: Destination | None = None
    max_association_bytes: int = 4 << 30
    reserve_bytes: int = 64 << 20
    threshold: float | None = None
    workers: int = 2
    max_associations: int = 64
    max_pdu: int = 1 << 20


@dataclass(frozen=True)
class ListenerStats:
    """Counts since the listener started."""

    received: int = 0
    classified: int = 0
    refused: int = 0
    rejected_associations: int = 0
    aborted_associations: int = 0
    sent: int = 0


@dataclass
class _Association:
    calling_ae: str
    address: str
    received: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)


class Listener:
    """A running (after :meth:`start`) Storage SCP with its classifier."""

    def __init__(self, config: ListenerConfig, runner: ModelRunner,
                 store: ResultStore | None = None, *,
                 on_record: Callable[[ScanRecord], None] | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.config = config
        self._store = store
        self._log = log or (lambda _msg: None)
        self.inbox = Inbox(Path(config.directory) / "received",
                           reserve_bytes=config.reserve_bytes)
        self._lock = threading.Lock()
        self._assocs: dict[int, _Association] = {}
        self._counts = {"received": 0, "rejected": 0, "aborted": 0}
        self._server: Any = None
        self._ae: Any = None
        self.forwarder: Forwarder | None = None
        if config.forward is not None:
            self.forwarder = Forwarder(config.forward, Path(config.directory) / "outbox",
                                       calling_ae=config.ae_title, store=store, log=self._log)
        self._classifier = Classifier(runner, store, threshold=config.threshold,
                                      workers=config.workers, on_record=on_record,
                                      forwarder=self.forwarder, log=self._log)

    # -- lifecycle -------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound (port 0 in the config picks a free one)."""
        if self._server is None:
            return self.config.host, self.config.port
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Bind, start the server, the classifier and the forwarder."""
        from pynetdicom import AE, evt

        from pneumo.network.contexts import ACCEPTED_SYNTAXES, storage_sop_classes

        stale = self.inbox.clean_stale()
        if stale:
            self._log(f"removed {stale} partial files left by an interrupted listener")
        ae = AE(ae_title=self.config.ae_title)
        ae.maximum_associations = self.config.max_associations
        ae.maximum_pdu_size = self.config.max_pdu
        ae.network_timeout = ae.acse_timeout = ae.dimse_timeout = 60
        if self.config.allowed_aes:
            ae.require_calling_aet = list(self.config.allowed_aes)
        for sop in storage_sop_classes():
            ae.add_supported_context(sop, list(ACCEPTED_SYNTAXES))
        ae.add_supported_context("1.2.840.10008.1.1")  # Verification (C-ECHO)
        handlers: list[Any] = [(evt.EVT_C_STORE, self._on_store), (evt.EVT_ACCEPTED, self._on_accepted),
                    (evt.EVT_RELEASED, self._on_closed), (evt.EVT_ABORTED, self._on_closed),
                    (evt.EVT_REJECTED, self._on_rejected)]
        try:
            self._server = ae.start_server((self.config.host, self.config.port), block=False,
                                           evt_handlers=handlers)
        except OSError as exc:
            raise PneumoError(f"cannot listen on {self.config.host}:{self.config.port} "
                              f"({exc.strerror or exc})") from None
        self._ae = ae
        self._classifier.start(list(self.inbox.files()) if self._store is not None else ())
        if self.forwarder is not None:
            self.forwarder.start()
        self._audit(LISTEN_START, detail={
            "address": f"{self.address[0]}:{self.address[1]}", "ae_title": self.config.ae_title,
            "allowed": list(self.config.allowed_aes),
            "forward": str(self.config.forward) if self.config.forward else None})

    def stop(self, grace_s: float = 30.0) -> ListenerStats:
        """Stop accepting, let associations in progress finish (up to
        ``grace_s``, then abort them), classify what was received, stop."""
        if self._server is not None:
            self._server.shutdown()
            deadline = threading.Event()
            waited = 0.0
            while self._ae.active_associations and waited < grace_s:
                deadline.wait(0.05)
                waited += 0.05
            for assoc in self._ae.active_associations:
                assoc.abort()
            self._server = None
        self._classifier.stop()
        if self.forwarder is not None:
            self.forwarder.stop()
        stats = self.stats()
        self._audit(LISTEN_STOP, detail=dict(vars(stats)))
        return stats

    def stats(self) -> ListenerStats:
        """Counts so far."""
        with self._lock:
            c = dict(self._counts)
        return ListenerStats(received=c["received"], classified=self._classifier.classified,
                             refused=self._classifier.refused, rejected_associations=c["rejected"],
                             aborted_associations=c["aborted"],
                             sent=self.forwarder.sent if self.forwarder else 0)

    # -- association threads ---------------------------------------------------
    def _on_accepted(self, event: Any) -> None:
        requestor = event.assoc.requestor
        with self._lock:
            self._assocs[id(event.assoc)] = _Association(
                str(requestor.ae_title).strip(), f"{requestor.address}:{requestor.port}")

    def _on_rejected(self, event: Any) -> None:
        requestor = event.assoc.requestor
        with self._lock:
            self._counts["rejected"] += 1
        self._log(f"association from {str(requestor.ae_title).strip()!r} at "
                  f"{requestor.address} rejected (calling AE title not allowed)")
        self._audit(REJECT, detail={"calling_ae": str(requestor.ae_title).strip(),
                                    "address": str(requestor.address)})

    def _on_closed(self, event: Any) -> None:
        with self._lock:
            state = self._assocs.pop(id(event.assoc), None)
        if state is not None and (state.received or state.problems):
            self._audit(RECEIVE, detail={"calling_ae": state.calling_ae,
                                         "address": state.address, "objects": state.received,
                                         "bytes": state.bytes, "problems": state.problems})

    def _on_store(self, event: Any) -> int:
        with self._lock:
            state = self._assocs.setdefault(id(event.assoc), _Association("?", "?"))
        if state.problems:  # aborting: keep nothing more from this association
            return _OUT_OF_RESOURCES
        data: bytes = event.encoded_dataset()
        state.bytes += len(data)
        if state.bytes > self.config.max_association_bytes:
            return self._abort(event, state, f"more than {self.config.max_association_bytes >> 20}"
                               " MiB in one association")
        try:
            study = event.dataset.get("StudyInstanceUID")
        except Exception:  # noqa: BLE001 - a dataset pydicom cannot parse
            study = None
        sop = str(event.request.AffectedSOPInstanceUID or "")
        try:
            path = self.inbox.save(data, None if study is None else str(study), sop)
        except DiskFull as exc:
            return self._abort(event, state, f"disk full ({exc.strerror or exc})")
        except OSError as exc:
            return self._abort(event, state, f"cannot keep the object ({one_line(exc)})")
        state.received += 1
        with self._lock:
            self._counts["received"] += 1
        self._classifier.put(path)
        return 0x0000

    def _abort(self, event: Any, state: _Association, why: str) -> int:
        state.problems.append(why)
        with self._lock:
            self._counts["aborted"] += 1
        self._log(f"association from {state.calling_ae!r} aborted: {why}")
        # The failure status goes out first; the abort follows from another
        # thread (pynetdicom defers an abort made inside a handler until the
        # peer's next message, which would leave the sender waiting).
        timer = threading.Timer(0.05, event.assoc.abort)
        timer.daemon = True
        timer.start()
        return _OUT_OF_RESOURCES

    def _audit(self, action: str, **kwargs: Any) -> None:
        if self._store is None:
            return
        from pneumo.results.store import StoreError

        try:
            self._store.add_event(action, **kwargs)
        except StoreError as exc:
            self._log(str(exc))
