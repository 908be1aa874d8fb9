"""Desktop building blocks without windows: worklist model, generator cores, settings."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt

from desktop.settings import AppSettings
from desktop.tags_panel import tag_rows
from desktop.windowing import window_lut
from desktop.workers import (
    DisplayImage,
    ExplainerHolder,
    OverlayReady,
    ViewProblem,
    heat_rgba,
    scan_events,
    view_events,
)
from desktop.worklist_filter import WorklistFilter
from desktop.worklist_model import (
    COL_PATIENT,
    COL_PROBABILITY,
    COL_RESULT,
    WorklistModel,
)
from pneumo.errors import ModelNotFoundError
from pneumo.films.imaging import load_image
from pneumo.model.card import ModelCard
from pneumo.model.preprocess import Preprocessing
from pneumo.results.records import ScanRecord
from pneumo.results.worklist import RowFilter
from pneumo.scanning.display import DISPLAY_LEVELS, display_levels, pyramid
from tests.test_desktop_support import film, write_dicom, write_png

CARD = ModelCard(name="t", architecture="a", preprocessing=Preprocessing(input_size=32),
                 threshold=0.5)


def _rec(name: str, p: float | None = None, error: str | None = None, **kw: str) -> ScanRecord:
    label = None if p is None else CARD.label_for(p)
    return ScanRecord(path=Path(name), label=label, probability=p, error=error, **kw)


def test_worklist_model_rows_fill_and_relabel(qapp) -> None:
    model = WorklistModel()
    model.add_pending([Path("a.png"), Path("b.png"), Path("a.png"), Path("c.dcm")])
    assert [r.status for r in model.rows] == ["PENDING"] * 3
    model.set_record(_rec("a.png", 0.9))
    model.set_record(_rec("c.dcm", 0.2, patient_name="Test^Patient", patient_id="P123"))
    model.set_record(_rec("x.png", error="broken"))  # unknown path: a new row
    assert [r.status for r in model.rows] == ["PNEUMONIA", "PENDING", "NORMAL", "ERROR"]
    assert model.index(0, COL_RESULT).data() == "PNEUMONIA"
    assert model.index(0, COL_PROBABILITY).data() == "0.900"
    assert model.index(0, COL_RESULT).data(Qt.ItemDataRole.BackgroundRole) is not None
    assert model.index(2, COL_PATIENT).data() == "Test Patient (P123)"
    model.set_hide_identifiers(True)
    assert model.index(2, COL_PATIENT).data() == "(hidden)"
    model.mark_cancelled()
    assert model.rows[1].status == "CANCELLED"
    assert model.records()[1].error == "scan cancelled"
    model.relabel(CARD, 0.95)
    assert model.rows[0].status == "NORMAL"
    model.add_pending([Path("a.png")])  # scanning again resets the row, keeps its place
    assert model.rows[0].status == "PENDING" and len(model.rows) == 4


def test_worklist_filter_sorts_numerically_and_filters(qapp) -> None:
    model = WorklistModel()
    for i, p in enumerate((0.05, 0.9, 0.1, 0.55)):
        model.set_record(_rec(f"f{i}.png", p))
    model.set_record(_rec("bad.png", error="broken"))
    proxy = WorklistFilter()
    proxy.setSourceModel(model)
    proxy.sort(COL_PROBABILITY, Qt.SortOrder.DescendingOrder)
    shown = [proxy.index(r, COL_PROBABILITY).data() for r in range(proxy.rowCount())]
    assert shown == ["0.900", "0.550", "0.100", "0.050", ""]
    proxy.set_category(RowFilter.POSITIVE)
    assert proxy.rowCount() == 2
    proxy.set_category(RowFilter.ERROR)
    assert proxy.rowCount() == 1
    proxy.set_category(RowFilter.ALL)
    proxy.set_text("F2")
    assert proxy.rowCount() == 1


def test_scan_events_without_model_and_cancel(tmp_path: Path) -> None:
    for i in range(3):
        write_png(tmp_path / f"{i}.png", film(i, False))
    cancel = threading.Event()
    events = list(scan_events([tmp_path, tmp_path / "nope"], None, cancel=cancel,
                              no_model_reason="no model at X"))
    assert isinstance(events[0], list) and len(events[0]) == 3
    errors = [e for e in events if isinstance(e, ScanRecord)]
    assert any("no such file" in (e.error or "") for e in errors)
    assert sum("no model at X" in (e.error or "") for e in errors) == 3
    cancel.set()
    assert list(scan_events([tmp_path], None, cancel=cancel)) == []


def test_display_levels_and_window_lut() -> None:
    pixels = np.linspace(0, 1, 10000, dtype=np.float32).reshape(100, 100)
    levels, (width, centre) = display_levels(pixels)
    assert levels.dtype == np.uint16 and levels.max() == DISPLAY_LEVELS - 1 == 4095
    assert width == pytest.approx(0.98, abs=0.01) and centre == pytest.approx(0.5, abs=0.01)
    lut = window_lut(0.5, 0.5, 4096, invert=False)
    assert lut[0] == 0 and lut[-1] == 255 and lut[2048] == 128
    inverted = window_lut(0.5, 0.5, 4096, invert=True).astype(int)
    assert np.abs(inverted - (255 - lut.astype(int))).max() <= 1


def test_display_pyramid_halves_down_to_the_smallest_side() -> None:
    levels = np.arange(3000 * 2400, dtype=np.uint32).reshape(3000, 2400).astype(np.uint16)
    copies = pyramid(levels)
    assert [c.shape for c in copies] == [(1500, 1200), (750, 600)]
    assert pyramid(levels[:1000, :1000]) == ()


def test_heat_rgba_alpha_follows_heat() -> None:
    heat = np.zeros((4, 4), np.float32)
    heat[0, 0] = 1.0
    rgba = heat_rgba(heat)
    assert rgba.shape == (4, 4, 4) and rgba[0, 0, 3] == 255 and rgba[3, 3, 3] == 0


@dataclass
class _Explained:
    probability: float
    heatmap: np.ndarray
    peak: float = 1.0


class _StubExplainer:
    def explain(self, model_input: np.ndarray) -> _Explained:
        assert model_input.shape == (32, 32, 1)
        heat = np.zeros((4, 4), np.float32)
        heat[1, 1] = 1.0
        return _Explained(0.8, heat)


def test_view_events_image_then_overlay(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "x.dcm", film(1, True))
    events = list(view_events(path, CARD, ExplainerHolder(_StubExplainer),
                              cancel=threading.Event()))
    assert isinstance(events[0], DisplayImage) and isinstance(events[1], OverlayReady)
    assert events[0].metadata.patient_id == "P123"
    assert events[1].rgba.shape == (256, 256, 4) and events[1].heatmap.max() > 0.9
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    (problem,) = view_events(bad, CARD, ExplainerHolder(None), cancel=threading.Event())
    assert isinstance(problem, ViewProblem) and problem.stage == "image"


def test_explainer_holder_reports_missing_model(tmp_path: Path) -> None:
    def factory() -> _StubExplainer:
        raise ModelNotFoundError("model_float.tflite: model file not found")

    holder = ExplainerHolder(factory)
    path = write_png(tmp_path / "a.png", film(2, True))
    events = list(view_events(path, CARD, holder, cancel=threading.Event()))
    assert isinstance(events[-1], ViewProblem) and "not found" in events[-1].message


def test_tag_rows_hide_identifiers(tmp_path: Path) -> None:
    meta = load_image(write_dicom(tmp_path / "t.dcm", film(3, False))).metadata
    shown = dict(tag_rows(meta, hide_identifiers=False))
    assert shown["Patient name"] == "Test Patient" and shown["Patient ID"] == "P123"
    hidden = dict(tag_rows(meta, hide_identifiers=True))
    assert hidden["Patient name"] == "(hidden)" and hidden["Patient ID"] == "(hidden)"
    assert hidden["Patient age"] == "042Y" and hidden["Modality"] == "DX"


def test_settings_round_trip_in_an_ini_file(qapp, tmp_path: Path) -> None:
    ini = tmp_path / "s.ini"
    s = AppSettings(ini)
    assert s.threshold_override is None and s.overlay_opacity == pytest.approx(0.45)
    s.threshold_override = 0.3
    s.overlay_opacity = 7.0
    s.last_folder = tmp_path
    s.sync()
    again = AppSettings(ini)
    assert again.threshold_override == pytest.approx(0.3)
    assert again.overlay_opacity == 1.0 and again.last_folder == str(tmp_path)
    again.threshold_override = None
    assert AppSettings(ini).threshold_override is None


def test_worklist_takes_label_names_from_the_card(qapp) -> None:
    from desktop.worklist_panel import WorklistPanel
    from pneumo.results.display import RowState

    model = WorklistModel()
    panel = WorklistPanel(model)
    model.set_record(ScanRecord(path=Path("a.png"), label="OPACITY", probability=0.9))
    model.set_labels(("CLEAR", "OPACITY"))
    assert model.rows[0].state is RowState.POSITIVE and model.rows[0].status == "OPACITY"
    assert model.index(0, COL_RESULT).data() == "OPACITY"
    items = [panel.category.itemText(i) for i in range(panel.category.count())]
    assert items[:3] == ["All", "OPACITY", "CLEAR"]
    panel.category.setCurrentText("CLEAR")
    assert panel.proxy.rowCount() == 0
    panel.category.setCurrentText("OPACITY")
    assert panel.proxy.rowCount() == 1
    model.set_labels(("NORMAL", "PNEUMONIA"))  # another card: the choice is kept
    assert panel.category.currentText() == "PNEUMONIA" and panel.proxy.rowCount() == 0


def test_viewer_draws_the_pyramid_copy_that_fits_the_zoom(qapp) -> None:
    from desktop.viewer import ImageViewer

    levels = (np.arange(3000 * 2400, dtype=np.uint32).reshape(3000, 2400) % 4096).astype(np.uint16)
    viewer = ImageViewer()
    viewer.resize(640, 520)
    viewer.set_image(levels, (1.0, 0.5), pyramid(levels))
    assert 0.1 < viewer.zoom_factor() < 0.25 and viewer.shown_level() == 2  # 750 x 600 copy
    viewer.set_window(0.5, 0.5)  # window/level redraws that copy only
    assert viewer.shown_level() == 2
    viewer.actual_size()
    assert viewer.shown_level() == 0
    exported = viewer.composite_image()
    assert exported is not None and (exported.width(), exported.height()) == (2400, 3000)


def test_view_of_a_file_whose_header_lies_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    from tests import crafted

    path = crafted.jpeg_ls_smaller_than_header(tmp_path / "lying.dcm")
    (problem,) = view_events(path, CARD, ExplainerHolder(None), cancel=threading.Event())
    assert isinstance(problem, ViewProblem) and problem.stage == "image"
    assert problem.message.startswith("DICOM header does not match its pixel data")


def test_a_large_jpeg2000_film_is_previewed_then_shown(tmp_path: Path) -> None:
    from pydicom import uid

    from tests import synth
    from tests.test_preview import _big_film

    ds = synth.windowed_dataset(_big_film())
    path = synth.save(synth.encode_dataset(ds, uid.JPEG2000Lossless), tmp_path / "j2k.dcm")
    events = list(view_events(path, CARD, ExplainerHolder(_StubExplainer),
                              cancel=threading.Event()))
    preview, shown, overlay = events
    assert isinstance(preview, DisplayImage) and isinstance(shown, DisplayImage)
    assert preview.full_size == (1700, 2050) and preview.levels.shape == (425, 513)
    assert shown.full_size is None and shown.levels.shape == (1700, 2050)
    assert isinstance(overlay, OverlayReady)
    plain = write_dicom(tmp_path / "plain.dcm", film(1, True))
    kinds = [type(e) for e in view_events(plain, CARD, ExplainerHolder(_StubExplainer),
                                          cancel=threading.Event())]
    assert kinds == [DisplayImage, OverlayReady]  # no preview: it decodes fast anyway


def test_viewer_sharpens_a_preview_keeping_zoom_pan_and_a_chosen_window(qapp) -> None:
    from desktop.viewer import ImageViewer

    full = (np.arange(3000 * 2400, dtype=np.uint32).reshape(3000, 2400) % 4096).astype(np.uint16)
    viewer = ImageViewer()
    viewer.resize(640, 520)
    viewer.set_image(full[::4, ::4].copy(), (0.9, 0.5), preview_of=(3000, 2400))
    assert viewer.showing_preview_of((3000, 2400)) and viewer.shown_level() == 0
    assert viewer.scene().sceneRect().size().toTuple() == (2400, 3000)
    fit_zoom = viewer.zoom_factor()
    viewer.set_image(full, (0.9, 0.5), pyramid(full))
    assert viewer.zoom_factor() == pytest.approx(fit_zoom)  # the preview fits like the film
    viewer.set_image(full[::4, ::4].copy(), (0.9, 0.5), preview_of=(3000, 2400))
    viewer.sharpen(full, (0.8, 0.45), pyramid(full))  # window untouched: the film's auto
    assert viewer.window_level == (0.8, 0.45) and not viewer.showing_preview_of((3000, 2400))
    assert viewer.shown_level() == 2 and viewer.zoom_factor() == pytest.approx(fit_zoom)

    viewer.set_image(full[::4, ::4].copy(), (0.9, 0.5), preview_of=(3000, 2400))
    viewer.set_window(0.3, 0.4)
    viewer.zoom_by(4.0)
    centre = viewer.mapToScene(viewer.viewport().rect().center())
    viewer.sharpen(full, (0.8, 0.45), pyramid(full))
    assert viewer.window_level == (0.3, 0.4)
    assert viewer.zoom_factor() == pytest.approx(fit_zoom * 4.0)
    assert viewer.mapToScene(viewer.viewport().rect().center()) == centre
    assert viewer.shown_level() == 0  # about 0.8 screen pixels per film pixel
    viewer.sharpen(full[:100, :100].copy(), (1.0, 0.5))  # not this preview's film
    assert viewer.scene().sceneRect().size().toTuple() == (100, 100)


class _RecordingExplainer(_StubExplainer):
    def __init__(self) -> None:
        self.inputs: list[np.ndarray] = []

    def explain(self, model_input: np.ndarray) -> _Explained:
        self.inputs.append(model_input)
        return super().explain(model_input)


def test_heat_map_waits_for_the_label_and_uses_the_scans_input(tmp_path: Path) -> None:
    from pneumo.films.imaging import ImageMetadata
    from pneumo.model.margins import Box
    from pneumo.scanning.display import RecentHeatInputs
    from pneumo.scanning.prepare import Prepared

    path = write_dicom(tmp_path / "x.dcm", film(1, True))
    marker = np.full((32, 32, 1), 0.25, np.float32)  # what no decode of the film gives
    recent = RecentHeatInputs()
    explainer = _RecordingExplainer()
    labelled, cancel = threading.Event(), threading.Event()
    events = view_events(path, CARD, ExplainerHolder(lambda: explainer), cancel=cancel,
                         labelled=labelled, recent=recent)
    assert isinstance(next(events), DisplayImage)
    # A scan labels the film meanwhile and keeps its model input.
    meta = ImageMetadata(format="DICOM", width=256, height=256)
    recent.add(Prepared(path, meta, marker, (), None, box=Box(0, 256, 0, 256)))
    threading.Timer(0.2, labelled.set).start()
    started = time.monotonic()
    overlay = next(events)
    assert isinstance(overlay, OverlayReady) and time.monotonic() - started >= 0.15
    assert len(explainer.inputs) == 1 and explainer.inputs[0] is marker

    waiting = view_events(path, CARD, ExplainerHolder(lambda: explainer), cancel=cancel,
                          labelled=threading.Event(), recent=recent)
    assert isinstance(next(waiting), DisplayImage)
    threading.Timer(0.2, cancel.set).start()
    assert list(waiting) == []  # never labelled: cancelling ends the wait
    assert len(explainer.inputs) == 1
