"""The decoding worker process: runs jobs, one at a time, for a :class:`DecoderPool`.

A worker is a separate process so that native decoders (libjpeg-turbo,
OpenJPEG, CharLS, ...) can crash, abort or allocate without bound without
taking the scan or the app down: the pool sees the process die, reports the
file it was decoding, and starts another worker.

At start-up a worker limits itself: one OpenCV thread (workers already run in
parallel), its share of the pool's in-flight memory budget
(:func:`pneumo.films.limits.install_budget`), an address-space limit
(``RLIMIT_AS``) as a backstop against runaway allocations, pydicom's decoder
choice (:func:`pneumo.films.codecs.configure_pydicom`), and Ctrl+C left to
the parent. Each job runs inside :func:`run_job`, which collects what the
libraries print to standard error (file descriptor 2, where C code writes)
and the Python warnings they raise, and returns them with the result.

Protocol (over a :func:`multiprocessing.Pipe`): the parent sends
``(task_id, function, args)`` or ``None`` (stop); the worker answers
``(task_id, ok, value, messages)`` where ``value`` is the function's result,
or, when ``ok`` is false, ``(exception type name, one-line message)``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from pneumo.films.limits import MemoryBudget

#: Most messages kept per job, and most characters per message.
MAX_MESSAGES = 8
MAX_MESSAGE_CHARS = 300
#: Exit status of a worker that stops itself after running out of memory.
RETIRED = 75


class WorkerCrashed(Exception):
    """The worker died (or hung) while running this job; the message says how."""


class JobFailed(Exception):
    """The job raised in the worker: ``"TypeName: message"``."""


@dataclass(frozen=True)
class Outcome:
    """A job's return value and what the libraries printed while it ran."""

    value: Any
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkerSettings:
    """How a worker limits itself."""

    address_space_headroom: int | None = None
    """Bytes of address space allowed beyond the worker's size at start-up."""
    opencv_threads: int = 1


def worker_main(conn: Connection, budget: MemoryBudget, held: Any,
                settings: WorkerSettings) -> None:
    """Entry point of a worker process: serve jobs until told to stop.

    A worker whose job ran out of memory, or that has grown by more than half
    its address-space headroom, answers and then exits with :data:`RETIRED`:
    the pool starts a fresh one and gives it the jobs this one still held.
    """
    _start_up(budget, held, settings)
    start_size = _vm_size()
    grown = (settings.address_space_headroom or 2**62) // 2
    with _StderrCapture() as capture:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            if message is None:
                return
            task_id, function, args = message
            ok, value, messages = run_job(function, args, capture)
            try:
                conn.send((task_id, ok, value, messages))
            except (BrokenPipeError, OSError):
                return
            except Exception as exc:  # noqa: BLE001 - a result that cannot be pickled
                conn.send((task_id, False, (type(exc).__name__, str(exc)), messages))
            if (not ok and value[0] == "MemoryError") or _vm_size() - start_size > grown:
                conn.close()
                os._exit(RETIRED)


def run_job(function: Callable[..., Any], args: tuple[Any, ...],
            capture: _StderrCapture | None = None) -> tuple[bool, Any, tuple[str, ...]]:
    """Run ``function(*args)``; return ``(ok, value or (error type, text), messages)``."""
    lines: list[str] = []
    from PIL import Image

    with warnings.catch_warnings(record=True) as caught, _stderr_into(capture, lines):
        warnings.simplefilter("always")
        # Recording every warning must not turn Pillow's bomb limit into a note.
        warnings.filterwarnings("error", category=Image.DecompressionBombWarning)
        try:
            value, ok = function(*args), True
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, never lost
            value, ok = (type(exc).__name__, " ".join(str(exc).split())), False
    lines.extend(f"{w.category.__name__}: {w.message}" for w in caught)
    return ok, value, _tidy(lines)


def _start_up(budget: MemoryBudget, held: Any, settings: WorkerSettings) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    import cv2

    from pneumo.films import limits, lut
    from pneumo.films.codecs import configure_pydicom

    cv2.setNumThreads(settings.opencv_threads)
    lut.set_threads(settings.opencv_threads)
    configure_pydicom()
    limits.install_budget(budget, held)
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)  # its failures are raised too
    if settings.address_space_headroom:
        _limit_address_space(settings.address_space_headroom)


def _vm_size() -> int:
    """This process's address-space size in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):
        return 0


def _limit_address_space(headroom: int) -> None:
    try:
        import resource

        size = _vm_size()
        if not size:
            return
        limit = size + headroom
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, OSError, ValueError):
        pass  # not Linux: the in-flight budget still bounds what we decode


class _StderrCapture:
    """File descriptor 2 pointed at a scratch file while jobs run."""

    def __enter__(self) -> Self:
        self._scratch = tempfile.TemporaryFile()
        return self

    def __exit__(self, *exc: object) -> None:
        self._scratch.close()

    @contextlib.contextmanager
    def into(self, lines: list[str]) -> Iterator[None]:
        import sys

        sys.stderr.flush()
        saved = os.dup(2)
        self._scratch.seek(0)
        self._scratch.truncate()
        os.dup2(self._scratch.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            self._scratch.seek(0)
            text = self._scratch.read(64 * 1024).decode("utf-8", "replace")
            lines.extend(line for line in text.splitlines() if line.strip())


@contextlib.contextmanager
def _stderr_into(capture: _StderrCapture | None, lines: list[str]) -> Iterator[None]:
    if capture is None:
        yield
    else:
        with capture.into(lines):
            yield


def _tidy(lines: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for line in lines:
        text = " ".join(line.split())
        if len(text) > MAX_MESSAGE_CHARS:
            text = text[: MAX_MESSAGE_CHARS - 3] + "..."
        if text and text not in out:
            out.append(text)
    return tuple(out[:MAX_MESSAGES])
