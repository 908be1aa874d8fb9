"""The desktop window under pytest-qt (offscreen): drop, scan, view, export."""

from __future__ import annotations

import csv
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QThreadPool, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop.crash import ErrorReporter
from desktop.main_window import MainWindow
from desktop.session import Session
from desktop.settings import AppSettings
from desktop.worklist_model import COL_PATIENT, COL_PROBABILITY, COL_WARNINGS
from pneumo.results.display import held_back_note
from tests.test_desktop_support import film, make_folder, write_png


def pixels(image: QImage) -> np.ndarray:
    """(H, W, 4) uint8 copy of a QImage."""
    img = image.convertToFormat(QImage.Format.Format_RGBA8888)
    ptr = img.constBits()
    arr = np.frombuffer(ptr, np.uint8, count=img.sizeInBytes())
    return arr.reshape(img.height(), img.bytesPerLine())[:, : img.width() * 4].reshape(
        img.height(), img.width(), 4).copy()


def viewer_pixels(window: MainWindow) -> np.ndarray:
    return pixels(window.image_panel.viewer.viewport().grab().toImage()).astype(np.int16)


def make_window(qtbot, tmp_path: Path, model: Path | None, error: str | None = None) -> MainWindow:
    settings = AppSettings(tmp_path / "settings.ini")
    session = Session(model, error, threshold_override=settings.threshold_override)
    window = MainWindow(session, settings)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    with qtbot.waitSignal(session.model_loaded, timeout=30000):
        window.show()
    return window


@pytest.fixture()
def window(qtbot, tmp_path: Path, explainable_model: Path) -> Iterator[MainWindow]:
    win = make_window(qtbot, tmp_path, explainable_model)
    assert win.session.runner is not None, win.session.model_error
    yield win
    assert win.shutdown(10000)
    pool = QThreadPool.globalInstance()
    assert pool.waitForDone(10000)
    assert pool.activeThreadCount() == 0


@pytest.fixture()
def folder(tmp_path: Path) -> dict[str, Path]:
    return make_folder(tmp_path / "films")


