"""Where the window opens (desktop/geometry.py), and screenshot runs that
leave the user's settings alone. Offscreen; the same on a real X server is in
tests/test_xvfb.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow

from desktop.geometry import MIN_SIZE, first_launch_rect, fits, place_window
from pneumo.model.locate import assets_dir
from tests.subproc import REPO_ROOT

SCREEN = QRect(0, 0, 1920, 1080)


def test_first_launch_takes_80_percent_centred() -> None:
    rect = first_launch_rect(SCREEN)
    assert (rect.width(), rect.height()) == (1536, 864)
    assert rect.center() == SCREEN.center()
    assert first_launch_rect(QRect(1920, 0, 1280, 1024)).center() == QRect(
        1920, 0, 1280, 1024).center()


def test_a_geometry_fits_only_on_a_screen_and_not_squeezed() -> None:
    assert fits(QRect(100, 50, 1500, 920), [SCREEN])
    assert not fits(QRect(100, 50, 1151, 322), [SCREEN])  # the strip of the issue
    assert not fits(QRect(2200, 50, 1000, 700), [SCREEN])  # a monitor that is gone
    assert fits(QRect(2200, 50, 1000, 700), [SCREEN, QRect(1920, 0, 1280, 1024)])
    assert not fits(QRect(-300, 50, 1000, 700), [SCREEN])  # half off the screen
    assert fits(QRect(-8, -8, 1936, 1096), [SCREEN])  # a maximised frame's border
    small = QRect(0, 0, 600, 400)  # a screen smaller than MIN_SIZE: the whole of it will do
    assert MIN_SIZE.width() > small.width() and fits(QRect(0, 0, 600, 400), [small])


def _saved_geometry(qtbot, rect: QRect) -> QByteArray:
    other = QMainWindow()
    qtbot.addWidget(other)
    other.setGeometry(rect)
    return other.saveGeometry()


def test_place_window_restores_what_fits_and_resets_what_does_not(qtbot) -> None:
    available = QGuiApplication.primaryScreen().availableGeometry()
    window = QMainWindow()
    qtbot.addWidget(window)
    assert not place_window(window, None)
    assert window.geometry() == first_launch_rect(available)

    fitting = QRect(available.x() + 10, available.y() + 20, available.width() - 40,
                    available.height() - 60)
    assert place_window(window, _saved_geometry(qtbot, fitting))
    assert window.geometry().size() == fitting.size()

    strip = QRect(available.x(), available.y(), available.width() - 10, 200)
    assert not place_window(window, _saved_geometry(qtbot, strip))
    assert window.geometry() == first_launch_rect(available)


def _gui_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PNEUMO_SETTINGS", "PNEUMO_MODEL")}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "config"), PYTHONPATH=str(REPO_ROOT))
    return env


def test_a_screenshot_run_writes_no_settings(tmp_path: Path) -> None:
    film = min((assets_dir() / "samples").glob("*.dcm"))
    out = tmp_path / "shot.png"
    done = subprocess.run([sys.executable, "-m", "pneumo", "gui", "--screenshot", str(out),
                           "--timeout", "120", str(film)], env=_gui_env(tmp_path),
                          cwd=tmp_path, capture_output=True, text=True, timeout=200, check=False)
    assert done.returncode == 0, done.stderr
    assert out.is_file()
    assert not (tmp_path / "config").exists()  # Qt's settings store on Linux


def test_a_normal_run_still_saves_its_settings(tmp_path: Path) -> None:
    code = ("import sys; from PySide6.QtCore import QTimer; from PySide6.QtWidgets import "
            "QApplication; app = QApplication([]); "
            "QTimer.singleShot(500, lambda: [w.close() for w in app.topLevelWidgets()]); "
            "from desktop.app import main; sys.exit(main([]))")
    done = subprocess.run([sys.executable, "-c", code], env=_gui_env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=200, check=False)
    assert done.returncode == 0, done.stderr
    stored = tmp_path / "config" / "PneumoScan" / "PneumoScan.conf"
    assert stored.is_file() and "geometry" in stored.read_text()
