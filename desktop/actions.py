"""Menus, shortcuts and the small dialogs behind them, for the main window.

Viewer shortcuts follow OHIF: ``I`` invert, ``Space`` reset, ``=`` fit;
arrows and PgUp/PgDn move between worklist rows. ``H`` toggles the heat map.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMessageBox

from desktop.model_info import HtmlDialog, about_html, model_info_html
from pneumo.errors import PneumoError
from pneumo.films.formats import dialog_filter

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

IMAGE_FILTER = dialog_filter()


def _add(menu: QMenu, text: str, slot: Callable[..., object],
         keys: Sequence[QKeySequence | QKeySequence.StandardKey | str] = (),
         checkable: bool = False) -> QAction:
    action = QAction(text, menu)
    if keys:
        action.setShortcuts([QKeySequence(k) for k in keys])
    action.setCheckable(checkable)
    if checkable:
        action.toggled.connect(slot)
    else:
        action.triggered.connect(slot)
    menu.addAction(action)
    return action


def install_actions(w: MainWindow) -> SimpleNamespace:
    """Create the menu bar of ``w``; returns the actions by name."""
    bar = w.menuBar()
    a = SimpleNamespace()
    viewer = w.image_panel.viewer
    file_menu = bar.addMenu("&File")
    a.open = _add(file_menu, "&Open files…", lambda: open_files_dialog(w), ["Ctrl+O"])
    a.open_folder = _add(file_menu, "Open &folder…", lambda: open_folder_dialog(w),
                         ["Ctrl+Shift+O"])
    file_menu.addSeparator()
    a.export_csv = _add(file_menu, "&Export worklist as CSV…", lambda: export_csv_dialog(w),
                        ["Ctrl+E"])
    a.export_png = _add(file_menu, "Export &image as PNG…", lambda: export_png_dialog(w),
                        ["Ctrl+Shift+E"])
    file_menu.addSeparator()
    a.clear = _add(file_menu, "&Clear worklist", lambda: clear_worklist(w))
    a.quit = _add(file_menu, "&Quit", w.close, ["Ctrl+Q"])

    view = bar.addMenu("&View")
    a.fit = _add(view, "&Fit to window", viewer.fit, ["="])
    a.actual = _add(view, "&Actual size (1:1)", viewer.actual_size, ["1"])
    a.zoom_in = _add(view, "Zoom &in", lambda: viewer.zoom_by(1.25), ["+"])
    a.zoom_out = _add(view, "Zoom &out", lambda: viewer.zoom_by(0.8), ["-"])
    a.invert = _add(view, "&Invert", viewer.toggle_invert, ["I"])
    a.reset = _add(view, "&Reset view", viewer.reset, ["Space"])
    view.addSeparator()
    a.heatmap = _add(view, "&Heat map", w.image_panel.overlay_toggle.setChecked, ["H"], True)
    a.heatmap.setChecked(True)
    w.image_panel.overlay_toggle.toggled.connect(a.heatmap.setChecked)
    a.hide_ids = _add(view, "Hide identifying &fields", w.set_hide_identifiers, [], True)
    a.hide_ids.setChecked(w.settings.hide_identifiers)
    w.tags.hide_identifiers_changed.connect(a.hide_ids.setChecked)
    view.addSeparator()
    a.next = _add(view, "&Next file", lambda: w.worklist.move_selection(1),
                  ["Down", "Right", "PgDown"])
    a.previous = _add(view, "&Previous file", lambda: w.worklist.move_selection(-1),
                      ["Up", "Left", "PgUp"])
    view.addAction(w.tags_dock.toggleViewAction())

    model = bar.addMenu("&Model")
    a.model_info = _add(model, "Model &information…", lambda: show_model_info(w))
    a.threshold = _add(model, "Set decision &threshold…", lambda: threshold_dialog(w))
    a.card_threshold = _add(model, "Use the model card's threshold",
                            lambda: w.set_threshold_override(None))
    help_menu = bar.addMenu("&Help")
    a.about = _add(help_menu, "&About PneumoScan…", lambda: show_about(w))
    return a


def _start_dir(w: MainWindow) -> str:
    folder = w.settings.last_folder
    return folder if folder and Path(folder).is_dir() else str(Path.home())


def open_files_dialog(w: MainWindow) -> None:
    """File > Open files."""
    files, _ = QFileDialog.getOpenFileNames(w, "Open X-ray files", _start_dir(w), IMAGE_FILTER)
    if files:
        w.open_paths(files)


def open_folder_dialog(w: MainWindow) -> None:
    """File > Open folder."""
    folder = QFileDialog.getExistingDirectory(w, "Open a folder of X-rays", _start_dir(w))
    if folder:
        w.open_paths([folder])


def export_csv_dialog(w: MainWindow) -> None:
    """File > Export worklist: choose a file, then whether to include identifiers."""
    if not w.session.worklist.rows:
        QMessageBox.information(w, "Export worklist", "The worklist is empty.")
        return
    path, _ = QFileDialog.getSaveFileName(
        w, "Export worklist as CSV", str(Path(_start_dir(w)) / "pneumoscan.csv"),
        "CSV (*.csv)")
    if not path:
        return
    answer = QMessageBox.question(
        w, "Identifying fields",
        "Include patient names and IDs in the CSV?\n\nChoose No to leave identifying "
        "fields out (recommended when the file leaves this workstation).",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No)
    try:
        w.export_worklist(path, include_identifiers=answer == QMessageBox.StandardButton.Yes)
    except (OSError, PneumoError) as exc:
        QMessageBox.warning(w, "Export failed", str(exc))


def export_png_dialog(w: MainWindow) -> None:
    """File > Export image: the current film with its overlay as drawn."""
    row = w.worklist.selected_row()
    if row is None or not w.image_panel.viewer.has_image():
        QMessageBox.information(w, "Export image", "No image is shown.")
        return
    default = Path(_start_dir(w)) / f"{row.path.stem}_pneumoscan.png"
    path, _ = QFileDialog.getSaveFileName(w, "Export image as PNG", str(default), "PNG (*.png)")
    if path:
        try:
            w.export_image(path)
        except (OSError, PneumoError) as exc:
            QMessageBox.warning(w, "Export failed", str(exc))


def clear_worklist(w: MainWindow) -> None:
    """File > Clear worklist (cancels a running scan)."""
    w.session.cancel()
    w.session.worklist.clear()
    w.image_panel.show_row(None, None)
    w.tags.set_metadata(None)


def threshold_dialog(w: MainWindow) -> None:
    """Model > Set decision threshold."""
    card_t, current = w.session.card_threshold, w.session.threshold
    if card_t is None or current is None:
        QMessageBox.information(w, "Threshold", "No model is loaded.")
        return
    value, ok = QInputDialog.getDouble(
        w, "Decision threshold",
        f"Pneumonia probability at or above which a film is PNEUMONIA.\n"
        f"The model card's validated threshold is {card_t:.3f}.",
        current, 0.001, 0.999, 3)
    if ok:
        w.set_threshold_override(None if abs(value - card_t) < 5e-4 else value)


def show_model_info(w: MainWindow) -> HtmlDialog:
    """Model > Model information (non-modal)."""
    page = model_info_html(w.session.card, w.session.model_path, w.session.threshold)
    dialog = HtmlDialog("Model information", page, w)
    dialog.show()
    return dialog


def show_about(w: MainWindow) -> HtmlDialog:
    """Help > About (non-modal)."""
    dialog = HtmlDialog("About PneumoScan", about_html(), w)
    dialog.show()
    return dialog
