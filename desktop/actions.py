"""Menus, shortcuts and the small dialogs behind them, for the main window.

Viewer shortcuts follow OHIF: ``I`` invert, ``Space`` reset, ``=`` fit;
arrows and PgUp/PgDn move between worklist rows. ``H`` toggles the heat map.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Protocol

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMenuBar, QMessageBox, QWidget

from desktop.model_info import HtmlDialog, about_html
from pneumo.errors import PneumoError
from pneumo.films.formats import dialog_filter
from pneumo.results.display import Labels

IMAGE_FILTER = dialog_filter()


class ViewerControls(Protocol):
    """The image viewer's commands (:class:`desktop.viewer.ImageViewer`)."""

    def fit(self) -> None:
        """Fit the image to the window."""

    def actual_size(self) -> None:
        """Show the image at 1:1."""

    def zoom_by(self, factor: float) -> None:
        """Zoom by ``factor`` about the centre."""

    def toggle_invert(self) -> None:
        """Invert the grey levels."""

    def reset(self) -> None:
        """Reset window, zoom and inversion."""

    def has_image(self) -> bool:
        """True when a film is displayed."""


class ActionHost(Protocol):
    """What the menus need from the main window (:class:`desktop.main_window.MainWindow`)."""

    def menuBar(self) -> QMenuBar:
        """The window's menu bar."""

    def close(self) -> bool:
        """Close the window."""

    def dialog_parent(self) -> QWidget:
        """The widget dialogs are shown over."""

    def viewer_controls(self) -> ViewerControls:
        """The image viewer's commands."""

    def tags_toggle(self) -> QAction:
        """The action showing or hiding the DICOM tags pane."""

    def start_folder(self) -> str:
        """Where file dialogs open: the last folder used, else the home folder."""

    def open_paths(self, paths: Iterable[str | Path]) -> None:
        """Add files and folders to the worklist and scan them."""

    def row_count(self) -> int:
        """Number of files in the worklist."""

    def selected_path(self) -> Path | None:
        """The selected file, if any."""

    def move_selection(self, step: int) -> None:
        """Select the file ``step`` rows below (negative: above)."""

    def export_worklist(self, path: str | Path, include_identifiers: bool = False) -> int:
        """Write the worklist to CSV; returns the row count."""

    def export_image(self, path: str | Path) -> Path | None:
        """Save the current view to PNG."""

    def clear_worklist(self) -> None:
        """Cancel the scan and remove every file."""

    def thresholds(self) -> tuple[float, float] | None:
        """(the model card's threshold, the one in use), or None without a model."""

    def set_threshold_override(self, value: float | None) -> None:
        """Use another decision threshold (None: the card's)."""

    def label_names(self) -> Labels:
        """The model card's label names (negative, positive)."""

    def set_heatmap_enabled(self, on: bool) -> None:
        """Draw heat maps (where the display policy allows) or not."""

    def connect_heatmap_enabled(self, slot: Callable[[bool], object]) -> None:
        """Call ``slot`` when heat maps are switched on or off elsewhere."""

    def identifiers_hidden(self) -> bool:
        """True while patient names and ids are masked."""

    def set_hide_identifiers(self, hide: bool) -> None:
        """Mask (or show) patient names and ids."""

    def connect_identifiers_hidden(self, slot: Callable[[bool], object]) -> None:
        """Call ``slot`` when identifier masking changes elsewhere."""

    def model_info_page(self) -> str:
        """HTML describing the loaded model."""


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


