"""The one-folder bundle beside the virtual environment: size and start-up time.

Size: the bundle folder, against the installed files of everything a core
install of ``pneumoscan`` pulls in (its requirement closure, from this
environment's package metadata; TensorFlow and the test tools are not part of
it). Start-up, median of ``--repeat`` launches each, Qt offscreen, throw-away
settings and home folder: ``--version`` (interpreter and CLI only), ``info``
(the model card read), and ``gui --exit-when-ready`` (launch to the window
shown with the model loaded).

    python bench/bench_bundle.py [--bundle dist/PneumoScan] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
READY_MARKER = "PNEUMOSCAN_READY"  # desktop.app.READY_MARKER (no Qt imported here)
EXE_NAME = "PneumoScan.exe" if sys.platform == "win32" else "PneumoScan"


def folder_size(root: Path) -> tuple[int, int]:
    """(bytes, files) under ``root``, links not followed."""
    total = count = 0
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
            count += 1
    return total, count


def _requirement_names(dist: metadata.Distribution) -> list[str]:
    names = []
    for req in dist.requires or []:
        if "extra ==" in req:
            continue
        marker = req.split(";", 1)
        if len(marker) == 2 and "platform_machine" in marker[1]:
            continue
        names.append(re.split(r"[ ;<>=!~\[(]", req.strip(), maxsplit=1)[0])
    return names


def venv_size(root_dist: str = "pneumoscan") -> tuple[int, int, list[str]]:
    """(bytes, files, distributions) installed for a core install of ``root_dist``."""
    seen: dict[str, metadata.Distribution] = {}
    todo = [root_dist]
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[name] = dist
        todo += _requirement_names(dist)
    total = count = 0
    for dist in seen.values():
        for file in dist.files or []:
            path = Path(str(dist.locate_file(file)))
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
                count += 1
    return total, count, sorted(seen)


def time_command(command: list[str], env: dict[str, str], ready: bool = False) -> float:
    """Seconds from launch to exit (``ready``: to the app's ready line)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=env["HOME"])
    assert proc.stdout is not None
    elapsed = None
    for line in proc.stdout:
        if ready and line.startswith(READY_MARKER):
            elapsed = time.perf_counter() - started
    code = proc.wait()
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} exited {code}")
    if ready and elapsed is None:
        raise RuntimeError(f"{' '.join(command)} never became ready")
    return elapsed if elapsed is not None else time.perf_counter() - started


def startup_times(prefix: list[str], env: dict[str, str], repeat: int) -> dict[str, float]:
    """Median seconds for each measured command."""
    settings = str(Path(env["HOME"]) / "settings.ini")
    cases = {
        "--version": ([*prefix, "--version"], False),
        "info": ([*prefix, "info"], False),
        "gui ready": ([*prefix, "gui", "--exit-when-ready", "--settings", settings], True),
    }
    return {name: statistics.median(time_command(cmd, env, ready) for _ in range(repeat))
            for name, (cmd, ready) in cases.items()}


def main(argv: list[str] | None = None) -> int:
    """Print size and start-up of the bundle and of this environment."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, default=REPO_ROOT / "dist" / "PneumoScan")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    exe = args.bundle / EXE_NAME
    if not exe.is_file():
        print(f"no bundle at {exe}: run python packaging/build_bundle.py", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pneumo-bench-") as home:
        base = {"HOME": home, "QT_QPA_PLATFORM": "offscreen", "PATH": os.defpath,
                "LANG": "C.UTF-8"}
        bundle_env = dict(base)  # nothing of this Python or its venv
        venv_env = {**os.environ, **base, "PYTHONPATH": str(REPO_ROOT)}
        bundle = startup_times([str(exe)], bundle_env, args.repeat)
        venv = startup_times([sys.executable, "-m", "pneumo"], venv_env, args.repeat)
    b_bytes, b_files = folder_size(args.bundle)
    v_bytes, v_files, dists = venv_size()
    print(f"| | bundle ({args.bundle.name}/) | venv (core install) |")
    print("|---|---:|---:|")
    print(f"| size | {b_bytes / 1e6:.0f} MB, {b_files} files | "
          f"{v_bytes / 1e6:.0f} MB, {v_files} files |")
    for name in bundle:
        print(f"| `{name}` median s | {bundle[name]:.2f} | {venv[name]:.2f} |")
    print(f"({args.repeat} launches each; venv = {len(dists)} distributions: {', '.join(dists)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