def drop(window: MainWindow, *paths: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def scan_folder(qtbot, window: MainWindow, folder: Path) -> list:
    arrived: list = []
    window.session.record_arrived.connect(arrived.append)
    with qtbot.waitSignal(window.session.scan_finished, timeout=60000) as blocker:
        drop(window, folder)
    assert blocker.args == [False]
    return arrived


def select(qtbot, window: MainWindow, path: Path, signal: str = "view_settled") -> None:
    proxy = window.worklist.proxy
    rows = [r for r in range(proxy.rowCount())
            if window.session.worklist.row_at(proxy.mapToSource(proxy.index(r, 0)).row()).path
            == path]
    assert rows, path
    current = window.worklist.selected_row()
    if current is not None and current.path == path and signal == "view_settled":
        qtbot.waitUntil(lambda: not window.film_view.busy(), timeout=30000)
        return
    with qtbot.waitSignal(getattr(window, signal), timeout=30000,
                          check_params_cb=lambda p: p == path):
        window.worklist.select_proxy_row(rows[0])


def test_drop_folder_fills_worklist(qtbot, window: MainWindow, folder: dict[str, Path]) -> None:
    arrived = scan_folder(qtbot, window, folder["pneumonia_1"].parent)
    rows = window.session.worklist.rows
    assert {r.path for r in rows} == set(folder.values())
    assert len(arrived) == len(folder)  # results came one by one through worker signals
    by_path = {r.path: r for r in rows}
    assert by_path[folder["pneumonia_1"]].status == "PNEUMONIA"
    assert by_path[folder["normal_1"]].status == "NORMAL"
    bad = by_path[folder["bad"]]
    assert bad.status == "ERROR" and bad.record is not None and bad.record.error
    assert window.session.worklist.index(rows.index(bad), COL_WARNINGS).data()  # message in the row
    assert not window.worklist.progress.isVisible()
    assert "5 files" in window.worklist.count_label.text() or window.worklist.count_label.text()


def test_select_row_shows_image_result_and_overlay(qtbot, window: MainWindow,
                                                   folder: dict[str, Path]) -> None:
    scan_folder(qtbot, window, folder["pneumonia_1"].parent)
    select(qtbot, window, folder["normal_1"])
    select(qtbot, window, folder["pneumonia_1"])
    panel = window.image_panel
    assert panel.viewer.has_image() and panel.viewer.has_overlay()
    assert "PNEUMONIA" in panel.banner.text() and "threshold 0.500" in panel.banner.text()
    assert panel.overlay_shown()
    qtbot.wait(50)
    with_overlay = viewer_pixels(window)
    panel.overlay_toggle.setChecked(False)
    without = viewer_pixels(window)
    assert np.abs(with_overlay - without).mean() > 1.0
    # the heat map is coloured; the film alone is grey (R == B, up to the dark background)
    assert np.abs(with_overlay[..., 0] - with_overlay[..., 2]).max() > 60
    assert np.abs(without[..., 0] - without[..., 2]).max() <= 5
    panel.overlay_toggle.setChecked(True)
    panel.opacity.setValue(10)
    faint = viewer_pixels(window)
    panel.opacity.setValue(90)
    strong = viewer_pixels(window)
    assert np.abs(strong - without).mean() > np.abs(faint - without).mean() + 0.5
    assert window.settings.overlay_opacity == pytest.approx(0.9)


def test_normal_result_hides_heat_map_unless_asked(qtbot, window: MainWindow,
                                                  folder: dict[str, Path]) -> None:
    scan_folder(qtbot, window, folder["pneumonia_1"].parent)
    select(qtbot, window, folder["normal_1"])
    panel = window.image_panel
    assert "NORMAL" in panel.banner.text()
    assert not panel.overlay_shown()
    note = held_back_note(window.session.worklist.labels)
    assert "NORMAL" in note
    assert panel.overlay_note.text() == note and not panel.overlay_note.isHidden()
    assert not panel.show_anyway.isHidden()
    panel.show_anyway.setChecked(True)
    assert panel.overlay_shown() == panel.viewer.has_overlay()


def test_tags_panel_and_identifier_hiding(qtbot, window: MainWindow,
                                         folder: dict[str, Path]) -> None:
    scan_folder(qtbot, window, folder["pneumonia_1"].parent)
    select(qtbot, window, folder["dicom"])
    tags = window.tags.values()
    assert tags["Patient name"] == "Test Patient" and tags["Patient ID"] == "P123"
    assert tags["Modality"] == "DX" and tags["Patient age"] == "042Y"
    assert tags["Patient sex"] == "F" and tags["Institution"] == "Test Hospital"
    assert tags["Study date"] == "20240315" and tags["View position"] == "PA"
    model = window.session.worklist
    row = model.row_of(folder["dicom"])
    assert model.index(row, COL_PATIENT).data() == "Test Patient (P123)"
    window.tags.hide_box.setChecked(True)
    tags = window.tags.values()
    assert tags["Patient name"] == "(hidden)" and tags["Patient ID"] == "(hidden)"
    assert tags["Modality"] == "DX"
    assert model.index(row, COL_PATIENT).data() == "(hidden)"
    assert window.actions_.hide_ids.isChecked() and window.settings.hide_identifiers


def test_cancel_stops_large_scan_within_a_second(qtbot, window: MainWindow,
                                                tmp_path: Path) -> None:
    big = tmp_path / "big"
    first = write_png(big / "f0000.png", film(1, True, size=1400))
    for i in range(1, 300):
        shutil.copyfile(first, big / f"f{i:04d}.png")
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    with qtbot.waitSignal(window.session.record_arrived, timeout=60000):
        window.open_paths([big])
    assert window.worklist.cancel_button.isVisible()
    assert len(window.session.worklist.rows) == 300  # every file listed at once, pending
    qtbot.wait(200)
    with qtbot.waitSignal(window.session.scan_finished, timeout=1000) as blocker:
        started = time.perf_counter()
        window.worklist.cancel_button.click()
    elapsed = time.perf_counter() - started
    timer.stop()
    assert blocker.args == [True]
    assert elapsed < 1.0
    statuses = [r.status for r in window.session.worklist.rows]
    assert statuses.count("CANCELLED") > 0 and "PENDING" not in statuses
    assert len(statuses) == 300
    gaps = np.diff(ticks)
    assert len(gaps) > 3 and gaps.max() < 0.5  # the GUI thread kept ticking


def test_csv_export_every_row_and_identifier_option(qtbot, window: MainWindow,
                                                   folder: dict[str, Path],
                                                   tmp_path: Path) -> None:
    scan_folder(qtbot, window, folder["pneumonia_1"].parent)
    out = tmp_path / "out" / "worklist.csv"
    assert window.export_worklist(out, include_identifiers=False) == 5
    text = out.read_text()
    rows = list(csv.DictReader(text.splitlines()))
    assert {Path(r["path"]) for r in rows} == set(folder.values())
    assert "patient_name" not in rows[0] and "Test^Patient" not in text and "P123" not in text
    assert any(r["error"] for r in rows) and any(r["label"] == "PNEUMONIA" for r in rows)
    window.export_worklist(out, include_identifiers=True)
    text = out.read_text()
    assert "Test^Patient" in text and "P123" in text
    assert not list(out.parent.glob(".*.tmp"))


def test_png_export_of_image_with_overlay(qtbot, window: MainWindow,
                                         folder: dict[str, Path], tmp_path: Path) -> None:
    scan_folder(qtbot, window, folder["pneumonia_1"].parent)
    select(qtbot, window, folder["pneumonia_1"])
    out = window.export_image(tmp_path / "shot")
    assert out == tmp_path / "shot.png"
    saved = QImage(str(out))
    assert (saved.width(), saved.height()) == (256, 256)
    arr = pixels(saved).astype(np.int16)
    assert np.abs(arr[..., 0] - arr[..., 2]).max() > 20  # the coloured heat map is in it


def test_viewer_controls_and_shortcuts(qtbot, window: MainWindow,
                                       folder: dict[str, Path]) -> None:
    scan_folder(qtbot, window, folder["pneumonia_1"].parent)
    select(qtbot, window, folder["pneumonia_1"])
    viewer = window.image_panel.viewer
    window.image_panel.overlay_toggle.setChecked(False)
    before = viewer_pixels(window)
    window.actions_.invert.trigger()
    assert viewer.inverted
    assert np.abs(viewer_pixels(window) - before).mean() > 20
    fitted = viewer.zoom_factor()
    window.actions_.actual.trigger()
    assert viewer.zoom_factor() == pytest.approx(1.0)
    viewer.zoom_by(2.0)
    assert viewer.zoom_factor() == pytest.approx(2.0)
    window.actions_.fit.trigger()
    assert viewer.zoom_factor() == pytest.approx(fitted)
    viewer.apply_preset("High contrast")
    assert viewer.window_level == pytest.approx((0.3, 0.5))
    # left drag changes window (x) and level (y)
    vp = viewer.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(vp, QPoint(180, 140))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=QPoint(180, 140))
    width, centre = viewer.window_level
    assert width > 0.3 and centre > 0.5
    window.actions_.reset.trigger()
    assert not viewer.inverted and viewer.zoom_factor() == pytest.approx(fitted)
    assert [a.toString() for a in window.actions_.invert.shortcuts()] == ["I"]
    assert [a.toString() for a in window.actions_.reset.shortcuts()] == ["Space"]
    assert [a.toString() for a in window.actions_.fit.shortcuts()] == ["="]
    current = window.worklist.table.currentIndex().row()
    window.actions_.next.trigger()
    assert window.worklist.table.currentIndex().row() == current + 1
    window.actions_.previous.trigger()
    assert window.worklist.table.currentIndex().row() == current


