"""The app's parts that use the result store and the DICOM network.

:class:`ResultFeatures` adds to the main window: the "Earlier results" pane
(a film's stored results, other model versions marked), File > "Export
results to DICOM…" (an SR and an SC per classified DICOM film, in a worker),
and a Network menu that starts and stops the listener, whose arrivals join
the worklist as they are classified. The logic is in the core
(:mod:`pneumo.results.history`, :mod:`pneumo.results.dicom_out`,
:mod:`pneumo.network.listener`); this module wires it to widgets.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStatusBar,
    QWidget,
)

from desktop.generator_worker import GeneratorWorker
from desktop.history_panel import HistoryPanel
from desktop.listener_control import ListenerControl, ListenerDialog
from desktop.session import Session
from desktop.worklist_model import WorklistRow
from pneumo.errors import PneumoError
from pneumo.results.records import ScanRecord

if TYPE_CHECKING:
    from pneumo.network.listener import ListenerConfig, ListenerStats
    from pneumo.results.dicom_out import DicomExport


class FeatureHost(Protocol):
    """What :class:`ResultFeatures` needs from the main window."""

    session: Session
    tags_dock: QDockWidget

    def statusBar(self) -> QStatusBar:
        """The window's status bar."""

    def dialog_parent(self) -> QWidget:
        """The widget dialogs are shown over."""

    def start_folder(self) -> str:
        """Where file dialogs open."""


