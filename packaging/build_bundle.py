"""Build the one-folder PneumoScan bundle: ``python packaging/build_bundle.py``.

Needs the ``packaging`` extra (PyInstaller) in the environment that runs it
(``pip install -e ".[packaging]"``); the result is ``dist/PneumoScan/`` (on
macOS also ``dist/PneumoScan.app``), whose ``PneumoScan`` executable needs no
Python on the target. Then it checks what a careless bundle loses (TensorFlow
kept out, Qt platform plugins, decoder plugin metadata, the models) and prints
the bundle's size and start-up beside this environment's (``bench/bench_bundle.py``;
``--no-bench`` skips that).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "pneumoscan.spec"
PLATFORM_PLUGINS = {"linux": ("offscreen", "xcb"), "win32": ("offscreen", "windows"),
                    "darwin": ("offscreen", "cocoa")}
FORBIDDEN = ("tensorflow", "keras", "tf_keras", "matplotlib", "train", "convert", "_gdcm",
             "gdcm")
#: imagecodecs' codecs that the scan never calls (of 50-odd): a sample that must stay out.
UNUSED_CODECS = ("_avif", "_jpegxl", "_tiff", "_webp", "_zstd")


def build(dist: Path, work: Path) -> float:
    """Run PyInstaller on the spec; seconds taken."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean",
                    "--log-level", "WARN", "--distpath", str(dist), "--workpath", str(work),
                    str(SPEC)], check=True, cwd=ROOT)
    return time.perf_counter() - started


def problems(bundle: Path) -> list[str]:
    """What the bundle lacks or holds that it must not; empty when all is well."""
    internal = bundle / "_internal"
    found = []
    for name in FORBIDDEN:
        if (internal / name).exists():
            found.append(f"{name} is inside the bundle")
    for codec in UNUSED_CODECS:
        if list((internal / "imagecodecs").glob(f"{codec}.*")):
            found.append(f"imagecodecs.{codec} is inside the bundle (the scan never uses it)")
    plugins = internal / "PySide6" / "Qt" / "plugins" / "platforms"
    names = " ".join(p.name for p in plugins.iterdir()) if plugins.is_dir() else ""
    for plugin in PLATFORM_PLUGINS.get(sys.platform, ()):
        if plugin not in names:
            found.append(f"Qt platform plugin {plugin} is missing from {plugins}")
    for dist in ("pydicom", "pylibjpeg"):
        if not list(internal.glob(f"{dist}-*.dist-info")):
            found.append(f"{dist}'s metadata (entry points) is missing")
    for model in ("model.tflite", "model_float.tflite", "model_card.json"):
        if not (internal / "pneumo_assets" / model).is_file():
            found.append(f"pneumo_assets/{model} is missing")
    return found


def main(argv: list[str] | None = None) -> int:
    """Build, check, report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (dist/)")
    p.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller")
    p.add_argument("--no-bench", action="store_true", help="skip the size and start-up figures")
    args = p.parse_args(argv)
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        print("PyInstaller is missing: pip install -e '.[packaging]'", file=sys.stderr)
        return 2
    seconds = build(args.dist, args.work)
    bundle = args.dist / "PneumoScan"
    print(f"built {bundle} in {seconds:.0f} s")
    found = problems(bundle)
    for problem in found:
        print(f"bundle problem: {problem}", file=sys.stderr)
    if found:
        return 1
    if not args.no_bench:
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_bundle import main as bench_main

        return bench_main(["--bundle", str(bundle)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