def test_sort_and_filter_worklist(qtbot, window: MainWindow, folder: dict[str, Path]) -> None:
    scan_folder(qtbot, window, folder["pneumonia_1"].parent)
    panel = window.worklist
    panel.table.sortByColumn(COL_PROBABILITY, Qt.SortOrder.DescendingOrder)
    probs = [panel.proxy.index(r, COL_PROBABILITY).data() for r in range(panel.proxy.rowCount())]
    values = [float(p) for p in probs if p]
    assert values == sorted(values, reverse=True)
    panel.category.setCurrentText("ERROR")
    assert panel.proxy.rowCount() == 1
    panel.category.setCurrentText("All")
    panel.filter_edit.setText("normal")
    names = {panel.proxy.index(r, 0).data() for r in range(panel.proxy.rowCount())}
    assert names == {"b_normal.png", "d_normal.png"}


def test_threshold_override_warns_and_relabels(qtbot, window: MainWindow,
                                              folder: dict[str, Path]) -> None:
    scan_folder(qtbot, window, folder["pneumonia_1"].parent)
    assert window.threshold_bar.isHidden()
    window.set_threshold_override(0.9999)
    assert not window.threshold_bar.isHidden()
    assert "0.500" in window.threshold_bar.text()
    assert window.session.worklist.rows[0].status == "NORMAL"
    assert AppSettings(window.settings.store.fileName()).threshold_override == 0.9999
    window.set_threshold_override(None)
    assert window.threshold_bar.isHidden()
    assert window.session.worklist.rows[0].status == "PNEUMONIA"


