"""Running a generator job off the GUI thread, on Qt's global thread pool.

A job is a generator function (no Qt, testable alone; :mod:`desktop.workers`)
yielding events. :class:`GeneratorWorker` runs one, as ``job(cancel_event)``,
on :meth:`QThreadPool.globalInstance` and re-emits each event through
:attr:`WorkerSignals.yielded` (queued to the GUI thread), then ``finished``;
an exception becomes ``errored``. Setting the worker's ``cancel`` event stops
the generator at its next check. (superqt's ``thread_worker`` would add
pygments and qtpy, slow the app's start-up, and stop a generator only between
its events: ``bench/bench_dependencies.py``.)
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

E = TypeVar("E")


Job = Callable[[threading.Event], Iterator[E]]
"""A generator job: called with the cancel event, yields events of type ``E``."""


class WorkerSignals(QObject):
    """Signals of a :class:`GeneratorWorker` (emitted from the pool thread)."""

    yielded = Signal(object)
    errored = Signal(str)
    finished = Signal(bool)  # True when cancelled


class GeneratorWorker(QRunnable, Generic[E]):
    """Run ``job(cancel_event)`` (a generator of ``E`` events) on the pool."""

    def __init__(self, job: Job[E]) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.signals = WorkerSignals()
        self.cancel_event = threading.Event()
        self._job = job
        self.done = threading.Event()

    def cancel(self) -> None:
        """Ask the generator to stop; ``finished(True)`` follows promptly."""
        self.cancel_event.set()

    def start(self) -> GeneratorWorker[E]:
        """Queue the worker on the global thread pool; returns self."""
        QThreadPool.globalInstance().start(self)
        return self

    def run(self) -> None:
        """Pool-thread body: iterate the generator, emit events; never raises."""
        events: Iterator[E] | None = None
        try:
            events = self._job(self.cancel_event)
            for event in events:
                if self.cancel_event.is_set():
                    break
                self.signals.yielded.emit(event)
        except Exception as exc:  # noqa: BLE001 - reported to the GUI, never lost
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self.signals.errored.emit(detail)
            traceback.print_exc()
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                try:
                    close()  # runs the job's cleanup (e.g. the scan's decoder pool) now
                except Exception:  # noqa: BLE001
                    traceback.print_exc()
            self.done.set()
            self.signals.finished.emit(self.cancel_event.is_set())
