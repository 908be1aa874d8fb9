"""A non-editable install works outside the checkout (marker ``install``).

Copies the checkout's files (tracked and untracked-not-ignored: no stale
``build/``), ``pip install``s the copy into a fresh virtual environment (core
dependencies only, no TensorFlow; from pip's cache and the configured index),
then, from another directory and with nothing of the checkout on the path:
``pneumo info --json`` lists the installed models, ``pneumo scan`` gives the
checkout's probabilities, and ``pneumo self-test`` passes, its window included.
About 30-60 s, most of it pip. Run alone with ``python -m pytest -m install``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.subproc import REPO_ROOT, assert_scan_matches_the_checkout

pytestmark = pytest.mark.install

_IGNORED = (".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", "runs",
            ".pytest_cache", ".mypy_cache", ".ruff_cache")


def _copy_checkout(dest: Path) -> None:
    """The files a clean clone would have, plus untracked ones not ignored."""
    listed = None
    if (REPO_ROOT / ".git").exists() and shutil.which("git"):
        done = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"],
                              cwd=REPO_ROOT, capture_output=True, check=False)
        if done.returncode == 0:
            listed = [name for name in done.stdout.decode().split("\0") if name]
    if listed is None:
        shutil.copytree(REPO_ROOT, dest, ignore=shutil.ignore_patterns(*_IGNORED))
        return
    for name in listed:
        source = REPO_ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def _clean_env(venv_bin: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PNEUMO_ASSETS", "PNEUMO_MODEL", "VIRTUAL_ENV",
                        "PNEUMO_SETTINGS", "PYTHONHOME")}
    env.update(PATH=os.pathsep.join([str(venv_bin), os.defpath]), HOME=str(home),
               XDG_CONFIG_HOME=str(home / "config"), QT_QPA_PLATFORM="offscreen")
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    """(venv bin folder, environment, a working directory outside the checkout)."""
    root = tmp_path_factory.mktemp("install")
    source, venv = root / "source", root / "venv"
    _copy_checkout(source)
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True,
                          text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot create a virtual environment here: {made.stderr.strip()[-300:]}")
    venv_bin = venv / ("Scripts" if os.name == "nt" else "bin")
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    env = _clean_env(venv_bin, elsewhere)
    done = subprocess.run([str(venv_bin / "python"), "-m", "pip", "install", "-q",
                           "--disable-pip-version-check", str(source)],
                          capture_output=True, text=True, check=False, env=env, cwd=elsewhere,
                          timeout=1200)
    assert done.returncode == 0, f"pip install failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    shutil.rmtree(source)  # the install must not lean on the copy either
    return venv_bin, env, elsewhere


def _run(installed: tuple[Path, dict[str, str], Path], *args: str,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    venv_bin, env, cwd = installed
    return subprocess.run([str(venv_bin / "pneumo"), *args], capture_output=True, text=True,
                          check=False, env=env, cwd=cwd, timeout=timeout)


def _site_assets(installed: tuple[Path, dict[str, str], Path]) -> Path:
    venv_bin, env, cwd = installed
    done = subprocess.run([str(venv_bin / "python"), "-c",
                           "from pneumo.model.locate import assets_dir; print(assets_dir())"],
                          capture_output=True, text=True, check=True, env=env, cwd=cwd)
    return Path(done.stdout.strip())


def test_installed_models_come_from_the_package(installed: tuple[Path, dict[str, str], Path]
                                                ) -> None:
    assets = _site_assets(installed)
    assert assets.name == "pneumo_assets" and "site-packages" in assets.parts
    done = _run(installed, "info", "--json")
    assert done.returncode == 0, done.stderr
    infos = {Path(i["path"]).name: i for i in json.loads(done.stdout)}
    assert {"model.tflite", "model_float.tflite"} <= set(infos)
    for name in ("model.tflite", "model_float.tflite"):
        assert Path(infos[name]["path"]).parent == assets
        assert infos[name]["sha256_ok"] is True
    assert infos["model.tflite"]["kind"] == "int8"


def test_installed_scan_matches_the_checkout(installed: tuple[Path, dict[str, str], Path]
                                             ) -> None:
    samples = _site_assets(installed) / "samples"
    done = _run(installed, "scan", str(samples), "--json", "-")
    assert_scan_matches_the_checkout(done)


def test_installed_self_test_passes(installed: tuple[Path, dict[str, str], Path]) -> None:
    done = _run(installed, "self-test", timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout
    assert "ok    window (Qt offscreen)" in done.stdout
    assert not (installed[2] / "config").exists()  # the window check kept to its own settings
