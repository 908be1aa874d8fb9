"""The one-folder bundle, built by the documented command, copied to another
folder and run with no Python environment at all (marker ``bundle``).

Builds with ``python packaging/build_bundle.py --no-bench`` into a temporary
folder (about 1-2 min here), unless ``$PNEUMO_BUNDLE`` names a built
``PneumoScan`` folder. Then ``self-test`` exits 0, ``scan`` gives the
checkout's probabilities and ``gui --screenshot`` draws the window offscreen.
Deselected by default; CI runs it as its second step: ``python -m pytest -m bundle``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.subproc import REPO_ROOT, assert_scan_matches_the_checkout

pytestmark = pytest.mark.bundle
EXE = "PneumoScan.exe" if sys.platform == "win32" else "PneumoScan"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle's executable, in a copy of the bundle outside the checkout."""
    root = tmp_path_factory.mktemp("bundle")
    given = os.environ.get("PNEUMO_BUNDLE")
    if given:
        built = Path(given)
    else:
        pytest.importorskip("PyInstaller", reason="PyInstaller is not installed: "
                            "pip install -e '.[packaging]'")
        done = subprocess.run([sys.executable, "packaging/build_bundle.py", "--no-bench",
                               "--dist", str(root / "dist"), "--work", str(root / "work")],
                              cwd=REPO_ROOT, capture_output=True, text=True, check=False,
                              timeout=1500)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        built = root / "dist" / "PneumoScan"
    copy = root / "elsewhere" / "PneumoScan"
    shutil.copytree(built, copy, symlinks=True)
    shutil.rmtree(root / "dist", ignore_errors=True)
    shutil.rmtree(root / "work", ignore_errors=True)
    return copy / EXE


def _env(home: Path) -> dict[str, str]:
    """No Python, no virtual environment, no checkout: a bare system."""
    return {"HOME": str(home), "PATH": os.defpath, "LANG": "C.UTF-8",
            "XDG_CONFIG_HOME": str(home / "config"), "QT_QPA_PLATFORM": "offscreen"}


def _run(exe: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    home = exe.parent.parent
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False,
                          env=_env(home), cwd=home, timeout=timeout)


def test_bundle_holds_no_python_environment_and_no_tensorflow(bundle: Path) -> None:
    internal = bundle.parent / "_internal"
    assert not (internal / "tensorflow").exists() and not (internal / "keras").exists()
    # only the decoders the scan calls: no GDCM, and four of imagecodecs' 50-odd codecs
    assert not (internal / "_gdcm").exists() and not (internal / "gdcm").exists()
    codecs = {p.name.split(".")[0] for p in (internal / "imagecodecs").glob("_*.so")}
    assert {"_jpeg8", "_jpegls", "_jpeg2k", "_htj2k"} <= codecs and "_avif" not in codecs, codecs
    assert list(internal.glob("libpython3*"))  # its own interpreter
    platforms = internal / "PySide6" / "Qt" / "plugins" / "platforms"
    names = {p.name for p in platforms.iterdir()}
    if sys.platform.startswith("linux"):
        assert {"libqoffscreen.so", "libqxcb.so"} <= names
    done = _run(bundle, "--version")
    assert done.returncode == 0 and done.stdout.startswith("pneumo ")


def test_bundle_self_test_passes(bundle: Path) -> None:
    done = _run(bundle, "self-test")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(bundle)" in done.stdout and "FAIL" not in done.stdout
    assert "ok    window (Qt offscreen)" in done.stdout


def test_bundle_scan_matches_the_checkout(bundle: Path) -> None:
    samples = bundle.parent / "_internal" / "pneumo_assets" / "samples"
    done = _run(bundle, "scan", str(samples), "--json", "-")
    assert_scan_matches_the_checkout(done)


def test_bundle_gui_screenshot_offscreen(bundle: Path, tmp_path: Path) -> None:
    from PIL import Image

    sample = bundle.parent / "_internal" / "pneumo_assets" / "samples"
    film = min(sample.glob("*.dcm"))
    out = tmp_path / "window.png"
    done = _run(bundle, "gui", "--screenshot", str(out), "--timeout", "120", str(film))
    assert done.returncode == 0, done.stdout + done.stderr
    with Image.open(out) as png:
        assert png.size[0] > 800 and png.size[1] > 500
    assert not (bundle.parent.parent / "config").exists()  # a screenshot run keeps no settings


def test_linux_install_script_installs_and_uninstalls(bundle: Path, tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("packaging/install_linux.sh is for Linux")
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": os.defpath}
    script = REPO_ROOT / "packaging" / "install_linux.sh"
    done = subprocess.run(["bash", str(script), str(bundle.parent)], env=env,
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    entry = home / ".local" / "share" / "applications" / "pneumoscan.desktop"
    assert f"Exec={home}/.local/opt/PneumoScan/PneumoScan gui %F" in entry.read_text()
    assert (home / ".local/share/icons/hicolor/256x256/apps/pneumoscan.png").is_file()
    version = subprocess.run([str(home / ".local" / "bin" / "PneumoScan"), "--version"],
                             env=env, capture_output=True, text=True, check=False, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("pneumo ")
    gone = subprocess.run(["bash", str(script), "--uninstall"], env=env, capture_output=True,
                          text=True, check=False, timeout=60)
    assert gone.returncode == 0 and not any(p.is_file() for p in home.rglob("*"))
