"""The app on a real X server: Xvfb with Qt's ``xcb`` platform (marker ``xvfb``).

Every other GUI test runs on Qt's offscreen platform, which needs none of the
X libraries; this one catches a missing ``libxcb-*`` package ("Could not load
the Qt platform plugin xcb") and checks the window geometry on a screen with a
real size. Xvfb (Debian package ``xvfb``) is started on a free display number
(``-displayfd``); the tests skip with the reason when it is not installed.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pneumo.model.locate import assets_dir
from tests.subproc import REPO_ROOT

pytestmark = pytest.mark.xvfb
SCREEN = (1280, 1024)


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """``:N`` of a running Xvfb, stopped afterwards."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (Debian package xvfb): no X server for the xcb test")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(write_fd), "-screen", "0",
                             f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 30)
        number = os.read(read_fd, 64).decode().strip() if ready else ""
        if not number:
            pytest.fail("Xvfb did not report a display within 30 s")
        yield f":{number}"
    finally:
        os.close(read_fd)
        proc.terminate()
        proc.wait(timeout=10)


def _env(display: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PNEUMO_SETTINGS", "PNEUMO_MODEL", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb", HOME=str(home),
               XDG_CONFIG_HOME=str(home / "config"), PYTHONPATH=str(REPO_ROOT))
    return env


def test_screenshot_on_xcb(display: str, tmp_path: Path) -> None:
    from PIL import Image, ImageStat

    film = min((assets_dir() / "samples").glob("*.dcm"))
    out = tmp_path / "xcb.png"
    done = subprocess.run([sys.executable, "-m", "pneumo", "gui", "--screenshot", str(out),
                           "--timeout", "120", str(film)], env=_env(display, tmp_path),
                          cwd=tmp_path, capture_output=True, text=True, timeout=200, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Could not load the Qt platform plugin" not in done.stderr
    with Image.open(out) as png:
        assert png.size[0] > 800 and png.size[1] > 500
        assert max(ImageStat.Stat(png.convert("L")).stddev) > 10  # drawn, not blank
    assert not (tmp_path / "config").exists()


_GEOMETRY = """
import json, sys
from pathlib import Path
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
from desktop.main_window import MainWindow
from desktop.session import Session
from desktop.settings import AppSettings

def opened(settings):
    window = MainWindow(Session(None, "no model in this test"), settings)
    window.show()
    for _ in range(20):
        app.processEvents()
    g = window.geometry()
    window.shutdown(2000)
    return [g.x(), g.y(), g.width(), g.height()]

ini = Path(sys.argv[1])
first = opened(AppSettings(ini))
strip = QMainWindow()
strip.setGeometry(QRect(60, 80, 1151, 322))
AppSettings(ini).geometry = strip.saveGeometry()
after_strip = opened(AppSettings(ini))
fitting = QMainWindow()
fitting.setGeometry(QRect(60, 80, 1000, 700))
AppSettings(ini).geometry = fitting.saveGeometry()
restored = opened(AppSettings(ini))
screen = app.primaryScreen().availableGeometry()
print(json.dumps({"platform": app.platformName(), "first": first, "after_strip": after_strip,
                  "restored": restored, "screen": [screen.width(), screen.height()]}))
"""


def test_window_geometry_on_a_real_screen(display: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _GEOMETRY, str(tmp_path / "settings.ini")],
                          env=_env(display, tmp_path), cwd=tmp_path, capture_output=True,
                          text=True, timeout=200, check=False)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["platform"] == "xcb" and seen["screen"] == list(SCREEN)
    width, height = round(SCREEN[0] * 0.8), round(SCREEN[1] * 0.8)
    centred = [(SCREEN[0] - width) // 2, (SCREEN[1] - height) // 2, width, height]
    assert seen["first"] == pytest.approx(centred, abs=1)
    assert seen["after_strip"] == pytest.approx(centred, abs=1)  # the strip is not restored
    assert seen["restored"][2:] == [1000, 700]
