"""Scan speed on clinical-size DICOM, per transfer syntax, against a minimal reference.

Generates full-size CR/DX-like files (real test films upscaled to 2,500-3,000
px; 12-bit windowed and 16-bit full-range uncompressed, RLE, JPEG 2000,
JPEG-LS, JPEG lossless and 12-bit JPEG Extended, optionally with
detector-like noise) and prints, per syntax, in one run:

- files/s of ``pneumo scan`` (:func:`pneumo.scanning.pipeline.scan` with the
  shipped models: decoding workers, preprocessing, int8 classification and
  the float model's out-of-distribution score), with the pool already started;
- files/s of the minimal reference: pydicom decode + ``cv2.resize``
  (``INTER_AREA``) to 224 px, nothing else, one thread, same decoders;
- their ratio (scan cost per file over the reference's);
- the CPU milliseconds per file of both (the scan's summed over the scanning
  process and its workers), which other work on the machine disturbs far
  less than files/s, and their ratio;
- the same scan with decoding threads instead of processes (``--threads``).

Then one uncompressed file end to end in one thread (decode, preprocess,
classify, out-of-distribution score), and the peak memory (scanning process
plus workers, each one's peak added up) of a scan of 200 and 1,000 files.

    python bench/bench_scan.py [--data ../shared/data/chest_xray] [--files 16]
        [--noise 0] [--threads] [--rss 200,1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from bench_decoders import clinical_film, twelve_bit


def syntaxes() -> dict[str, Any]:
    """Syntax label -> (pydicom UID or None for native, bits)."""
    from pydicom import uid

    return {
        "uncompressed 12-bit": (None, 12),
        "uncompressed 16-bit": (None, 16),
        "RLE": (uid.RLELossless, 12),
        "JPEG lossless": (uid.JPEGLosslessSV1, 12),
        "JPEG-LS": (uid.JPEGLSLossless, 12),
        "JPEG 2000": (uid.JPEG2000Lossless, 12),
        "HTJ2K": (uid.HTJ2KLossless, 12),
        "JPEG Extended 12-bit": (uid.JPEGExtended12Bit, 12),
    }


def write_films(data: Path, out: Path, files: int, noise: float) -> dict[str, list[Path]]:
    """``files`` DICOM files per syntax, each from a different real film."""
    import synth

    folders: dict[str, list[Path]] = {}
    sources = [clinical_film(data, 2500 + 250 * (i % 3), i) for i in range(files)]
    for label, (syntax, bits) in syntaxes().items():
        folder = out / label.replace(" ", "_")
        folder.mkdir()
        paths = []
        for i, film8 in enumerate(sources):
            stored = twelve_bit(film8, noise, seed=i)
            if bits == 16:
                stored = np.clip(stored.astype(np.int64) * 16 + 8, 0, 65535).astype(np.uint16)
                ds = synth.dicom_dataset(stored, 16, WindowCenter=32768.0, WindowWidth=65536.0)
            else:
                ds = synth.dicom_dataset(stored, 12, RescaleSlope=0.5, RescaleIntercept=-1024,
                                         WindowCenter=0.0, WindowWidth=2048.0)
            if syntax is not None:
                synth.encode_dataset(ds, syntax)
            paths.append(synth.save(ds, folder / f"film_{i:03d}.dcm"))
        folders[label] = paths
    return folders


class ThreadPool:
    """Decoding on threads, for comparison (no isolation): the pool interface of scan()."""

    def __init__(self, workers: int) -> None:
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="bench-decode")

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        from pneumo.scanning.pool import Outcome

        def run() -> Outcome:
            return Outcome(function(*args))

        return self._executor.submit(run)

    def close(self) -> None:
        self._executor.shutdown()


def measure(fn: Callable[[], int], pool: Any = None) -> tuple[float, float]:
    """(files/s, CPU ms per file) of ``fn``, counting ``pool``'s worker processes too."""
    pids = pool.pids() if hasattr(pool, "pids") else []
    cpu0, workers0 = time.process_time(), _cpu_seconds(pids)
    t0 = time.perf_counter()
    count = fn()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0 + _cpu_seconds(pids) - workers0
    return count / wall, 1000 * cpu / count


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def reference(paths: list[Path]) -> int:
    """pydicom decode + resize to 224 px, one thread: the least a scan must do."""
    import cv2
    from pydicom.pixels import pixel_array

    for path in paths:
        cv2.resize(pixel_array(path), (224, 224), interpolation=cv2.INTER_AREA)
    return len(paths)


def scan_all(paths: list[Path], runner: Any, pool: Any) -> int:
    from pneumo.scanning.pipeline import scan

    records = list(scan(paths, runner, pool=pool))
    bad = [r.error for r in records if r.error]
    if bad:
        raise SystemExit(f"scan failed: {bad[:3]}")
    return len(records)


