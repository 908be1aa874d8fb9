"""The main window: wires the :class:`~desktop.session.Session` to the widgets.

Left the worklist, centre the image with its result, right the DICOM tags;
a permanent "Not for diagnostic use" notice in the status bar and warning
bars for a missing model or a threshold override. Files and folders open by
drag and drop or through the File menu (menus live in :mod:`desktop.actions`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.actions import ViewerControls, install_actions
from desktop.export import export_csv, save_png
from desktop.film_view import FilmView
from desktop.geometry import place_window
from desktop.image_panel import ImagePanel
from desktop.model_bars import ModelBars
from desktop.model_info import NOT_FOR_DIAGNOSIS, model_info_html
from desktop.results_features import ResultFeatures
from desktop.session import Session
from desktop.settings import AppSettings
from desktop.tags_panel import TagsPanel
from desktop.worklist_panel import WorklistPanel
from pneumo.results.display import NO_SELECTION, Labels
from pneumo.results.notes import explain_problem_note
from pneumo.results.records import ScanRecord


class MainWindow(QMainWindow):
    """PneumoScan's main window; see the module docstring.

    Its public methods are what the menus (:class:`desktop.actions.ActionHost`)
    and the app's entry point call.
    """

    overlay_shown = Signal(object)
    """A heat map for this path was attached to the viewer."""
    view_settled = Signal(object)
    """The view job for this path finished (image, overlay or problem shown)."""

    def __init__(self, session: Session, settings: AppSettings,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self.setWindowTitle("PneumoScan — chest X-ray pneumonia screening (not for diagnosis)")
        self.setAcceptDrops(True)
        self.worklist = WorklistPanel(session.worklist)
        self.image_panel = ImagePanel()
        self.tags = TagsPanel()
        self.bars = ModelBars()
        self.model_bar, self.threshold_bar = self.bars.model_bar, self.bars.threshold_bar
        self.notice = QLabel(f"⚠ {NOT_FOR_DIAGNOSIS}")
        self.notice.setObjectName("notForDiagnosis")
        self.notice.setStyleSheet("color:#b3261e; font-weight:bold; padding:2px 6px;")
        self.film_view = FilmView(session, self.image_panel, self.tags, self)
        self._build()
        self.actions_ = install_actions(self)
        self.features = ResultFeatures(self, self.actions_.export_png)
        self._connect()
        self._restore()
        session.load_model()

    def _build(self) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.worklist)
        splitter.addWidget(self.image_panel)
        splitter.setStretchFactor(0, 5)
        splitter.setStretchFactor(1, 6)
        splitter.setSizes([700, 760])
        self.splitter = splitter
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.bars)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)
        dock = QDockWidget("DICOM tags", self)
        dock.setObjectName("tagsDock")
        dock.setWidget(self.tags)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.tags_dock = dock
        self.resizeDocks([dock], [270], Qt.Orientation.Horizontal)
        self.statusBar().addPermanentWidget(self.bars.model_label)
        self.statusBar().addPermanentWidget(self.notice, 1)

    def _connect(self) -> None:
        s = self.session
        s.model_loaded.connect(self._model_loaded)
        s.scan_started.connect(self.worklist.scan_started)
        s.progress.connect(self.worklist.set_progress)
        s.scan_finished.connect(self._scan_finished)
        s.record_arrived.connect(self._record_arrived)
        self.film_view.overlay_shown.connect(self.overlay_shown)
        self.film_view.settled.connect(self.view_settled)
        s.walk_reported.connect(self._walk_reported)
        s.failed.connect(lambda msg: self.statusBar().showMessage(f"Error: {msg}", 10000))
        s.worklist.rowsInserted.connect(self._rows_inserted)
        self.worklist.row_selected.connect(self.film_view.select)
        self.worklist.row_selected.connect(self.features.show_history)
        self.worklist.cancel_requested.connect(s.cancel)
        self.image_panel.opacity_changed.connect(self._opacity_changed)
        self.tags.hide_identifiers_changed.connect(self.set_hide_identifiers)

    def _restore(self) -> None:
        place_window(self, self.settings.geometry)
        state = self.settings.window_state
        if state is not None:
            self.restoreState(state)
        self.image_panel.set_opacity(self.settings.overlay_opacity)
        self.set_hide_identifiers(self.settings.hide_identifiers)

    # -- public API ------------------------------------------------------------------
    def open_paths(self, paths: Iterable[str | Path]) -> None:
        """Add files and folders to the worklist and scan them."""
        items = [Path(p) for p in paths]
        if items:
            first = items[0]
            self.settings.last_folder = first if first.is_dir() else first.parent
            self.session.open_paths(items)

    def set_threshold_override(self, value: float | None) -> None:
        """Use a decision threshold other than the card's (None: the card's)."""
        self.settings.threshold_override = value
        self.session.set_threshold_override(value)
        self._update_bars()
        self.film_view.select(self.worklist.selected_row(), reload=False)

    def set_hide_identifiers(self, hide: bool) -> None:
        """Mask patient name and id in the worklist and the tags panel."""
        self.settings.hide_identifiers = hide
        self.session.worklist.set_hide_identifiers(hide)
        self.tags.set_hide_identifiers(hide)
        self.tags.hide_box.setChecked(hide)

    def export_worklist(self, path: str | Path, include_identifiers: bool = False) -> int:
        """Write every worklist row to CSV (atomically); returns the row count."""
        n = export_csv(self.session.worklist.records(), path, include_identifiers)
        self.statusBar().showMessage(f"Exported {n} rows to {path}", 8000)
        return n

    def export_image(self, path: str | Path) -> Path | None:
        """Save the current image with its overlay, as drawn, to PNG (atomically)."""
        image = self.image_panel.viewer.composite_image()
        if image is None:
            return None
        out = save_png(image, path)
        self.statusBar().showMessage(f"Saved {out}", 8000)
        return out

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Stop the listener and all workers and wait for them; True when all stopped."""
        self.features.shutdown()
        self.film_view.cancel()
        return self.session.shutdown(timeout_ms)

    def clear_worklist(self) -> None:
        """Cancel the scan and remove every file."""
        self.session.cancel()
        self.session.worklist.clear()
        self.image_panel.show_result(NO_SELECTION)
        self.tags.set_metadata(None)

    def dialog_parent(self) -> QWidget:
        """The widget dialogs are shown over (this window)."""
        return self

    def viewer_controls(self) -> ViewerControls:
        """The image viewer's commands."""
        return self.image_panel.viewer

    def tags_toggle(self) -> QAction:
        """The action showing or hiding the DICOM tags pane."""
        return self.tags_dock.toggleViewAction()

    def start_folder(self) -> str:
        """Where file dialogs open: the last folder used, else the home folder."""
        folder = self.settings.last_folder
        return folder if folder and Path(folder).is_dir() else str(Path.home())

    def row_count(self) -> int:
        """Number of files in the worklist."""
        return self.session.worklist.rowCount()

    def selected_path(self) -> Path | None:
        """The selected file, if any."""
        row = self.worklist.selected_row()
        return row.path if row is not None else None

    def move_selection(self, step: int) -> None:
        """Select the file ``step`` rows below (negative: above)."""
        self.worklist.move_selection(step)

    def thresholds(self) -> tuple[float, float] | None:
        """(the model card's threshold, the one in use), or None without a model."""
        card_t, current = self.session.card_threshold, self.session.threshold
        return None if card_t is None or current is None else (card_t, current)

    def label_names(self) -> Labels:
        """The loaded model card's label names (negative, positive)."""
        return self.session.worklist.labels

    def set_heatmap_enabled(self, on: bool) -> None:
        """Draw heat maps (where the display policy allows) or not."""
        self.image_panel.overlay_toggle.setChecked(on)

    def connect_heatmap_enabled(self, slot: Callable[[bool], object]) -> None:
        """Call ``slot`` when heat maps are switched on or off in the panel."""
        self.image_panel.overlay_toggle.toggled.connect(slot)

    def identifiers_hidden(self) -> bool:
        """True while patient names and ids are masked."""
        return self.settings.hide_identifiers

    def connect_identifiers_hidden(self, slot: Callable[[bool], object]) -> None:
        """Call ``slot`` when masking is switched in the tags pane."""
        self.tags.hide_identifiers_changed.connect(slot)

    def model_info_page(self) -> str:
        """HTML describing the loaded model (or why there is none)."""
        s = self.session
        return model_info_html(s.card, s.model_path, s.threshold)

    # -- slots -----------------------------------------------------------------------
    def _model_loaded(self) -> None:
        self._update_bars()

    def _update_bars(self) -> None:
        runner, thresholds = self.session.runner, self.thresholds()
        if self.session.model_loading:
            return
        if runner is None or thresholds is None:
            self.bars.show_no_model(self.session.model_error or "no model configured")
            self.bars.show_explain_problem(None)
        else:
            self.bars.show_model(runner.card.name, runner.is_quantised, *thresholds,
                                 override=self.session.override_differs())
            problem = self.session.explain_problem
            self.bars.show_explain_problem(
                None if problem is None
                else explain_problem_note(problem, runner.card))

    def _scan_finished(self, cancelled: bool) -> None:
        if not self.session.busy():
            self.worklist.scan_finished()
        self.film_view.select(self.worklist.selected_row(), reload=False)
        rows = len(self.session.worklist.rows)
        self.statusBar().showMessage("Scan cancelled" if cancelled else f"{rows} files", 8000)

    def _walk_reported(self, note: str) -> None:
        self.worklist.set_note(note)
        if note:
            self.statusBar().showMessage(note, 15000)

    def _rows_inserted(self, *_args: object) -> None:
        if self.worklist.selected_row() is None:
            self.worklist.select_proxy_row(0)

    def _record_arrived(self, record: ScanRecord) -> None:
        row = self.worklist.selected_row()
        if row is not None and row.path == record.path:
            self.film_view.select(row, reload=False)

    def _opacity_changed(self, value: float) -> None:
        self.settings.overlay_opacity = value

    # -- Qt events -------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept drags carrying local files or folders."""
        if local_paths(event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """Open the dropped files and folders."""
        paths = local_paths(event.mimeData().urls())
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Save geometry and stop the workers."""
        self.settings.geometry = self.saveGeometry()
        self.settings.window_state = self.saveState()
        self.settings.sync()
        self.shutdown(3000)
        super().closeEvent(event)


def local_paths(urls: Iterable[QUrl]) -> list[Path]:
    """Local file paths among QUrls (remote URLs are ignored)."""
    return [Path(u.toLocalFile()) for u in urls if u.isLocalFile() and u.toLocalFile()]
