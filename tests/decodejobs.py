"""Decoding jobs for tests: the real :func:`prepare` with a fault or a delay added.

A scan runs its job in worker processes, so a test cannot monkeypatch the
loader; it passes one of these (module-level, so a worker can import them;
bind arguments with :func:`functools.partial`) as ``scan(..., job=...)``.
"""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path

from pneumo.model.preprocess import Preprocessing
from pneumo.scanning.prepare import Prepared, prepare

#: A file whose name contains this makes :func:`crashing` abort its worker.
ABORT_MARKER = "ABORT_DECODER"
#: ... this makes it crash with a segmentation fault.
SEGFAULT_MARKER = "SEGV_DECODER"
#: ... this makes it allocate memory without bound.
RUNAWAY_MARKER = "RUNAWAY_DECODER"
#: ... this makes it hang.
HANG_MARKER = "HANG_DECODER"


def crashing(path: Path, spec: Preprocessing) -> Prepared:
    """Like a native decoder that aborts, segfaults, runs away or hangs on some files."""
    name = Path(path).name
    if ABORT_MARKER in name:
        os.abort()  # what C++ std::terminate does
    if SEGFAULT_MARKER in name:
        ctypes.string_at(0)  # read address 0
    if RUNAWAY_MARKER in name:
        hoard = []
        while True:  # until the worker's address-space limit stops it
            hoard.append(bytearray(64 * 1024 * 1024))
    if HANG_MARKER in name:
        time.sleep(3600)
    return prepare(path, spec)


def raising(name: str, path: Path, spec: Preprocessing) -> Prepared:
    """Raise RuntimeError("boom") for the file called ``name`` (a job that fails)."""
    if Path(path).name == name:
        raise RuntimeError("boom")
    return prepare(path, spec)


def slow(delays: dict[str, float], path: Path, spec: Preprocessing) -> Prepared:
    """Sleep ``delays[file name]`` seconds (default 0.2) before decoding."""
    time.sleep(delays.get(Path(path).name, 0.2))
    return prepare(path, spec)


def logged(folder: str, path: Path, spec: Preprocessing) -> Prepared:
    """Record that decoding started (a file named after ``path`` in ``folder``)."""
    (Path(folder) / Path(path).name).touch()
    return prepare(path, spec)


def worker_pid(path: Path, spec: Preprocessing) -> Prepared:
    """The worker's process id as the file's only warning (no decoding)."""
    return Prepared(Path(path), None, None, (f"pid {os.getpid()}",), "not decoded")


def started_at(seconds: float) -> tuple[float, int]:
    """(when this job started, on the system's monotonic clock; the worker's pid),
    after sleeping ``seconds``."""
    start = time.monotonic()
    time.sleep(seconds)
    return start, os.getpid()
