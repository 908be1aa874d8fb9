"""Issue 14's "must show": a folder of hostile files beside one good film, scanned by
the CLI and by the app: a record (or a listed skip) for every file, the good film
classified, no traceback; the app never leaves a row pending."""

from __future__ import annotations

import csv
import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pneumo.films.damage import DAMAGED
from pneumo.util.text import display_path
from tests.hostile import (
    HostileFolder,
    add_decoder_crashers,
    add_memory_bombs,
    build_hostile_folder,
    remove_tree,
)
from tests.subproc import REPO_ROOT

SHIPPED = REPO_ROOT / "assets" / "model.tflite"
PEAK_RSS_LIMIT = 1 << 30
# Peak memory: this process's VmHWM plus each decoding worker's. (Not ru_maxrss:
# after fork and exec, Linux reports the forking parent's size there, and a
# pytest process that has loaded TensorFlow is over a gigabyte.)
_RUN = r"""
import sys
from pneumo.cli import main
from pneumo.scanning.pool import shared_pool

def hwm(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0

code = main(sys.argv[2:])
peak = hwm("self") + sum(hwm(pid) for pid in shared_pool().pids())
open(sys.argv[1], "w").write(str(peak))
sys.exit(code)
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileFolder]:
    if not SHIPPED.is_file():
        pytest.skip("no shipped model in assets/")
    folder = build_hostile_folder(tmp_path_factory.mktemp("hostile") / "src")
    yield folder
    remove_tree(folder.root / "deep")


def _limit_memory() -> None:  # a failing bomb must not take the machine down with it
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))


def _scan(root: Path, out: Path) -> tuple[subprocess.CompletedProcess[str], int]:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, str(out / "rss"), "scan", str(root), "--json",
         str(out / "r.json"), "--csv", str(out / "r.csv")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
        preexec_fn=_limit_memory)
    rss = int((out / "rss").read_text()) if (out / "rss").is_file() else -1
    return proc, rss


def _check_common(folder: HostileFolder, proc: subprocess.CompletedProcess[str],
                  out: Path, extra: int = 0) -> dict[str, dict[str, object]]:
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr
    for line in proc.stderr.splitlines():  # library noise names a file or stays silent
        assert line.startswith(("pneumo: ", "INFO: Created TensorFlow Lite")), line
    records = {d["path"]: d for d in json.loads((out / "r.json").read_text(encoding="utf-8"))}
    assert len(records) == len(folder.recorded) + extra
    good = records[display_path(folder.good)]
    assert good["error"] is None and good["label"] in ("NORMAL", "PNEUMONIA")
    for path in folder.classified:
        assert records[display_path(path)]["label"] is not None, path
    for path in folder.damaged:
        record = records[display_path(path)]
        assert record["label"] is not None and any(
            str(w).startswith(DAMAGED) for w in record["warnings"]), record  # type: ignore[attr-defined]
    for path, words in folder.errors.items():
        assert words in str(records[display_path(path)]["error"]), (path, records[
            display_path(path)])
    rows = list(csv.DictReader((out / "r.csv").read_text(encoding="utf-8").splitlines()))
    assert len(rows) == len(records)  # one physical line per record
    return records


def test_cli_scan_of_the_hostile_folder(hostile: HostileFolder, tmp_path: Path) -> None:
    proc, _rss = _scan(hostile.root, tmp_path / "out")
    _check_common(hostile, proc, tmp_path / "out")
    lines = proc.stdout.splitlines()
    assert len(lines) == len(hostile.recorded) + 2  # records, the skipped text file, summary
    assert lines[-2].startswith("SKIPPED") and lines[-2].endswith("notes.txt: not an image "
                                                                  "file (by name or content)")
    assert f"{len(hostile.recorded)} files: " in lines[-1]
    assert lines[-1].endswith("; 2 skipped: 1 hidden (name starts with '.'), "
                              "1 not an image file (by name or content)")


def test_cli_scan_survives_decoder_crashes_and_memory_bombs(tmp_path: Path) -> None:
    if not SHIPPED.is_file():
        pytest.skip("no shipped model in assets/")
    folder = build_hostile_folder(tmp_path / "src", deep=False)
    crashers = add_decoder_crashers(folder.root)
    bombs = add_memory_bombs(folder.root)
    proc, rss = _scan(folder.root, tmp_path / "out")
    assert proc.returncode not in (134, -6), "a decoder abort took the scan down"
    records = _check_common(folder, proc, tmp_path / "out", extra=len(crashers) + len(bombs))
    for path in crashers + bombs:
        assert records[display_path(path)]["error"], path
    assert 0 < rss < PEAK_RSS_LIMIT, f"peak RSS {rss / 2**20:.0f} MiB"


# -- the app -------------------------------------------------------------------------
def test_app_shows_an_error_row_per_bad_file(hostile: HostileFolder, qtbot: object,
                                             tmp_path: Path) -> None:
    pytest.importorskip("pytestqt")
    from desktop.export import save_widget_png
    from pneumo.results.display import RowState
    from tests.test_desktop_gui import drop, make_window

    window = make_window(qtbot, tmp_path, SHIPPED)
    with qtbot.waitSignal(window.session.scan_finished, timeout=120000):  # type: ignore[attr-defined]
        drop(window, hostile.root)
    rows = {row.path: row for row in window.session.worklist.rows}
    assert set(rows) == set(hostile.recorded)
    assert not [r for r in rows.values() if r.state in (RowState.PENDING, RowState.CANCELLED)]
    for path in hostile.errors:
        assert rows[path].state is RowState.ERROR, path
    for path in (*hostile.classified, *hostile.damaged):
        assert rows[path].state.has_result, path
    for path in hostile.damaged:
        assert any(w.startswith(DAMAGED) for w in rows[path].record.warnings)  # type: ignore[union-attr]
    model = window.session.worklist
    names = [model.index(i, 0).data() for i in range(model.rowCount())]
    assert "bad_\\xff\\xfe.png" in names and "line\\x0abreak.jpeg" in names
    label = window.worklist.count_label
    qtbot.waitUntil(lambda: f"{len(hostile.errors)} errors" in label.text(),  # type: ignore[attr-defined]
                    timeout=5000)
    assert "1 hidden" in label.text()
    shot = save_widget_png(window, tmp_path / "hostile.png")
    assert shot.stat().st_size > 10_000
    assert window.shutdown(10000)


def test_app_says_when_a_folder_has_no_image_files(qtbot: object, tmp_path: Path) -> None:
    pytest.importorskip("pytestqt")
    from tests.test_desktop_gui import drop, make_window

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no films here")
    window = make_window(qtbot, tmp_path, None, "no model")
    with qtbot.waitSignal(window.session.scan_finished, timeout=30000):  # type: ignore[attr-defined]
        drop(window, empty)
    expected = f"No image files in {empty} (1 skipped: 1 not an image file (by name or content))"
    qtbot.waitUntil(lambda: window.worklist.count_label.text() == expected,  # type: ignore[attr-defined]
                    timeout=5000)
    assert window.shutdown(10000)


def test_app_with_a_missing_or_replaced_float_model(qtbot: object, tmp_path: Path) -> None:
    """Said in a bar and in every row; rows never stay pending; the screenshot run fails."""
    pytest.importorskip("pytestqt")
    from tests.test_desktop_gui import drop, make_window
    from tests.test_offline import GUI_MAIN

    folder = tmp_path / "assets"
    folder.mkdir()
    for name in ("model.tflite", "model_card.json"):
        shutil.copyfile(SHIPPED.parent / name, folder / name)
    window = make_window(qtbot, tmp_path, folder / "model.tflite")
    bar = window.bars.explain_bar
    assert not bar.isHidden() and "out-of-distribution check unavailable" in bar.text().lower()
    assert "model_float.tflite not found" in bar.text()
    sample = SHIPPED.parent / "samples" / "normal_IM-0010-0001.jpeg"
    with qtbot.waitSignal(window.session.scan_finished, timeout=60000):  # type: ignore[attr-defined]
        drop(window, sample)
    (row,) = window.session.worklist.rows
    assert row.state.has_result and any("out-of-distribution check unavailable" in w
                                        for w in row.record.warnings)  # type: ignore[union-attr]
    assert window.shutdown(10000)
    (folder / "model_float.tflite").write_bytes(b"not the model" * 100)  # replaced
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [sys.executable, "-c", "import sys\n" + GUI_MAIN, "--model", str(folder / "model.tflite"),
         "--timeout", "120", "--screenshot", str(shot), str(sample)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "QT_QPA_PLATFORM": "offscreen",
             "PNEUMO_SETTINGS": str(tmp_path / "settings.ini")})
    assert proc.returncode == 1 and shot.is_file(), proc.stderr[-2000:]
    assert "pneumo gui: explain model unavailable: " in proc.stderr
    assert "sha256 does not match" in proc.stderr