class ResultFeatures(QObject):
    """See the module docstring; ``window`` is the main window."""

    def __init__(self, window: FeatureHost, file_menu_anchor: QAction | None = None) -> None:
        super().__init__()
        self.window = window
        self.session = window.session
        self.history = HistoryPanel()
        self.listener = ListenerControl(self)
        self.exports: list[DicomExport] = []
        self._export: GeneratorWorker[DicomExport] | None = None
        self._selected: WorklistRow | None = None
        self._add_dock()
        self._add_menus(file_menu_anchor)
        self.listener.arrived.connect(self._arrived)
        self.listener.message.connect(lambda m: self._status(m, 10000))
        self.listener.stopped.connect(self._stopped)
        self.session.record_arrived.connect(self._record_arrived)

    def _add_dock(self) -> None:
        main = self.window
        assert isinstance(main, QMainWindow)
        dock = QDockWidget("Earlier results", main)
        dock.setObjectName("historyDock")
        dock.setWidget(self.history)
        main.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        main.tabifyDockWidget(self.window.tags_dock, dock)
        self.window.tags_dock.raise_()
        self.dock = dock

    def _add_menus(self, anchor: QAction | None) -> None:
        main = self.window
        assert isinstance(main, QMainWindow)
        self.export_dicom_action = QAction("Export results to &DICOM…", main)
        self.export_dicom_action.triggered.connect(self.export_dicom_dialog)
        file_menu = anchor.parent() if anchor is not None else None
        if anchor is not None and isinstance(file_menu, QMenu):
            file_menu.insertAction(anchor, self.export_dicom_action)
        network = main.menuBar().addMenu("&Network")
        self.start_action = network.addAction("&Listen for DICOM films…")
        self.start_action.triggered.connect(self.start_dialog)
        self.stop_action = network.addAction("&Stop listening")
        self.stop_action.triggered.connect(lambda: self.stop_listening())
        self.stop_action.setEnabled(False)
        network.addAction(self.dock.toggleViewAction())

    def _status(self, text: str, ms: int = 8000) -> None:
        self.window.statusBar().showMessage(text, ms)

    # -- earlier results ----------------------------------------------------------
    def show_history(self, row: WorklistRow | None) -> None:
        """List the selected film's stored results."""
        from pneumo.results.history import film_history
        from pneumo.results.store import StoreError

        self._selected = row
        store, runner = self.session.store, self.session.runner
        if store is None:
            self.history.show_note("The result store is off.")
            return
        if row is None:
            self.history.show_note("No film selected.")
            return
        digest = row.record.content_sha256 if row.record is not None else None
        try:
            results = film_history(store, row.path, digest,
                                   runner.sha256 if runner is not None else None)
        except StoreError as exc:
            self.history.show_note(str(exc))
            return
        if results:
            self.history.show_results(results)
        else:
            self.history.show_note("No result in the store for this film yet.")

    def _record_arrived(self, record: ScanRecord) -> None:
        if self._selected is not None and self._selected.path == record.path:
            index = self.session.worklist.row_of(record.path)
            self.show_history(None if index is None else self.session.worklist.row_at(index))

    # -- DICOM export ----------------------------------------------------------------
    def export_dicom_dialog(self) -> None:
        """File > Export results to DICOM: choose a folder, export in a worker."""
        parent = self.window.dialog_parent()
        if self.session.runner is None:
            QMessageBox.information(parent, "Export to DICOM", "No model is loaded.")
            return
        folder = QFileDialog.getExistingDirectory(parent, "Export results to DICOM",
                                                  self.window.start_folder())
        if folder:
            self.export_dicom(Path(folder))

    def export_dicom(self, folder: Path) -> GeneratorWorker[DicomExport] | None:
        """Write an SR and an SC for every classified DICOM film of the worklist."""
        from pneumo.results.dicom_out import DicomExporter, export_all

        runner, store = self.session.runner, self.session.store
        if runner is None or self._export is not None:
            return None
        records = self.session.worklist.records()
        exporter = DicomExporter(folder, runner, store)
        threshold = self.session.threshold_override
        self.exports = []
        worker: GeneratorWorker[DicomExport] = GeneratorWorker(
            lambda cancel: export_all(records, exporter, threshold, cancel))
        worker.signals.yielded.connect(self.exports.append)
        worker.signals.errored.connect(lambda m: self._status(f"Export failed: {m}", 10000))
        worker.signals.finished.connect(lambda _c: self._export_finished(folder))
        self._export = worker
        self._status(f"Exporting DICOM results to {folder}…", 0)
        return worker.start()

    def _export_finished(self, folder: Path) -> None:
        self._export = None
        done = [e for e in self.exports if e.skipped is None]
        skipped = [e for e in self.exports if e.skipped is not None]
        text = (f"{sum(len(e.files) for e in done)} DICOM files for {len(done)} films "
                f"in {folder}")
        if skipped:
            text += f"; {len(skipped)} skipped (first: {skipped[0].skipped})"
        self._status(text, 15000)

    # -- listener --------------------------------------------------------------------
    def start_dialog(self) -> None:
        """Network > Listen: ask for the settings, then start."""
        from pneumo.results.store import user_data_dir

        parent = self.window.dialog_parent()
        dialog = ListenerDialog(user_data_dir() / "listener", parent)
        if dialog.exec() != ListenerDialog.DialogCode.Accepted:
            return
        try:
            self.start_listening(dialog.config(self.session.threshold_override))
        except PneumoError as exc:
            QMessageBox.warning(parent, "Cannot listen", str(exc))

    def start_listening(self, config: ListenerConfig) -> str:
        """Start the listener (raises :class:`PneumoError`); returns its address line."""
        if self.session.model_path is None or self.session.runner is None:
            raise PneumoError("no model is loaded")
        where = self.listener.start(config, self.session.model_path, self.session.store)
        self.start_action.setEnabled(False)
        self.stop_action.setEnabled(True)
        self._status(f"Listening: {where}", 0)
        return where

    def stop_listening(self, wait: bool = False) -> None:
        """Stop the listener (the films in flight are saved and classified first)."""
        if self.listener.running:
            self._status("Stopping the listener…", 0)
            self.stop_action.setEnabled(False)
            self.listener.stop(wait=wait)

    def _stopped(self, stats: ListenerStats) -> None:
        self.start_action.setEnabled(True)
        self.stop_action.setEnabled(False)
        self._status(f"Listener stopped: {stats.received} received, {stats.classified} "
                     f"classified, {stats.refused} refused", 15000)

    def _arrived(self, record: ScanRecord) -> None:
        self.session.worklist.set_record(record)
        self.session.record_arrived.emit(record)
        self._status(f"Received {record.path.name}", 5000)

    def shutdown(self) -> None:
        """Stop the listener (waiting for it) and any export."""
        if self._export is not None:
            self._export.cancel()
        self.stop_listening(wait=True)
