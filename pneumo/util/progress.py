"""A minimal progress bar for the terminal (no dependency).

It draws on a stream (standard error by default) only when that stream is a
terminal, so piped or redirected output stays clean.
"""

from __future__ import annotations

import sys
import time
from typing import Self, TextIO


class ProgressBar:
    """``[#####-----]  12/40  30%`` redrawn in place, at most 10 times a second.

    ``total`` may be ``None`` (unknown): then only the count is shown.
    ``enabled`` defaults to ``stream.isatty()``.
    """

    def __init__(
        self,
        total: int | None,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        width: int = 30,
        label: str = "",
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self._stream, "isatty", None)
            enabled = bool(isatty()) if callable(isatty) else False
        self.enabled = enabled
        self.total = total
        self.count = 0
        self._width = max(5, width)
        self._label = label
        self._last_draw = 0.0
        self._drawn = False

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more items done and redraw if due."""
        self.count += n
        now = time.monotonic()
        done = self.total is not None and self.count >= self.total
        if self.enabled and (done or now - self._last_draw >= 0.1):
            self._last_draw = now
            self._draw()

    def clear(self) -> None:
        """Erase the bar (before other output goes to the same terminal)."""
        if self.enabled and self._drawn:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._drawn = False

    def redraw(self) -> None:
        """Draw the bar again now (e.g. after :meth:`clear`)."""
        if self.enabled:
            self._draw()

    def close(self) -> None:
        """Erase the bar for good."""
        self.clear()
        self.enabled = False

    def render(self) -> str:
        """The bar's text for the current count."""
        prefix = f"{self._label} " if self._label else ""
        if not self.total:
            return f"{prefix}{self.count} done"
        frac = min(1.0, self.count / self.total)
        filled = round(frac * self._width)
        bar = "#" * filled + "-" * (self._width - filled)
        return f"{prefix}[{bar}] {self.count}/{self.total} {frac:4.0%}"

    def _draw(self) -> None:
        self._stream.write("\r\x1b[K" + self.render())
        self._stream.flush()
        self._drawn = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