def test_settings_are_isolated_and_persist(qtbot, tmp_path: Path, window: MainWindow) -> None:
    assert Path(window.settings.store.fileName()) == tmp_path / "settings.ini"
    window.image_panel.opacity.setValue(70)
    window.open_paths([tmp_path])  # remembers the folder
    window.close()
    again = AppSettings(tmp_path / "settings.ini")
    assert again.overlay_opacity == pytest.approx(0.7)
    assert again.last_folder == str(tmp_path)
    assert again.geometry is not None


def test_unexpected_exception_shows_dialog_and_app_keeps_running(qtbot, window: MainWindow) -> None:
    reporter = ErrorReporter(window)
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        reporter.report(type(exc), exc, exc.__traceback__)
    qtbot.waitUntil(lambda: bool(reporter.dialogs), timeout=2000)
    box = reporter.dialogs[-1]
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert "boom" in box.informativeText()
    assert box.windowModality() == Qt.WindowModality.NonModal
    box.close()
    window.image_panel.viewer.fit()  # still alive


def test_model_information_and_about(qtbot, window: MainWindow) -> None:
    from desktop.actions import show_about, show_model_info

    info = show_model_info(window).browser.toPlainText()
    card = window.session.card
    assert "tiny-cnn" in info and "Kermany" in info and "CC BY 4.0" in info
    assert card.files["model.tflite"] in info and "0.5000" in info and "AUC" in info
    assert "Not for diagnostic use" in info
    about = show_about(window).browser.toPlainText()
    assert "PySide6" in about and "ai-edge-litert" in about
    assert "Not for diagnostic use" in window.notice.text()


def test_no_model_still_opens_with_message(qtbot, tmp_path: Path, folder: dict[str, Path]) -> None:
    window = make_window(qtbot, tmp_path, None, "no model at /nowhere/model.tflite")
    assert "No model loaded" in window.model_bar.text() and not window.model_bar.isHidden()
    with qtbot.waitSignal(window.session.scan_finished, timeout=30000):
        drop(window, folder["normal_1"])
    row = window.session.worklist.rows[0]
    assert row.status == "ERROR" and "no model" in (row.record.error or "")
    qtbot.waitUntil(window.image_panel.viewer.has_image, timeout=10000)
    assert window.shutdown(10000)


