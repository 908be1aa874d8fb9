"""The app with the result store and the DICOM network (pytest-qt, offscreen,
shipped model): earlier results with other model versions marked, Export to
DICOM, and the listener started from the app with arrivals in the worklist."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QThreadPool

from desktop.main_window import MainWindow
from desktop.session import Session
from desktop.settings import AppSettings
from pneumo.cli import main as cli_main
from pneumo.model.locate import assets_dir
from pneumo.network.listener import ListenerConfig
from pneumo.results.store import ResultStore
from tests.dicomnet import chest_films, ct_slice, send

MODEL = assets_dir() / "model.tflite"
SAMPLES = assets_dir() / "samples"
if not MODEL.is_file():
    pytest.skip(f"shipped model not found at {MODEL}", allow_module_level=True)


@pytest.fixture()
def window(qtbot, tmp_path: Path) -> Iterator[MainWindow]:
    store = ResultStore(tmp_path / "store.sqlite3")
    settings = AppSettings(tmp_path / "settings.ini")
    session = Session(MODEL, None, store=store)
    win = MainWindow(session, settings)
    qtbot.addWidget(win)
    with qtbot.waitSignal(session.model_loaded, timeout=30000):
        win.show()
    assert session.runner is not None, session.model_error
    yield win
    assert win.shutdown(10000)
    QThreadPool.globalInstance().waitForDone(10000)
    store.close()


def _scan(qtbot, win: MainWindow, paths: list[Path]) -> None:
    with qtbot.waitSignal(win.session.scan_finished, timeout=60000):
        win.open_paths(paths)


def test_app_scans_are_recorded_and_earlier_results_mark_other_models(
    qtbot, window: MainWindow, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    film = Path(shutil.copyfile(SAMPLES / "normal_IM-0010-0001.jpeg", tmp_path / "a.jpeg"))
    store_path = window.session.store.path  # type: ignore[union-attr]
    # an earlier result made by another model file, through the command line
    assert cli_main(["scan", str(film), "--model", str(assets_dir() / "model_float.tflite"),
                     "--store", str(store_path)]) == 0
    capsys.readouterr()
    _scan(qtbot, window, [film])
    with ResultStore(store_path) as s:
        rows = s.query("SELECT origin, model_sha256 FROM results ORDER BY id")
        assert [r["origin"] for r in rows] == ["scan", "app"]
        assert any(e["action"] == "scan" for e in s.query("SELECT action FROM events"))
    window.worklist.select_proxy_row(0)
    texts = window.features.history.texts()
    assert len(texts) == 2
    assert "app" in texts[0] and "other model version" not in texts[0]  # newest first
    assert "other model version" in texts[1]
    assert "1 by another model version" in window.features.history.heading.text()


def test_export_to_dicom_from_the_app(qtbot, window: MainWindow, tmp_path: Path) -> None:
    dcm = Path(shutil.copyfile(SAMPLES / "pneumonia_person1_virus_6_cr.dcm", tmp_path / "f.dcm"))
    jpeg = Path(shutil.copyfile(SAMPLES / "normal_IM-0010-0001.jpeg", tmp_path / "n.jpeg"))
    _scan(qtbot, window, [dcm, jpeg])
    out = tmp_path / "dicom_out"
    worker = window.features.export_dicom(out)
    assert worker is not None
    with qtbot.waitSignal(worker.signals.finished, timeout=60000):
        pass
    kinds = sorted(p.name[:2] for p in out.iterdir())
    assert kinds == ["SC", "SR"]
    skipped = [e for e in window.features.exports if e.skipped]
    assert [e.source for e in skipped] == [jpeg]
    sr = pydicom.dcmread(next(out.glob("SR_*.dcm")))
    assert sr.StudyInstanceUID == pydicom.dcmread(dcm).StudyInstanceUID
    qtbot.waitUntil(lambda: "DICOM files for 1 films" in window.statusBar().currentMessage(),
                    timeout=10000)


def test_listener_from_the_app_fills_the_worklist(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    features = window.features
    where = features.start_listening(ListenerConfig(directory=tmp_path / "node", port=0))
    port = int(where.rsplit(":", 1)[1])
    assert not features.start_action.isEnabled() and features.stop_action.isEnabled()
    films = chest_films(tmp_path / "films", ["explicit", "rle"])
    assert send([*films, ct_slice(tmp_path / "films")], port) == [0, 0, 0]
    worklist = window.session.worklist
    qtbot.waitUntil(lambda: sum(r.record is not None for r in worklist.rows) == 3,
                    timeout=60000)
    states = sorted(r.status for r in worklist.rows)
    assert states.count("ERROR") == 1 and len(states) == 3
    with qtbot.waitSignal(features.listener.stopped, timeout=60000) as stopped:
        features.stop_listening()
    assert stopped.args[0].received == 3
    assert features.start_action.isEnabled()
