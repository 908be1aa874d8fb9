"""Which pydicom decoding plugin is fastest for each compressed transfer syntax?

Writes one clinical-size film (a real test film upscaled to 3,000 px, 12-bit
stored, with detector-like noise; 8-bit for JPEG Baseline) in each syntax and
times every installed plugin on it through pydicom (``pixel_array`` with
``decoding_plugin``), median of ``--runs``. Prints a Markdown table of CPU
milliseconds (wall milliseconds in brackets): a scan keeps every core busy,
so CPU time is what a decoder costs there, and it is far less disturbed than
wall time by other work on the machine. The choice in
:mod:`pneumo.films.codecs` follows it.

    python bench/bench_decoders.py [--data ../shared/data/chest_xray] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))

PLUGINS = ("pydicom", "pylibjpeg", "imagecodecs", "pyjpegls", "pillow", "gdcm")


def clinical_film(data: Path, long_side: int = 3000, index: int = 0) -> np.ndarray:
    """A real test film upscaled to ``long_side`` px (uint8, bicubic)."""
    from PIL import Image

    films = sorted((data / "test" / "NORMAL").glob("*.jpeg"))
    if not films:
        raise SystemExit(f"no test films under {data}")
    img = Image.open(films[index % len(films)]).convert("L")
    scale = long_side / max(img.size)
    size = (round(img.size[0] * scale), round(img.size[1] * scale))
    return np.asarray(img.resize(size, Image.Resampling.BICUBIC))


def twelve_bit(film8: np.ndarray, noise: float, seed: int = 0) -> np.ndarray:
    """``film * 16`` plus Gaussian noise of ``noise`` levels, clipped to 12 bits."""
    rng = np.random.default_rng(seed)
    stored = film8.astype(np.float32) * 16 + rng.normal(0.0, noise, film8.shape)
    return np.clip(np.round(stored), 0, 4095).astype(np.uint16)


def write_syntax(film8: np.ndarray, stored: np.ndarray, syntax: object, path: Path) -> Path:
    """One DICOM file of the film in ``syntax`` (see ``tests/synth.encode_dataset``)."""
    import synth
    from pydicom.uid import JPEGBaseline8Bit

    if syntax == JPEGBaseline8Bit:
        ds = synth.dicom_dataset(film8, 8, WindowCenter=128, WindowWidth=256)
    else:
        ds = synth.dicom_dataset(stored, 12, WindowCenter=2048, WindowWidth=4096)
    return synth.save(synth.encode_dataset(ds, syntax), path)  # type: ignore[arg-type]


def _register_imagecodecs() -> None:
    from pydicom.pixels.decoders.base import get_decoder

    from pneumo.films.imagecodecs_plugin import DECODER_DEPENDENCIES

    for syntax in DECODER_DEPENDENCIES:
        decoder = get_decoder(syntax)
        if "imagecodecs" not in decoder.available_plugins:
            decoder.add_plugin("imagecodecs", ("pneumo.films.imagecodecs_plugin", "decode_frame"))


def time_plugins(path: Path, runs: int) -> dict[str, str]:
    """plugin -> "CPU ms (wall ms)" medians, or why it was not timed."""
    import pydicom
    from pydicom.pixels import pixel_array

    ds = pydicom.dcmread(path)
    reference = None
    out: dict[str, str] = {}
    for plugin in PLUGINS:
        try:
            arr = pixel_array(ds, decoding_plugin=plugin)
        except Exception as exc:  # noqa: BLE001 - a plugin that cannot do this syntax
            out[plugin] = "fails" if "No plugin" not in str(exc) else "-"
            continue
        if reference is None:
            reference = arr
        elif not np.array_equal(arr, reference):
            diff = int(np.abs(arr.astype(np.int64) - reference).max())
            if diff > 2:
                out[plugin] = f"differs by {diff}"
                continue
        cpu, wall = [], []
        for _ in range(runs):
            c0, t0 = time.process_time(), time.perf_counter()
            pixel_array(ds, decoding_plugin=plugin)
            cpu.append((time.process_time() - c0) * 1000)
            wall.append((time.perf_counter() - t0) * 1000)
        out[plugin] = f"{statistics.median(cpu):.0f} ({statistics.median(wall):.0f})"
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the plugin table."""
    from pydicom.uid import (
        HTJ2KLossless,
        JPEG2000Lossless,
        JPEGBaseline8Bit,
        JPEGExtended12Bit,
        JPEGLosslessSV1,
        JPEGLSLossless,
        RLELossless,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared/data/chest_xray")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--noise", type=float, default=6.0, help="noise, 12-bit levels")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    _register_imagecodecs()
    film8 = clinical_film(args.data)
    stored = twelve_bit(film8, args.noise)
    syntaxes = [RLELossless, JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLosslessSV1,
                JPEGLSLossless, JPEG2000Lossless, HTJ2KLossless]
    print(f"{film8.shape[1]} x {film8.shape[0]} film, noise {args.noise:g} levels: median "
          f"CPU ms (wall ms) of {args.runs} decodes through pydicom's pixel_array\n")
    print("| syntax | MB | " + " | ".join(PLUGINS) + " |")
    print("|---|---:|" + "---:|" * len(PLUGINS))
    with tempfile.TemporaryDirectory() as tmp:
        for syntax in syntaxes:
            path = write_syntax(film8, stored, syntax, Path(tmp) / f"{syntax.keyword}.dcm")
            cells = time_plugins(path, args.runs)
            row = list(cells.values())
            size = path.stat().st_size / 1e6
            print(f"| {syntax.name} | {size:.1f} | " + " | ".join(row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