def test_real_key_presses_and_wheel(qtbot, window: MainWindow, folder: dict[str, Path]) -> None:
    scan_folder(qtbot, window, folder["pneumonia_1"].parent)
    select(qtbot, window, folder["pneumonia_1"])
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    viewer = window.image_panel.viewer
    viewer.setFocus()
    qtbot.keyClick(viewer, Qt.Key.Key_I)
    assert viewer.inverted
    before = viewer.zoom_factor()
    center = QPointF(viewer.viewport().rect().center())
    wheel = QWheelEvent(center, viewer.viewport().mapToGlobal(center), QPoint(0, 0),
                        QPoint(0, 240), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewer.viewport(), wheel)
    assert viewer.zoom_factor() == pytest.approx(before * 1.44, rel=1e-3)
    qtbot.keyClick(viewer, Qt.Key.Key_Equal)
    assert viewer.zoom_factor() == pytest.approx(before)
    qtbot.keyClick(viewer, Qt.Key.Key_Space)
    assert not viewer.inverted
    row = window.worklist.table.currentIndex().row()
    qtbot.keyClick(viewer, Qt.Key.Key_PageDown)
    assert window.worklist.table.currentIndex().row() == row + 1
    window.worklist.table.setFocus()
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_Up)
    assert window.worklist.table.currentIndex().row() == row
    window.worklist.filter_edit.setFocus()
    qtbot.keyClick(window.worklist.filter_edit, Qt.Key.Key_I)  # typing is not a shortcut
    assert window.worklist.filter_edit.text() == "i" and not viewer.inverted