def install_actions(w: ActionHost) -> SimpleNamespace:
    """Create the menu bar of ``w``; returns the actions by name."""
    bar = w.menuBar()
    a = SimpleNamespace()
    viewer = w.viewer_controls()
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
    a.heatmap = _add(view, "&Heat map", w.set_heatmap_enabled, ["H"], True)
    a.heatmap.setChecked(True)
    w.connect_heatmap_enabled(a.heatmap.setChecked)
    a.hide_ids = _add(view, "Hide identifying &fields", w.set_hide_identifiers, [], True)
    a.hide_ids.setChecked(w.identifiers_hidden())
    w.connect_identifiers_hidden(a.hide_ids.setChecked)
    view.addSeparator()
    a.next = _add(view, "&Next file", lambda: w.move_selection(1),
                  ["Down", "Right", "PgDown"])
    a.previous = _add(view, "&Previous file", lambda: w.move_selection(-1),
                      ["Up", "Left", "PgUp"])
    view.addAction(w.tags_toggle())

    model = bar.addMenu("&Model")
    a.model_info = _add(model, "Model &information…", lambda: show_model_info(w))
    a.threshold = _add(model, "Set decision &threshold…", lambda: threshold_dialog(w))
    a.card_threshold = _add(model, "Use the model card's threshold",
                            lambda: w.set_threshold_override(None))
    help_menu = bar.addMenu("&Help")
    a.about = _add(help_menu, "&About PneumoScan…", lambda: show_about(w))
    return a


def open_files_dialog(w: ActionHost) -> None:
    """File > Open files."""
    files, _ = QFileDialog.getOpenFileNames(w.dialog_parent(), "Open X-ray files",
                                            w.start_folder(), IMAGE_FILTER)
    if files:
        w.open_paths(files)


def open_folder_dialog(w: ActionHost) -> None:
    """File > Open folder."""
    folder = QFileDialog.getExistingDirectory(w.dialog_parent(), "Open a folder of X-rays",
                                              w.start_folder())
    if folder:
        w.open_paths([folder])


def export_csv_dialog(w: ActionHost) -> None:
    """File > Export worklist: choose a file, then whether to include identifiers."""
    parent = w.dialog_parent()
    if not w.row_count():
        QMessageBox.information(parent, "Export worklist", "The worklist is empty.")
        return
    path, _ = QFileDialog.getSaveFileName(
        parent, "Export worklist as CSV", str(Path(w.start_folder()) / "pneumoscan.csv"),
        "CSV (*.csv)")
    if not path:
        return
    answer = QMessageBox.question(
        parent, "Identifying fields",
        "Include patient names and IDs in the CSV?\n\nChoose No to leave identifying "
        "fields out (recommended when the file leaves this workstation).",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No)
    try:
        w.export_worklist(path, include_identifiers=answer == QMessageBox.StandardButton.Yes)
    except (OSError, PneumoError) as exc:
        QMessageBox.warning(parent, "Export failed", str(exc))


def export_png_dialog(w: ActionHost) -> None:
    """File > Export image: the current film with its overlay as drawn."""
    parent, selected = w.dialog_parent(), w.selected_path()
    if selected is None or not w.viewer_controls().has_image():
        QMessageBox.information(parent, "Export image", "No image is shown.")
        return
    default = Path(w.start_folder()) / f"{selected.stem}_pneumoscan.png"
    path, _ = QFileDialog.getSaveFileName(parent, "Export image as PNG", str(default),
                                          "PNG (*.png)")
    if path:
        try:
            w.export_image(path)
        except (OSError, PneumoError) as exc:
            QMessageBox.warning(parent, "Export failed", str(exc))


def clear_worklist(w: ActionHost) -> None:
    """File > Clear worklist (cancels a running scan)."""
    w.clear_worklist()


def threshold_dialog(w: ActionHost) -> None:
    """Model > Set decision threshold."""
    thresholds = w.thresholds()
    if thresholds is None:
        QMessageBox.information(w.dialog_parent(), "Threshold", "No model is loaded.")
        return
    card_t, current = thresholds
    positive = w.label_names()[1]
    value, ok = QInputDialog.getDouble(
        w.dialog_parent(), "Decision threshold",
        f"{positive.capitalize()} probability at or above which a film is {positive}.\n"
        f"The model card's validated threshold is {card_t:.3f}.",
        current, 0.001, 0.999, 3)
    if ok:
        w.set_threshold_override(None if abs(value - card_t) < 5e-4 else value)


def show_model_info(w: ActionHost) -> HtmlDialog:
    """Model > Model information (non-modal)."""
    dialog = HtmlDialog("Model information", w.model_info_page(), w.dialog_parent())
    dialog.show()
    return dialog


def show_about(w: ActionHost) -> HtmlDialog:
    """Help > About (non-modal)."""
    dialog = HtmlDialog("About PneumoScan", about_html(), w.dialog_parent())
    dialog.show()
    return dialog
