"""The listener's classifier: one thread that classifies received films in turn.

Received files are queued by the association threads; :class:`Classifier`
takes them in batches (up to :data:`BATCH`, as many as are waiting) through
:func:`~pneumo.scanning.stored.scan_stored` (input gate, checks, model, result
store), hands each record to ``on_record`` and, when results are forwarded,
writes its SR and SC into the forwarder's outbox. At start it first queues
the received files that have no result yet (a listener killed before it
classified them).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pneumo.results.records import ScanRecord

if TYPE_CHECKING:
    from pneumo.model.runner import ModelRunner
    from pneumo.network.forward import Forwarder
    from pneumo.results.dicom_out import DicomExporter
    from pneumo.results.store import ResultStore

BATCH = 64


class Classifier:
    """Owns the model runner (one thread uses it) and the queue of received files."""

    def __init__(self, runner: ModelRunner, store: ResultStore | None, *,
                 threshold: float | None, workers: int,
                 on_record: Callable[[ScanRecord], None] | None,
                 forwarder: Forwarder | None, log: Callable[[str], None]) -> None:
        self._runner = runner
        self._store = store
        self._threshold = threshold
        self._workers = workers
        self._on_record = on_record
        self._forwarder = forwarder
        self._log = log
        self._queue: queue.Queue[Path] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._exporter: DicomExporter | None = None
        self._lock = threading.Lock()
        self.classified = self.refused = 0

    def put(self, path: Path) -> None:
        """Queue a received file."""
        self._queue.put(path)

    def start(self, backlog: Iterable[Path] = ()) -> None:
        """Start the thread; it first queues the files of ``backlog`` that have
        no result in the store yet."""
        self._thread = threading.Thread(target=self._run, args=(list(backlog),),
                                        name="pneumo-classify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Classify what is queued, then stop (blocks until done)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self, backlog: list[Path]) -> None:
        self._catch_up(backlog)
        while True:
            try:
                batch = [self._queue.get(timeout=0.2)]
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._classify(batch)

    def _classify(self, paths: list[Path]) -> None:
        from pneumo.scanning.stored import scan_stored

        exporter = self._get_exporter()
        for record in scan_stored(paths, self._runner, self._store, origin="listen",
                                  threshold=self._threshold, workers=self._workers,
                                  on_store_error=self._log):
            with self._lock:
                if record.ok:
                    self.classified += 1
                else:
                    self.refused += 1
            if self._on_record is not None:
                self._on_record(record)
            if exporter is not None and record.ok:
                outcome = exporter.export(record, self._threshold)
                if outcome.skipped is not None:
                    self._log(outcome.describe())
                elif self._forwarder is not None:
                    self._forwarder.notify()

    def _get_exporter(self) -> DicomExporter | None:
        if self._forwarder is not None and self._exporter is None:
            from pneumo.results.dicom_out import DicomExporter

            self._exporter = DicomExporter(self._forwarder.outbox, self._runner, self._store)
        return self._exporter

    def _catch_up(self, backlog: list[Path]) -> None:
        if self._store is None or not backlog:
            return
        from pneumo.results.provenance import ModelIdentity
        from pneumo.scanning.stored import content_sha256

        key = ModelIdentity.of(self._runner).analysis_key
        waiting = [p for p in backlog if (digest := content_sha256(p)) is not None
                   and self._store.cached(digest, key) is None]
        if waiting:
            self._log(f"classifying {len(waiting)} films received before the last stop")
            for path in waiting:
                self._queue.put(path)
