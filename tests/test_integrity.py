"""Integrity: sources stay byte-identical, exports are atomic, tampered models are refused."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pneumo.errors import ModelIntegrityError
from pneumo.model.card import CARD_FILENAME
from pneumo.results.export import write_csv, write_json
from pneumo.results.records import ScanRecord
from tests.test_offline import (
    GUI_MAIN,
    REPO_ROOT,
    SHIPPED_MODEL,
    cli_session,
    gui_session,
    make_sources,
    run_audited,
)


def _shipped() -> None:
    if not SHIPPED_MODEL.is_file():
        pytest.skip("no shipped model in assets/")


# -- sources untouched -----------------------------------------------------------
def test_cli_scan_with_exports_leaves_sources_byte_identical(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    _shipped()
    s = cli_session(tmp_path_factory.getbasetemp())
    assert s.returncode == 0, s.stderr[-2000:]
    assert all(p.is_file() for p in s.outputs)
    assert {Path(p).suffix for p in s.before} == {".png", ".jpg", ".dcm"}
    assert s.after == s.before  # sha256, size and mtime_ns


def test_gui_session_leaves_sources_byte_identical(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    pytest.importorskip("PySide6")
    _shipped()
    s = gui_session(tmp_path_factory.getbasetemp())
    assert s.returncode == 0, s.stderr[-2000:]
    assert "screenshot saved" in s.stdout
    assert s.after == s.before
    assert sorted(p.name for p in s.sources.values()) == sorted(
        os.listdir(s.root / "sources"))  # nothing written beside them


# -- atomic exports ----------------------------------------------------------------
_KILL_CHILD = r"""
import os, sys, time
from pathlib import Path
import pneumo.util.atomic as atomic
from pneumo.results.export import write_csv, write_json
from pneumo.results.records import ScanRecord

mode, fmt, target = sys.argv[1], sys.argv[2], Path(sys.argv[3])
real_fdopen, real_fsync = os.fdopen, os.fsync

def stall():
    print("STALLED", flush=True)
    time.sleep(120)

class HalfWriter:
    def __init__(self, fh): self.fh = fh
    def __enter__(self): return self
    def __exit__(self, *exc): return self.fh.__exit__(*exc)
    def write(self, data):
        self.fh.write(data[: len(data) // 2]); self.fh.flush(); stall()
    def __getattr__(self, name): return getattr(self.fh, name)

if mode == "half-write":
    atomic.os.fdopen = lambda fd, *a, **k: HalfWriter(real_fdopen(fd, *a, **k))
else:
    atomic.os.fsync = lambda fd: (real_fsync(fd), stall())
records = [ScanRecord(path=Path(f"/new/file_{i}.png"), label="PNEUMONIA", probability=0.9)
           for i in range(2000)]
(write_csv if fmt == "csv" else write_json)(records, target)
print("FINISHED", flush=True)
"""


@pytest.mark.parametrize("mode", ["half-write", "before-rename"])
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_killed_mid_write_leaves_the_old_file(tmp_path: Path, fmt: str, mode: str) -> None:
    target = tmp_path / f"results.{fmt}"
    old = [ScanRecord(path=Path("/old/a.png"), label="NORMAL", probability=0.1)]
    (write_csv if fmt == "csv" else write_json)(old, target)
    old_bytes = target.read_bytes()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get(
        "PYTHONPATH", ""), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen([sys.executable, "-c", _KILL_CHILD, mode, fmt, str(target)],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        line = ""
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line or line.strip() in ("STALLED", "FINISHED"):
                break
        assert line.strip() == "STALLED", proc.stderr.read() if proc.stderr else ""
        temps = list(tmp_path.glob(f".results.{fmt}.*.tmp"))
        assert len(temps) == 1 and temps[0].stat().st_size > 0  # really mid-write
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert target.read_bytes() == old_bytes  # the old export, whole
    # What is left: the export and the killed writer's temporary file (hidden,
    # ".results.csv.XXXX.tmp", holding patient data). Nothing else.
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p != target)
    assert len(leftovers) == 1 and leftovers[0].startswith(f".results.{fmt}.")
    # The next export succeeds, replaces the file whole and removes the stale one.
    (write_csv if fmt == "csv" else write_json)(old * 2, target)
    assert target.read_bytes().count(b"/old/a.png") == 2
    assert sorted(tmp_path.iterdir()) == [target]


# -- tampered model ---------------------------------------------------------------
@pytest.fixture
def tampered_model(tmp_path: Path) -> Path:
    """The shipped model and card copied, one byte of the model flipped."""
    _shipped()
    folder = tmp_path / "tampered"
    folder.mkdir()
    model = folder / "model.tflite"
    shutil.copyfile(SHIPPED_MODEL, model)
    shutil.copyfile(SHIPPED_MODEL.parent / CARD_FILENAME, folder / CARD_FILENAME)
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    return model


def test_shipped_model_copy_loads(tmp_path: Path) -> None:
    """Control: the untouched copy loads, so the refusal below is the flipped byte."""
    _shipped()
    from pneumo.model.runner import ModelRunner

    shutil.copyfile(SHIPPED_MODEL, tmp_path / "model.tflite")
    shutil.copyfile(SHIPPED_MODEL.parent / CARD_FILENAME, tmp_path / CARD_FILENAME)
    assert ModelRunner(tmp_path / "model.tflite").input_size == 224


def test_runner_refuses_tampered_model(tampered_model: Path) -> None:
    from pneumo.model.runner import ModelRunner

    with pytest.raises(ModelIntegrityError, match="sha256 does not match"):
        ModelRunner(tampered_model)
    # A byte appended is caught as well.
    tampered_model.write_bytes(SHIPPED_MODEL.read_bytes() + b"\x00")
    with pytest.raises(ModelIntegrityError):
        ModelRunner(tampered_model)


def test_cli_refuses_tampered_model(tampered_model: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from pneumo.cli import main

    png = make_sources(tmp_path / "src")["png"]
    out = tmp_path / "r.csv"
    rc = main(["scan", str(png), "--model", str(tampered_model), "--csv", str(out)])
    captured = capsys.readouterr()
    assert rc == 1
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("pneumo: error: ") and "sha256 does not match" in lines[0]
    assert str(tampered_model) in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert not out.exists()  # nothing exported from an untrusted model


def test_app_shows_a_clear_message_for_a_tampered_model(tampered_model: Path,
                                                        tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    shot = tmp_path / "gui" / "out" / "window.png"
    s = run_audited(tmp_path / "gui", GUI_MAIN,
                    ["--model", str(tampered_model), "--timeout", "120", "--screenshot",
                     str(shot), "{png}"], [shot],
                    {"PNEUMO_SETTINGS": str(tmp_path / "gui" / "settings.ini")})
    assert s.returncode == 1, s.stderr[-3000:]  # the screenshot is taken, the run fails
    assert "Traceback" not in s.stderr
    assert f"pneumo gui: no model loaded: {tampered_model}: sha256 does not match" in s.stderr
    banner = [ln for ln in s.stdout.splitlines() if ln.startswith("MODEL_BAR ")]
    assert len(banner) == 1, s.stdout
    assert "No model loaded" in banner[0] and "sha256 does not match" in banner[0]
    assert shot.is_file()
