"""What the hostile-input checks cost: JPEG damage check, model integrity check, walk.

``python bench/bench_hostile.py [--data DATA_DIR] [--runs N]``

* the libjpeg-turbo damage check (:func:`pneumo.films.damage.jpeg_damage`)
  against Pillow's own decode of the same bytes, on the Kermany test films
  (256 px) and on one of them enlarged to 2800 x 2000 (clinical size);
* the load-time model check (:func:`pneumo.model.binding.check_model_file`:
  sha256 and card binding) of each shipped ``.tflite``;
* walking a folder 1,000 levels deep and a flat folder of 2,000 files.

Prints a Markdown table of medians and 90th percentiles in milliseconds.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _times(func: Callable[[], object], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        func()
        samples.append((time.perf_counter() - t0) * 1000.0)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.9 * len(samples)))]


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print the table."""
    from PIL import Image

    from pneumo.films.damage import jpeg_damage
    from pneumo.model.binding import check_model_file
    from pneumo.model.card import CARD_FILENAME, ModelCard
    from pneumo.scanning.walk import iter_inputs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/chest_xray")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    rows: list[tuple[str, float, float]] = []
    films = sorted((args.data / "test").glob("*/*.jpeg"))[:100]
    if not films:
        films = sorted((REPO / "assets" / "samples").glob("*.jpeg"))
    blobs = [f.read_bytes() for f in films]

    def each(func: Callable[[bytes], object]) -> Callable[[], object]:
        return lambda: [func(b) for b in blobs]

    n = len(blobs)
    for name, func in (("damage check", jpeg_damage),
                       ("Pillow decode", lambda b: Image.open(io.BytesIO(b)).load())):
        med, p90 = _times(each(func), max(3, args.runs // 5))
        rows.append((f"{name}, {n} films of 256 px (per film)", med / n, p90 / n))
    big = io.BytesIO()
    Image.open(films[0]).convert("L").resize((2800, 2000)).save(big, "JPEG", quality=95)
    data = big.getvalue()
    rows.append(("damage check, 2800 x 2000 film", *_times(lambda: jpeg_damage(data), args.runs)))
    rows.append(("Pillow decode, 2800 x 2000 film",
                 *_times(lambda: Image.open(io.BytesIO(data)).load(), args.runs)))
    card = ModelCard.load(REPO / "assets" / CARD_FILENAME)
    for model in sorted((REPO / "assets").glob("*.tflite")):
        def check(path: Path = model, content: bytes = model.read_bytes()) -> None:
            check_model_file(path, content, card)

        rows.append((f"model check (sha256 + binding), {model.name}", *_times(check, args.runs)))
    with tempfile.TemporaryDirectory() as tmp:
        deep = Path(tmp) / "deep"
        deep.mkdir()
        for _ in range(1000):
            deep = deep / "d"
            deep.mkdir()
        (deep / "film.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        flat = Path(tmp) / "flat"
        flat.mkdir()
        for i in range(2000):
            (flat / f"f{i:04d}.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        rows.append(("walk, 1,000 folders deep",
                     *_times(lambda: list(iter_inputs([Path(tmp) / "deep"])), 5)))
        rows.append(("walk, 2,000 files in one folder", *_times(lambda: list(iter_inputs([flat])),
                                                                 5)))
        d = Path(tmp) / "deep"  # shutil.rmtree recurses per level: remove bottom-up
        chain = [d]
        while (chain[-1] / "d").is_dir():
            chain.append(chain[-1] / "d")
        (chain[-1] / "film.png").unlink()
        for folder in reversed(chain):
            folder.rmdir()
    print("| step | median ms | p90 ms |\n|---|---:|---:|")
    for name, med, p90 in rows:
        print(f"| {name} | {med:.2f} | {p90:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
