"""Unexpected exceptions become a non-blocking dialog; the app keeps running.

:func:`install_excepthook` replaces :data:`sys.excepthook` (exceptions in Qt
slots and event handlers end there) and :data:`threading.excepthook`. Both
only emit a signal, so the dialog is always created on the GUI thread; it is
shown with :meth:`QMessageBox.show` (never ``exec``), so nothing blocks.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

_Hook = Callable[[type[BaseException], BaseException, TracebackType | None], object]


class ErrorReporter(QObject):
    """Shows one dialog per unexpected exception; keeps the last few for tests."""

    reported = Signal(str, str)
    """(one-line summary, full traceback)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._parent = parent
        self.dialogs: list[QMessageBox] = []
        self._previous: tuple[_Hook, Callable[..., object]] | None = None
        self.reported.connect(self._show)

    def report(self, exc_type: type[BaseException], exc: BaseException,
               tb: TracebackType | None) -> None:
        """Print the traceback and ask the GUI thread to show a dialog."""
        detail = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(detail)
        self.reported.emit(f"{exc_type.__name__}: {exc}", detail)

    def _hook(self, exc_type: type[BaseException], exc: BaseException,
              tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt) and self._previous is not None:
            self._previous[0](exc_type, exc, tb)
            return
        self.report(exc_type, exc, tb)

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            self.report(args.exc_type, args.exc_value, args.exc_traceback)

    def _show(self, summary: str, detail: str) -> None:
        box = QMessageBox(self._parent)
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle("Unexpected error")
        box.setText("Something went wrong. PneumoScan keeps running; the current "
                    "operation may be incomplete.")
        box.setInformativeText(summary)
        box.setDetailedText(detail)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.finished.connect(lambda _r, b=box: self._forget(b))
        self.dialogs = [*self.dialogs[-4:], box]
        box.show()

    def _forget(self, box: QMessageBox) -> None:
        if box in self.dialogs:
            self.dialogs.remove(box)
        box.deleteLater()

    def install(self) -> None:
        """Route uncaught exceptions (GUI and worker threads) here."""
        if self._previous is None:
            self._previous = (sys.excepthook, threading.excepthook)
            sys.excepthook = self._hook
            threading.excepthook = self._thread_hook

    def uninstall(self) -> None:
        """Restore the previous hooks."""
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous
            self._previous = None


def install_excepthook(parent: QWidget | None = None) -> ErrorReporter:
    """Create an :class:`ErrorReporter` for ``parent`` and install it."""
    reporter = ErrorReporter(parent)
    reporter.install()
    return reporter