def end_to_end_ms(path: Path, runner: Any, runs: int = 9) -> float:
    """One file in one thread: decode, preprocess, classify, out-of-distribution and
    population scores."""
    from pneumo.checks.model_checks import ModelChecks, check_film
    from pneumo.films.imaging import load_image
    from pneumo.model.preprocess import preprocess

    checks = ModelChecks.for_runner(runner)
    spec = runner.card.preprocessing
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        image = load_image(path)
        x = preprocess(image, spec)
        runner.predict(x)
        check_film(checks, x, image.metadata)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def peak_rss(paths: list[Path], count: int, folder: Path) -> dict[str, float]:
    """Peak memory of scanning ``count`` files (copies of ``paths``) in a fresh process.

    Copies, not hard links: the scan's walk takes a file reached twice (same inode)
    once, so a folder of links would scan only ``len(paths)`` files.
    """
    links = folder / f"rss_{count}"
    links.mkdir()
    for i in range(count):
        shutil.copyfile(paths[i % len(paths)], links / f"f{i:05d}.dcm")
    out = folder / f"rss_{count}.json"
    code = "import sys; from bench_scan import rss_child; rss_child(sys.argv[1], sys.argv[2])"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "bench")])}
    subprocess.run([sys.executable, "-c", code, str(links), str(out)], check=True, env=env,
                   cwd=REPO_ROOT)
    result: dict[str, float] = json.loads(out.read_text())
    shutil.rmtree(links)
    if result["files"] != count:
        raise SystemExit(f"the memory run scanned {result['files']:.0f} files, not {count}")
    return result


def rss_child(folder: str, out: str) -> None:
    """Scan ``folder`` with the shipped model; write peak memory (MiB) as JSON."""
    from pneumo.model.locate import default_model_path
    from pneumo.model.runner import ModelRunner
    from pneumo.scanning.pipeline import scan
    from pneumo.scanning.pool import shared_pool

    runner = ModelRunner(default_model_path())
    t0 = time.perf_counter()
    records = sum(1 for _ in scan([Path(folder)], runner))
    seconds = time.perf_counter() - t0
    workers = [_hwm(pid) for pid in shared_pool().pids()]
    parent = _hwm("self")
    Path(out).write_text(json.dumps({"files": records, "seconds": seconds, "parent": parent,
                                     "workers": sum(workers), "total": parent + sum(workers)}))


def _hwm(pid: int | str) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> int:
    """Generate the films, run every measurement, print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared/data/chest_xray")
    parser.add_argument("--files", type=int, default=16, help="files per syntax")
    parser.add_argument("--noise", type=float, default=0.0, help="noise, 12-bit levels")
    parser.add_argument("--threads", action="store_true", help="also time decoding threads")
    parser.add_argument("--rss", default="200,1000", help="file counts for peak memory")
    args = parser.parse_args(argv)
    if not (args.data / "test" / "NORMAL").is_dir():
        print(f"no test films under {args.data}", file=sys.stderr)
        return 2
    from pneumo.films.codecs import configure_pydicom
    from pneumo.model.locate import default_model_path
    from pneumo.model.runner import ModelRunner
    from pneumo.scanning.pool import shared_pool

    configure_pydicom()
    runner = ModelRunner(default_model_path())
    pool = shared_pool(2)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        folders = write_films(args.data, Path(tmp), args.files, args.noise)
        first = folders["uncompressed 12-bit"][0]
        sizes = sorted({2500 + 250 * (i % 3) for i in range(args.files)})
        print(f"{args.files} files per syntax, {sizes[0]}-{sizes[-1]} px long side, noise "
              f"{args.noise:g} levels (made in {time.perf_counter() - t0:.0f} s); 2 decoding "
              f"processes; CPU load at start {os.getloadavg()[0]:.1f}\n")
        scan_all(folders["RLE"][:4], runner, pool)  # start the workers
        head = ("| syntax | MB/file | scan files/s | reference files/s | ratio | "
                "scan CPU ms/file | reference CPU ms/file | CPU ratio |")
        rule = "|---|---:|---:|---:|---:|---:|---:|---:|"
        if args.threads:
            head, rule = head + " threads files/s |", rule + "---:|"
        print(head + "\n" + rule)
        for label, paths in folders.items():
            mb = statistics.mean(p.stat().st_size for p in paths) / 1e6
            scan_fps, scan_cpu = measure(lambda: scan_all(paths, runner, pool), pool)  # noqa: B023
            ref_fps, ref_cpu = measure(lambda: reference(paths))  # noqa: B023
            row = (f"| {label} | {mb:.1f} | {scan_fps:.1f} | {ref_fps:.1f} | "
                   f"{ref_fps / scan_fps:.2f} | {scan_cpu:.0f} | {ref_cpu:.0f} | "
                   f"{scan_cpu / ref_cpu:.2f} |")
            if args.threads:
                threads = ThreadPool(2)
                fps, _ = measure(lambda: scan_all(paths, runner, threads))  # noqa: B023
                row += f" {fps:.1f} |"
                threads.close()
            print(row, flush=True)
        print(f"\none uncompressed 12-bit file end to end (decode, preprocess, classify, "
              f"out-of-distribution score), one thread: {end_to_end_ms(first, runner):.1f} ms "
              "median")
        counts = [int(c) for c in args.rss.split(",") if c]
        if counts:
            print("\n| files scanned | files/s | peak RSS scanner MiB | workers MiB | total MiB |"
                  "\n|---:|---:|---:|---:|---:|")
        for count in counts:
            r = peak_rss(folders["uncompressed 12-bit"], count, Path(tmp))
            print(f"| {count} | {r['files'] / r['seconds']:.1f} | {r['parent']:.0f} | "
                  f"{r['workers']:.0f} | {r['total']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
