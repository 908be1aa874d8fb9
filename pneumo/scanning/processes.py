"""Starting and ending decoding worker processes.

Workers start from a ``forkserver`` that has already imported the decoding
stack (:data:`PRELOAD`), so a replacement worker is ready in milliseconds and
the caller's process, which may run Qt threads, is never forked.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from pneumo.films.limits import MemoryBudget
from pneumo.scanning.worker import WorkerSettings, worker_main

#: Modules the forkserver imports once, before it forks any worker.
PRELOAD = ["pneumo.scanning.prepare", "pneumo.scanning.worker", "pneumo.films.dicom",
           "pneumo.films.pylibjpeg_plugin", "pydicom.pixels.decoders.pillow",
           "pydicom.pixels.decoders.rle", "pydicom.pixels.decoders.pyjpegls", "imagecodecs"]


def start_context() -> Any:
    """A ``forkserver`` context that preloads the decoding stack (``spawn`` without one)."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def death_reason(exitcode: int | None) -> str:
    """Why a worker process ended, from its exit code."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == signal.SIGKILL:
            return f"decoder was killed ({name}; out of memory?)"
        return f"decoder crashed ({name})"
    return f"decoder crashed (exit status {exitcode})"


def kill(process: BaseProcess) -> None:
    """SIGKILL ``process`` (it may be gone already, or not started)."""
    if process.pid is None:
        return
    try:
        os.kill(process.pid, signal.SIGKILL)
    except OSError:
        pass


def start_worker(ctx: Any, budget: MemoryBudget, settings: WorkerSettings
                 ) -> tuple[BaseProcess, Connection, Any]:
    """Start a worker (:func:`~pneumo.scanning.worker.worker_main`) from ``ctx``:
    its process, the parent's end of its pipe, and the shared count of the
    budget's bytes it holds (a ``multiprocessing`` value)."""
    parent_end, child_end = ctx.Pipe()
    held = ctx.Value("q", 0, lock=False)
    process = ctx.Process(target=worker_main, args=(child_end, budget, held, settings),
                          name="pneumo-decoder", daemon=True)
    process.start()
    child_end.close()
    return process, parent_end, held


def ask_to_stop(conn: Connection) -> None:
    """Tell the worker at the other end of ``conn`` to stop after its job (it may be gone)."""
    try:
        conn.send(None)
    except OSError:
        pass


def reap(processes: Iterable[BaseProcess], grace_s: float = 1.0) -> None:
    """Wait up to ``grace_s`` in all for ``processes`` to end, then kill the rest."""
    deadline = time.monotonic() + grace_s
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            kill(process)
