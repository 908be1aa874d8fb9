"""The desktop app as users start it: subprocesses, offscreen, isolated settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from tests.test_desktop_support import REPO_ROOT, app_env, make_folder, run_app

_HEAVY = ("tensorflow", "keras", "tf_keras")


def _png_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as img:
        assert img.format == "PNG"
        return img.size


def test_screenshot_waits_for_results_and_overlay_without_tensorflow(
    tmp_path: Path, explainable_model: Path
) -> None:
    files = make_folder(tmp_path / "films")
    out = tmp_path / "shots" / "window.png"
    code = (
        "import sys, json; from desktop.app import main; rc = main(sys.argv[1:]); "
        "loaded = {m.split('.')[0] for m in sys.modules}; "
        f"print('HEAVY', json.dumps(sorted(loaded & {set(_HEAVY)!r}))); sys.exit(rc)"
    )
    args = ["--timeout", "120", "--screenshot", str(out), str(files["pneumonia_1"]),
            str(files["dicom"]), str(files["normal_1"]), str(files["bad"])]
    env = app_env(tmp_path / "settings.ini", explainable_model)
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "screenshot saved" in proc.stdout
    heavy = json.loads(proc.stdout.split("HEAVY", 1)[1].strip().splitlines()[0])
    assert heavy == []  # no TensorFlow/Keras after loading, classifying and explaining
    assert _png_size(out) == (1600, 1000)
    assert not list(out.parent.glob(".*.tmp"))


def test_app_without_a_model_still_opens(tmp_path: Path) -> None:
    files = make_folder(tmp_path / "films")
    out = tmp_path / "nomodel.png"
    env = app_env(tmp_path / "settings.ini", tmp_path / "missing" / "model.tflite")
    proc = run_app(["--screenshot", str(out), str(files["normal_1"])], env)
    assert proc.returncode == 1, proc.stderr[-3000:]  # the window opens, the run fails
    assert "pneumo gui: no model loaded: no model at " in proc.stderr
    assert _png_size(out) == (1600, 1000)


def test_pneumo_gui_dispatches_to_the_app(
    tmp_path: Path, explainable_model: Path
) -> None:
    files = make_folder(tmp_path / "films")
    out = tmp_path / "cli.png"
    env = app_env(tmp_path / "settings.ini", explainable_model)
    proc = subprocess.run([sys.executable, "-m", "pneumo", "gui", "--screenshot", str(out),
                           str(files["pneumonia_1"])], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.is_file()


def test_startup_benchmark_prints_its_figure(
    tmp_path: Path, explainable_model: Path
) -> None:
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "bench_startup.py"),
                           "--model", str(explainable_model), "--repeat", "1", "--json"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=180, check=False,
                          env=app_env(tmp_path / "unused.ini"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["model_loaded"] is True
    assert 0.0 < result["median_s"] < 15.0  # the 1 s target is reported, not enforced here