def test_inference_never_runs_on_the_gui_thread(qtbot, tmp_path: Path, folder: dict[str, Path],
                                                explainable_model: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from pneumo.model.gradcam import Explainer
    from pneumo.model.runner import ModelRunner

    threads: dict[str, set[int]] = {"predict": set(), "explain": set()}

    def spy(name: str, original):
        def wrapper(self, *args, **kwargs):
            threads[name].add(threading.get_ident())
            return original(self, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(ModelRunner, "predict", spy("predict", ModelRunner.predict))
    monkeypatch.setattr(Explainer, "explain", spy("explain", Explainer.explain))
    window = make_window(qtbot, tmp_path, explainable_model)
    scan_folder(qtbot, window, folder["pneumonia_1"].parent)
    select(qtbot, window, folder["normal_1"])
    select(qtbot, window, folder["pneumonia_1"])
    assert threads["predict"] and threads["explain"]
    assert threading.get_ident() not in threads["predict"] | threads["explain"]
    assert window.shutdown(10000)


def test_sys_excepthook_routes_to_a_dialog(qtbot, window: MainWindow) -> None:
    import sys

    from desktop.crash import install_excepthook

    reporter = install_excepthook(window)
    try:
        try:
            raise ValueError("unexpected in a slot")
        except ValueError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
        qtbot.waitUntil(lambda: bool(reporter.dialogs), timeout=2000)
        assert "unexpected in a slot" in reporter.dialogs[-1].informativeText()
    finally:
        reporter.uninstall()
    assert sys.excepthook is not reporter._hook
    for box in reporter.dialogs:
        box.close()


def test_flagged_row_is_marked_and_the_banner_says_why(qtbot, window: MainWindow,
                                                       tmp_path: Path) -> None:
    """A film whose DICOM says the patient is 45 is marked "unreliable" with an
    icon in the worklist, its banner says why, and "With warnings" keeps it."""
    from PySide6.QtGui import QBrush, QIcon

    from desktop.worklist_model import COL_RESULT
    from pneumo.checks.findings import Rule
    from pneumo.results.display import UNRELIABLE
    from tests.tinymodel import write_dicom

    root = tmp_path / "ages"
    adult = write_dicom(root / "adult.dcm", film(21, True), PatientAge="045Y")
    child = write_dicom(root / "child.dcm", film(21, True), PatientAge="003Y")
    scan_folder(qtbot, window, root)
    model = window.session.worklist
    rows = {r.path: i for i, r in enumerate(model.rows)}
    flagged, trusted = model.row_at(rows[adult]), model.row_at(rows[child])
    assert flagged.record is not None and flagged.record.checks.fired(Rule.AGE)
    assert flagged.unreliable and not trusted.unreliable

    def cell(path: Path, role: Qt.ItemDataRole) -> object:
        return model.index(rows[path], COL_RESULT).data(role)

    assert cell(adult, Qt.ItemDataRole.DisplayRole) == f"PNEUMONIA · {UNRELIABLE}"
    assert cell(child, Qt.ItemDataRole.DisplayRole) == "PNEUMONIA"
    icon = cell(adult, Qt.ItemDataRole.DecorationRole)
    assert isinstance(icon, QIcon) and not icon.isNull()
    assert cell(child, Qt.ItemDataRole.DecorationRole) is None
    backgrounds = [cell(p, Qt.ItemDataRole.BackgroundRole) for p in (adult, child)]
    assert all(isinstance(b, QBrush) for b in backgrounds)
    assert backgrounds[0].color() != backgrounds[1].color()

    select(qtbot, window, adult)
    banner = window.image_panel.banner.text()
    assert UNRELIABLE in banner and "Do not rely on this result" in banner
    assert "patient age 45 years is outside the training population" in banner
    select(qtbot, window, child)
    assert UNRELIABLE not in window.image_panel.banner.text()

    panel = window.worklist
    panel.category.setCurrentText("With warnings")
    shown = {panel.proxy.index(r, 0).data() for r in range(panel.proxy.rowCount())}
    assert shown == {"adult.dcm"}


def test_a_large_jpeg2000_film_is_painted_from_a_preview_then_sharpened(
        qtbot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pydicom import uid

    from pneumo.scanning.pool import shared_pool
    from tests import synth
    from tests.test_preview import _big_film

    pool, jobs = shared_pool(), []  # what the viewer asks the decoding workers for
    submit_all_first, submit_first = pool.submit_all_first, pool.submit_first
    monkeypatch.setattr(pool, "submit_all_first", lambda *given: (
        jobs.extend(f.__name__ for f, _args in given), submit_all_first(*given))[1])
    monkeypatch.setattr(pool, "submit_first", lambda f, *args: (
        jobs.append(f.__name__), submit_first(f, *args))[1])

    films = tmp_path / "j2k"
    films.mkdir()
    path = synth.save(synth.encode_dataset(synth.windowed_dataset(_big_film()),
                                           uid.JPEG2000Lossless), films / "big.dcm")
    panel = window.image_panel
    calls: list[tuple[str, tuple[int, ...], object]] = []
    show, sharpen = panel.show_image, panel.sharpen_image
    panel.show_image = lambda levels, auto, pyr=(), of=None: (  # type: ignore[method-assign]
        calls.append(("show", levels.shape, of)), show(levels, auto, pyr, of))
    panel.sharpen_image = lambda levels, auto, pyr=(): (  # type: ignore[method-assign]
        calls.append(("sharpen", levels.shape, None)), sharpen(levels, auto, pyr))
    scan_folder(qtbot, window, films)
    select(qtbot, window, path)
    assert calls == [("show", (425, 513), (1700, 2050)), ("sharpen", (1700, 2050), None)]
    assert not panel.viewer.showing_preview_of((1700, 2050)) and panel.viewer.has_overlay()
    # the heat map's input is the scan's: the film was not decoded a third time
    assert "load_for_display" in jobs and "model_input" not in jobs
    exported = panel.viewer.composite_image()
    assert exported is not None and (exported.width(), exported.height()) == (2050, 1700)
