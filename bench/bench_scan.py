"""End-to-end speed on clinical-size files: decode, preprocess, classify, explain.

Generates full-size CR/DX-like DICOM files (2,500-3,000 px, 12 and 16 bit,
uncompressed and RLE) from real test films, then times each stage of the
app's path for one file, and a whole ``pneumo scan`` of the folder with 1 and
2 decoding workers. Prints a Markdown table.

    python bench/bench_scan.py [--data ../shared/data/chest_xray] [--files 12]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from pneumo.films.imaging import load_image
from pneumo.model.locate import assets_dir
from pneumo.model.preprocess import preprocess


def write_clinical_dicoms(films: list[Path], out: Path) -> list[Path]:
    """Upscale films to detector size and write them as DICOM, alternating
    12-bit windowed, 16-bit full range, RLE-compressed."""
    from pydicom.uid import RLELossless

    sys.path.insert(0, str(REPO_ROOT / "tests"))
    import synth  # the test suite's DICOM writers

    paths = []
    for i, film in enumerate(films):
        arr = np.asarray(Image.open(film).convert("L"))
        long_side = 2500 + 250 * (i % 3)
        scale = long_side / max(arr.shape)
        size = (round(arr.shape[1] * scale), round(arr.shape[0] * scale))
        big8 = np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.BICUBIC))
        path = out / f"clinical_{i:02d}.dcm"
        if i % 3 == 0:
            synth.write_dicom_windowed(big8, path)
        elif i % 3 == 1:
            synth.write_dicom_full16((big8.astype(np.uint16) * 257), path)
        else:
            ds = synth.windowed_dataset(big8)
            ds.compress(RLELossless)
            synth.save(ds, path)
        paths.append(path)
    return paths


def _median_ms(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.9 * len(times)))]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared/data/chest_xray")
    parser.add_argument("--files", type=int, default=12)
    args = parser.parse_args(argv)
    films = sorted((args.data / "test" / "PNEUMONIA").glob("*.jpeg"))[: args.files // 2]
    films += sorted((args.data / "test" / "NORMAL").glob("*.jpeg"))[: args.files - len(films)]
    if not films:
        print(f"no test films under {args.data}", file=sys.stderr)
        return 2
    from pneumo.model.gradcam import Explainer
    from pneumo.model.runner import ModelRunner
    from pneumo.scanning.pipeline import scan

    assets = assets_dir()
    runner = ModelRunner(assets / "model.tflite")
    explainer = Explainer(assets / "model_float.tflite")
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_clinical_dicoms(films, Path(tmp))
        sizes = [load_image(p).pixels.shape for p in paths]
        rows: list[tuple[str, float, float]] = []
        for index, kind in enumerate(("12-bit windowed", "16-bit full range", "12-bit RLE")):
            path = paths[index]
            rows.append((f"decode {kind} DICOM {sizes[index][1]} px",
                         *_median_ms(lambda: load_image(path), 5)))  # noqa: B023
        image = load_image(paths[0])
        spec = runner.card.preprocessing
        x = preprocess(image, spec)
        rows.append(("preprocess (squash to 224)", *_median_ms(lambda: preprocess(image, spec), 20)))
        rows.append(("classify (int8, 2 threads)", *_median_ms(lambda: runner.predict(x), 50)))
        rows.append(("explain (float Grad-CAM, 2 threads)",
                     *_median_ms(lambda: explainer.explain(x), 50)))
        rows.append(("one file end to end (decode+preprocess+classify)",
                     *_median_ms(lambda: runner.predict(preprocess(load_image(paths[0]), spec)), 5)))
        print(f"{len(paths)} clinical DICOM files, {min(s[1] for s in sizes)}-"
              f"{max(s[1] for s in sizes)} px wide\n")
        print("| step | median ms | p90 ms |\n|---|---:|---:|")
        for name, med, p90 in rows:
            print(f"| {name} | {med:.1f} | {p90:.1f} |")
        print("\n| scan of the folder | files/s | ms per file |\n|---|---:|---:|")
        for workers in (1, 2):
            t = time.perf_counter()
            records = list(scan([Path(tmp)], runner, workers=workers))
            elapsed = time.perf_counter() - t
            assert all(r.error is None for r in records), [r.error for r in records]
            print(f"| {workers} decoding worker{'s' if workers > 1 else ''} | "
                  f"{len(records) / elapsed:.1f} | {1000 * elapsed / len(records):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
