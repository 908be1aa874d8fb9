"""Memory limits for reading films, checked before anything large is read.

Every size a file declares is checked before it is read, inflated or decoded:

- :data:`MAX_FILE_BYTES`: larger files are refused from their size alone.
  DICOM files are read lazily (the header, then only the first frame), so
  this bounds what a damaged length can make us read.
- :data:`MAX_RASTER_BYTES`: PNG/JPEG/TIFF/BMP files are read whole, so they
  have a lower bound.
- :data:`MAX_PIXELS`: images with more pixels are refused from their header
  (Pillow's own decompression-bomb limit is set to the same value).
- :data:`MAX_INFLATED_BYTES`: a deflated DICOM data set is inflated as a
  stream and refused once it passes this.
- :data:`MAX_DECODE_BYTES`: the working memory one decode is estimated to
  need (:func:`decode_bytes`: the encoded bytes, the decoded samples and the
  float image) must stay under it.
- :data:`IN_FLIGHT_BYTES`: in worker processes, all decodes together hold at
  most this much; a decode that would pass it waits for others to finish
  (:class:`MemoryBudget`, shared by the workers of a pool).

A decode takes its share with :func:`reserve`; what it refuses is an
:class:`~pneumo.errors.UnsupportedImageError` naming the file and the limit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pneumo.errors import UnsupportedImageError

MiB = 1024 * 1024
MAX_FILE_BYTES = 1024 * MiB
MAX_RASTER_BYTES = 256 * MiB
MAX_PIXELS = 50_000_000
MAX_INFLATED_BYTES = 128 * MiB
MAX_DECODE_BYTES = 512 * MiB
IN_FLIGHT_BYTES = 768 * MiB
_WAIT_S = 0.5


def decode_bytes(pixels: int, samples: int, bytes_per_sample: int, encoded: int = 0) -> int:
    """Estimated working memory of decoding one image to float pixels.

    The encoded bytes held while decoding, the decoded samples, their float32
    copy, and one float32 grey image (mapping, luma, resizing).
    """
    return encoded + pixels * samples * (bytes_per_sample + 4) + pixels * 4


class MemoryBudget:
    """Bytes held by decodes across processes: at most ``total`` at a time.

    Built in the parent from a multiprocessing context and handed to each
    worker; :meth:`acquire` waits while the others hold too much.
    """

    def __init__(self, ctx: Any, total: int) -> None:
        self.total = int(total)
        self._used = ctx.Value("q", 0, lock=False)
        self._cond = ctx.Condition(ctx.Lock())

    def acquire(self, nbytes: int, held: Any | None = None) -> None:
        """Take ``nbytes`` (at most ``total``), waiting until they are free."""
        nbytes = min(int(nbytes), self.total)
        with self._cond:
            while self._used.value + nbytes > self.total:
                self._cond.wait(_WAIT_S)
            self._used.value += nbytes
            if held is not None:
                held.value += nbytes

    def release(self, nbytes: int, held: Any | None = None) -> None:
        """Give back ``nbytes`` taken by :meth:`acquire`."""
        nbytes = min(int(nbytes), self.total)
        with self._cond:
            self._used.value = max(0, self._used.value - nbytes)
            if held is not None:
                held.value = max(0, held.value - nbytes)
            self._cond.notify_all()

    @property
    def used(self) -> int:
        """Bytes held now."""
        return int(self._used.value)


_local = threading.local()
_process: tuple[MemoryBudget, Any] | None = None


def install_budget(budget: MemoryBudget | None, held: Any | None = None) -> None:
    """Make :func:`reserve` in this process draw on ``budget`` (a worker's start-up)."""
    global _process
    _process = None if budget is None else (budget, held)


@contextmanager
def reserve(path: str | Path, nbytes: int, what: str = "decode") -> Iterator[None]:
    """Hold ``nbytes`` of the in-flight budget for one file while decoding it.

    Refuses (:class:`UnsupportedImageError`) when ``nbytes`` is over
    :data:`MAX_DECODE_BYTES`. Nested reservations of one thread count together
    against that limit, and an inner one gives back the outer share before
    waiting for the sum, so two workers can never wait for each other.
    """
    outer = int(getattr(_local, "held", 0))
    total = outer + int(nbytes)
    if total > MAX_DECODE_BYTES:
        raise UnsupportedImageError(
            path,
            f"too large to {what}: needs about {_mib(total)} MiB of memory, "
            f"the limit is {_mib(MAX_DECODE_BYTES)} MiB",
        )
    shared = _process
    if shared is not None:
        budget, held = shared
        if outer:
            budget.release(outer, held)
        budget.acquire(total, held)
    _local.held = total
    try:
        yield
    finally:
        _local.held = outer
        if shared is not None:
            budget, held = shared
            budget.release(total, held)
            if outer:
                budget.acquire(outer, held)


def _mib(nbytes: int) -> str:
    return f"{nbytes / MiB:,.0f}"
