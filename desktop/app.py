"""Entry point of the desktop app: ``pneumo gui [options] [PATHS...]``.

Starts Qt, loads the model (LiteRT only, no TensorFlow), opens the window and
the given files or folders. ``--screenshot OUT.png`` waits until every result
and the first file's heat map are shown, saves a screenshot of the window
atomically and exits 0; 1 on timeout, or when a model could not be loaded
(classifier or explain model) or a scan failed, each said on standard error
(the screenshot still shows it). ``--exit-when-ready`` prints a line and
exits as soon as the window is shown with the model loaded (for benchmarks).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

if TYPE_CHECKING:
    from pneumo.results.store import ResultStore

READY_MARKER = "PNEUMOSCAN_READY"
SCREENSHOT_SIZE = (1600, 1000)
_POLL_MS = 100


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options of ``pneumo gui``."""
    p = argparse.ArgumentParser(prog="pneumo gui", description="Open the PneumoScan desktop app.")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders to open")
    p.add_argument("--model", type=Path, default=None, metavar="FILE",
                   help="a .tflite classifier (default: $PNEUMO_MODEL, else the shipped one)")
    p.add_argument("--settings", type=Path, default=None, metavar="FILE",
                   help="keep settings in this INI file instead of the user profile "
                   "(--screenshot runs otherwise start from defaults and save nothing)")
    p.add_argument("--screenshot", type=Path, default=None, metavar="OUT.png",
                   help="save a screenshot once results and the first heat map are shown, exit")
    p.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                   help="how long --screenshot waits before giving up (300)")
    p.add_argument("--exit-when-ready", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def resolve_model(model: Path | None) -> tuple[Path | None, str | None]:
    """(model path, None) or (None, why there is no model)."""
    from pneumo.errors import ModelNotFoundError
    from pneumo.model.locate import default_model_path

    if model is not None:
        return (model, None) if model.is_file() else (None, f"no model at {model}")
    try:
        return default_model_path(), None
    except ModelNotFoundError as exc:
        return None, str(exc)


def open_app_store() -> tuple[ResultStore | None, str | None]:
    """The result store ($PNEUMO_STORE, else the user data folder) and a note
    for the status bar when it was kept aside or cannot be used."""
    from pneumo.results.store import StoreError, open_store

    try:
        store = open_store(None)
    except StoreError as exc:
        return None, f"{exc}; results are not kept"
    return store, store.notice


def main(argv: list[str] | None = None) -> int:
    """Run the app; returns the process exit code."""
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    started = time.perf_counter()
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "pneumoscan"])
    assert isinstance(app, QApplication)
    app.setApplicationName("PneumoScan")
    app.setOrganizationName("PneumoScan")
    app.setStyle("Fusion")
    app.setDesktopFileName("pneumoscan")  # matches packaging/pneumoscan.desktop
    _set_icon(app)

    from desktop.crash import install_excepthook
    from desktop.main_window import MainWindow
    from desktop.session import Session
    from desktop.settings import AppSettings

    # a screenshot or benchmark run never writes the user's settings
    settings = AppSettings(args.settings,
                           scratch=args.screenshot is not None or args.exit_when_ready)
    model_path, model_error = resolve_model(args.model)
    store, store_note = open_app_store()
    session = Session(model_path, model_error, threshold_override=settings.threshold_override,
                      store=store)
    window = MainWindow(session, settings)
    if store_note:
        window.statusBar().showMessage(store_note, 20000)
    reporter = install_excepthook(window)
    if args.screenshot is not None:
        window.resize(*SCREENSHOT_SIZE)
    window.show()
    window.open_paths(args.paths)
    result = {"code": 0}
    if args.exit_when_ready:
        _exit_when_ready(app, window, started)
    if args.screenshot is not None:
        _screenshot_when_done(app, window, args.screenshot, args.timeout, result)
    try:
        code = app.exec()
    finally:
        window.shutdown(5000)
        reporter.uninstall()
        if store is not None:
            store.close()
    return result["code"] or int(code)


def _set_icon(app: QApplication) -> None:
    from importlib import resources

    from PySide6.QtGui import QIcon

    icon = resources.files("desktop").joinpath("icons", "pneumoscan.png")
    if isinstance(icon, Path) and icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))


def _exit_when_ready(app: QApplication, window: object, started: float) -> None:
    from desktop.main_window import MainWindow

    assert isinstance(window, MainWindow)

    def check() -> None:
        if window.isVisible() and not window.session.model_loading:
            loaded = "model" if window.session.runner is not None else "no-model"
            print(f"{READY_MARKER} {time.perf_counter() - started:.3f} {loaded}", flush=True)
            app.quit()
        else:
            QTimer.singleShot(5, check)

    QTimer.singleShot(0, check)


def _screenshot_when_done(app: QApplication, window: object, out: Path, timeout: float,
                          result: dict[str, int]) -> None:
    from desktop.export import save_widget_png
    from desktop.main_window import MainWindow
    from pneumo.util.text import escape_text

    assert isinstance(window, MainWindow)
    settled: set[str] = set()
    window.view_settled.connect(lambda p: settled.add(str(p)))
    deadline = time.monotonic() + timeout

    def first_view_done() -> bool:
        rows = window.session.worklist.rows
        if not rows:
            return True
        return str(rows[0].path) in settled and not window.film_view.busy()

    def check() -> None:
        s = window.session
        if not s.model_loading and not s.busy() and first_view_done():
            QTimer.singleShot(300, shoot)  # let the last repaint land
        elif time.monotonic() > deadline:
            print(f"pneumo gui: timed out after {timeout:g} s waiting for results",
                  file=sys.stderr)
            result["code"] = 1
            app.quit()
        else:
            QTimer.singleShot(_POLL_MS, check)

    def shoot() -> None:
        try:
            saved = save_widget_png(window, out)
            print(f"screenshot saved to {saved}")
        except Exception as exc:  # noqa: BLE001 - a failed screenshot must not hang
            print(f"pneumo gui: cannot save the screenshot: {exc}", file=sys.stderr)
            result["code"] = 1
        for problem in window.session.problems():  # shown in the window, and failed here
            print(f"pneumo gui: {escape_text(problem)}", file=sys.stderr)
            result["code"] = 1
        app.quit()

    def give_up() -> None:  # a hard stop, whatever else happened
        print(f"pneumo gui: gave up after {timeout:g} s", file=sys.stderr)
        result["code"] = 1
        app.quit()

    QTimer.singleShot(_POLL_MS, check)
    QTimer.singleShot(int((timeout + 5.0) * 1000), give_up)
