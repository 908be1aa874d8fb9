"""Starting and ending decoding worker processes.

Workers start from a ``forkserver`` that has already imported the decoding
stack (:data:`PRELOAD`), so a replacement worker is ready in milliseconds and
the caller's process, which may run Qt threads, is never forked.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from typing import Any

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


def kill(process: Any) -> None:
    """SIGKILL ``process`` (it may be gone already)."""
    try:
        os.kill(process.pid, signal.SIGKILL)
    except (OSError, TypeError):
        pass
