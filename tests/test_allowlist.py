"""Only PNG, JPEG, TIFF, BMP and DICOM are decoded (by content); no program is ever
started; damaged JPEG data is warned about; library warnings name the file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pneumo.errors import ImageError, UnsupportedImageError
from pneumo.films.damage import DAMAGED, jpeg_damage
from pneumo.films.imaging import load_image
from tests.hostile import GOOD_FILM, _jpeg, _other_formats, damaged_jpeg
from tests.subproc import REPO_ROOT, run_python

NAMES = {"eps": "PostScript/EPS", "webp": "WEBP", "ico": "ICO", "dds": "DDS", "qoi": "QOI",
         "gif": "GIF", "fits": "FITS", "ppm": "PNM"}


@pytest.fixture(scope="module")
def film() -> np.ndarray:
    return np.asarray(Image.open(GOOD_FILM).convert("L"))


def test_other_formats_named_png_never_reach_a_decoder(tmp_path: Path, film: np.ndarray,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoder(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("Pillow was asked to open a refused format")

    monkeypatch.setattr(Image, "open", no_decoder)
    files = _other_formats(film)
    assert set(files) == set(NAMES)
    for kind, content in files.items():
        path = tmp_path / f"{kind}.png"
        path.write_bytes(content)
        with pytest.raises(UnsupportedImageError) as info:
            load_image(path)
        assert info.value.problem == (
            f"not an accepted image format ({NAMES[kind]} content, named '.png'; "
            "accepted: PNG, JPEG, TIFF, BMP or DICOM)"), kind


def test_accepted_formats_by_content_whatever_the_name(tmp_path: Path, film: np.ndarray) -> None:
    for fmt, name in (("PNG", "a.jpg"), ("JPEG", "b.png"), ("TIFF", "c.bmp"), ("BMP", "d.tif")):
        Image.fromarray(film).save(tmp_path / name, fmt)
        assert load_image(tmp_path / name).metadata.format == fmt


_AUDIT = r"""
import json, sys
events = []
WATCH = ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "os.fork",
         "os.forkpty", "pty.spawn", "os.startfile")
sys.addaudithook(lambda event, args: events.append(event) if event in WATCH else None)
mode, path = sys.argv[1], sys.argv[2]
try:
    if mode == "pneumo":
        from pneumo.films.imaging import load_image
        load_image(path)
    else:  # plain Pillow, as the scan did before the allow-list
        from PIL import Image
        Image.open(path).load()
    outcome = "decoded"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {exc}"
print(json.dumps({"events": events, "outcome": outcome}))
"""


def _audited(mode: str, path: Path) -> dict[str, object]:
    proc = run_python("-c", _AUDIT, mode, str(path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


_LOAD_ONE = """import sys
from pneumo.films.imaging import load_image
try:
    load_image(sys.argv[1])
except Exception as exc:
    print(exc)
"""


def test_eps_named_png_is_refused_without_starting_any_program(tmp_path: Path,
                                                               film: np.ndarray) -> None:
    eps = tmp_path / "scan.png"
    eps.write_bytes(_other_formats(film)["eps"])
    result = _audited("pneumo", eps)
    assert result["events"] == []
    assert "not an accepted image format (PostScript/EPS content" in str(result["outcome"])
    if shutil.which("gs") is not None:  # control: the hook sees Pillow start Ghostscript
        assert "subprocess.Popen" in _audited("pillow", eps)["events"]
    strace = shutil.which("strace")
    if strace is None:
        return
    log = tmp_path / "strace.log"
    proc = subprocess.run(
        [strace, "-f", "-qq", "-e", "trace=execve,execveat,vfork", "-o", str(log),
         sys.executable, "-c", _LOAD_ONE, str(eps)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"})
    assert "not an accepted image format" in proc.stdout, proc.stderr[-2000:]
    calls = [line for line in log.read_text().splitlines() if "exec" in line or "vfork" in line]
    assert len(calls) == 1 and sys.executable in calls[0], calls  # the interpreter itself


def test_damaged_jpeg_data_is_warned_about(tmp_path: Path, film: np.ndarray) -> None:
    clean = _jpeg(film)
    cases = {
        "clean.jpg": (clean, False),
        "flipped.jpg": (damaged_jpeg(clean), True),
        "cut_and_closed.jpg": (clean[: len(clean) * 2 // 3] + b"\xff\xd9", True),
        "sample.jpeg": (GOOD_FILM.read_bytes(), False),
    }
    for name, (data, damaged) in cases.items():
        (tmp_path / name).write_bytes(data)
        notes = [w for w in load_image(tmp_path / name).warnings if w.startswith(DAMAGED)]
        assert bool(notes) == damaged, (name, notes)
        if damaged:
            assert notes[0].startswith(f"{DAMAGED} (Corrupt JPEG data"), notes
    (tmp_path / "cut.jpg").write_bytes(clean[: len(clean) // 2])
    with pytest.raises(ImageError, match="truncated JPEG"):
        load_image(tmp_path / "cut.jpg")


@pytest.mark.data
def test_no_damage_reported_on_the_kermany_test_split(chest_xray_dir: Path) -> None:
    films = sorted((chest_xray_dir / "test").glob("*/*.jpeg"))
    reported = [p.name for p in films if jpeg_damage(p.read_bytes()) is not None]
    assert len(films) == 624 and reported == []


_WARN = r"""
import io, sys, warnings
import numpy as np
from PIL import Image
from pneumo.films.imaging import load_image
path = sys.argv[1]
buf = io.BytesIO()
exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x05\x00\x12\x01\x03\x00"  # IFD cut short
Image.fromarray(np.full((160, 160), 128, np.uint8)).save(buf, "JPEG", exif=exif)
open(path, "wb").write(buf.getvalue())
load_image(path)
load_image(path)  # said again: every file is named, not once per source line
warnings.warn("outside decoding")
"""


def test_library_warnings_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "exif\nnewline.jpg"
    proc = run_python("-c", _WARN, str(path))
    assert proc.returncode == 0, proc.stderr
    named = [ln for ln in proc.stderr.splitlines() if ln.startswith("pneumo: warning: ")]
    expected = f"pneumo: warning: {tmp_path}/exif\\x0anewline.jpg: UserWarning: Corrupt EXIF data"
    assert len(named) == 2 and all(ln.startswith(expected) for ln in named), proc.stderr
    assert "UserWarning: outside decoding" in proc.stderr  # other warnings as usual
