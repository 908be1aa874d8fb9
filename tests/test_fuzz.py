"""Fuzz the input layer with a generated corpus of broken PNG, JPEG and DICOM files.

The corpus (deterministic seed, over 1,000 files) is mutated from small valid
files: truncated at random points, random bit flips (anywhere or in the
header), garbled headers, swapped magic numbers, inserted/duplicated blocks,
huge declared sizes (PNG IHDR 50,000 x 50,000 with a valid CRC, a JPEG SOF of
65,000 x 65,000, DICOM Rows/Columns 60,000), zero-length files and random
bytes named ``.dcm``/``.png``/``.jpg``; and issue 14's classes: formats outside
the allow-list named ``.png`` (EPS, WEBP, ICO, DDS, QOI, GIF, PNM, FITS) and
mutants of them, JPEGs cut short and closed with an end marker (must carry the
damage warning), and valid films under hostile names (bytes that are not
UTF-8, a newline, control and bidirectional characters, a trailing space),
which the scan's JSON and CSV exports must take, escaped, one line each.

Every file goes through :func:`pneumo.films.imaging.load_image` in a child
process, which must raise nothing but :class:`~pneumo.errors.ImageError`
subclasses (or succeed). The child arms :func:`faulthandler.dump_traceback_later`
before each file, so a file that takes more than :data:`PER_FILE_LIMIT_S`
kills it (even inside C code) and the test names that file; its address space
is capped (``RLIMIT_AS``) and its peak RSS growth must stay under
:data:`MAX_RSS_GROWTH`. The child then scans the whole corpus folder with
:func:`pneumo.scanning.pipeline.scan` and a stub runner: one record per file, no exception.

The figures (file count, crashes, hangs, slowest file, memory) are shown in
pytest's terminal summary, so CI's default output shows them.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.crafted import png_chunk

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED = 20261201
MUTANTS_PER_BASE = 75
PER_FILE_LIMIT_S = 5.0
SCAN_LIMIT_S = 90.0
MAX_RSS_GROWTH = 1536 * 1024 * 1024  # bytes
ADDRESS_SPACE_HEADROOM = 3 * 1024 * 1024 * 1024  # bytes above the child's start-up size
MIN_CORPUS = 1000

_MAGICS = {
    "png": b"\x89PNG\r\n\x1a\n",
    "jpeg": b"\xff\xd8\xff\xe0",
    "dicm": b"\x00" * 128 + b"DICM",
    "gif": b"GIF89a",
    "tiff": b"II*\x00",
    "bmp": b"BM",
}


# -- corpus -------------------------------------------------------------------
def _base_files(work: Path) -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, extension) of small valid source files."""
    import io

    import numpy as np
    from PIL import Image

    from tests import synth

    work.mkdir(parents=True, exist_ok=True)
    arr = synth.film((144, 136), seed=3)  # just above the gate's 128 px minimum
    out: dict[str, tuple[bytes, str]] = {}

    def pil(name: str, img: Image.Image, fmt: str, ext: str, **kw: Any) -> None:
        buf = io.BytesIO()
        img.save(buf, format=fmt, **kw)
        out[name] = (buf.getvalue(), ext)

    pil("png8", Image.fromarray(arr), "PNG", ".png")
    pil("png16", Image.fromarray(arr.astype(np.uint16) * 257), "PNG", ".png")
    pil("pngrgb", Image.fromarray(arr).convert("RGB"), "PNG", ".png")
    pil("pngpal", Image.fromarray(arr).convert("P"), "PNG", ".png")
    pil("jpeg", Image.fromarray(arr), "JPEG", ".jpg", quality=90)
    pil("jpegprog", Image.fromarray(arr).convert("RGB"), "JPEG", ".jpeg", progressive=True)
    writers = {
        "dcm_window": synth.write_dicom_windowed,
        "dcm_mono1": synth.write_dicom_mono1,
        "dcm_plain16": synth.write_dicom_plain16,
        "dcm_voilut": synth.write_dicom_voi_lut,
        "dcm_rle": synth.write_dicom_rle,
        "dcm_bare": synth.write_dicom_no_preamble,
        "dcm_frames": synth.write_dicom_multiframe,
    }
    for name, write in writers.items():
        path = write(arr, work / f"{name}.dcm")
        out[name] = (path.read_bytes(), ".dcm")
    rgb = np.stack([arr, arr, 255 - arr], axis=-1)
    out["dcm_rgb"] = (synth.write_dicom_rgb(rgb, work / "rgb.dcm").read_bytes(), ".dcm")
    return out


@contextlib.contextmanager
def _fixed_uids() -> Iterator[None]:
    """Make the DICOM writers' UIDs a fixed sequence, so the corpus is reproducible.

    The originals are put back afterwards (other tests want unique UIDs).
    """
    import itertools

    import pydicom.pixels.utils as pixel_utils

    from tests import synth

    counter = itertools.count(1)

    def fixed(*_args: Any, **_kwargs: Any) -> Any:
        from pydicom.uid import UID

        return UID(f"1.2.826.0.1.3680043.10.1234.{next(counter)}")

    saved = synth.generate_uid, pixel_utils.generate_uid
    synth.generate_uid = fixed
    pixel_utils.generate_uid = fixed
    try:
        yield
    finally:
        synth.generate_uid, pixel_utils.generate_uid = saved


def _mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One random mutation of ``data``: (kind, mutated bytes)."""
    kind = rng.choice(
        ["truncate", "truncate", "bitflip", "bitflip", "headflip", "garble", "magic",
         "insert", "duplicate", "zero_run", "tail_garbage"]
    )
    b = bytearray(data)
    n = len(b)
    if kind == "truncate":
        return kind, bytes(b[: rng.randrange(1, n)])
    if kind in ("bitflip", "headflip"):
        span = n if kind == "bitflip" else min(n, 400)
        for _ in range(rng.choice([1, 2, 4, 16, 64])):
            i = rng.randrange(span)
            b[i] ^= 1 << rng.randrange(8)
        return kind, bytes(b)
    if kind == "garble":
        start = rng.randrange(0, min(n, 200))
        length = rng.randrange(1, 64)
        b[start : start + length] = rng.randbytes(length)
        return kind, bytes(b)
    if kind == "magic":
        magic = _MAGICS[rng.choice(sorted(_MAGICS))]
        return kind, magic + bytes(b[len(magic) :])
    if kind == "insert":
        i = rng.randrange(n)
        return kind, bytes(b[:i] + rng.randbytes(rng.randrange(1, 512)) + b[i:])
    if kind == "duplicate":
        i = rng.randrange(n)
        j = min(n, i + rng.randrange(1, 1024))
        return kind, bytes(b[:j] + b[i:j] * rng.randrange(1, 4) + b[j:])
    if kind == "zero_run":
        i = rng.randrange(n)
        length = rng.randrange(1, 256)
        b[i : i + length] = bytes(min(length, n - i))
        return kind, bytes(b)
    return kind, bytes(b) + rng.randbytes(rng.randrange(1, 2048))


def _png_declaring(width: int, height: int, bit_depth: int = 8, colour: int = 0) -> bytes:
    """A PNG whose IHDR (valid CRC) declares ``width`` x ``height``; tiny IDAT, IEND."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (_MAGICS["png"] + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def _jpeg_declaring(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with its SOF0/SOF2 frame size rewritten."""
    b = bytearray(jpeg)
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        i = b.find(marker)
        if i >= 0:
            b[i + 5 : i + 9] = struct.pack(">HH", height, width)
    return bytes(b)


def _dicom_declaring(work: Path, rows: int, cols: int, name: str) -> bytes:
    from tests import synth

    ds = synth.windowed_dataset(synth.film((16, 16), seed=1))
    ds.Rows, ds.Columns = rows, cols
    return synth.save(ds, work / name).read_bytes()


def _special_files(work: Path, bases: dict[str, tuple[bytes, str]],
                   rng: random.Random) -> dict[str, bytes]:
    """Hand-made nasties: huge declared sizes, empty and random files."""
    jpeg = bases["jpeg"][0]
    files = {
        "huge_png_50000x50000.png": _png_declaring(50_000, 50_000),
        "huge_png16_50000x50000.png": _png_declaring(50_000, 50_000, 16, 0),
        "huge_png_12000x9000_bomb_warning.png": _png_declaring(12_000, 9_000),
        "huge_png_10000x10000_at_limit.png": _png_declaring(10_000, 10_000),
        "huge_png_rgba_1x2000000000.png": _png_declaring(1, 2_000_000_000, 8, 6),
        "huge_png_zero_width.png": _png_declaring(0, 100),
        "huge_jpeg_65000x65000.jpg": _jpeg_declaring(jpeg, 65_000, 65_000),
        "huge_jpeg_0x0.jpg": _jpeg_declaring(jpeg, 0, 0),
        "huge_jpeg_10000x9999.jpg": _jpeg_declaring(jpeg, 10_000, 9_999),
        "huge_dicom_60000x60000.dcm": _dicom_declaring(work, 60_000, 60_000, "h1.dcm"),
        "huge_dicom_10000x10000_short_data.dcm": _dicom_declaring(work, 10_000, 10_000,
                                                                   "h2.dcm"),
        "huge_dicom_1x65535.dcm": _dicom_declaring(work, 1, 65_535, "h3.dcm"),
        "zero_rows_dicom.dcm": _dicom_declaring(work, 0, 16, "h4.dcm"),
        "empty.png": b"",
        "empty.jpg": b"",
        "empty.dcm": b"",
        "one_byte.png": b"\x89",
        "only_png_magic.png": _MAGICS["png"],
        "only_jpeg_soi.jpg": b"\xff\xd8",
        "only_dicm_preamble.dcm": _MAGICS["dicm"],
        "dicm_then_garbage.dcm": _MAGICS["dicm"] + rng.randbytes(3000),
        "bare_dicom_group8_garbage.dcm": b"\x08\x00\x05\x00CS" + rng.randbytes(500),
    }
    for i in range(30):
        ext = (".dcm", ".png", ".jpg")[i % 3]
        files[f"random_{i:02d}{ext}"] = rng.randbytes(rng.choice([1, 7, 131, 132, 900, 5000]))
    return files


OTHER_PREFIX, CUT_PREFIX, NAME_PREFIX = "other_", "jpeg_cut_closed_", "name_"
_HOSTILE_NAMES = (b"\xff\xfe.png", b"new\nline.png", b"tab\tesc\x1b.png", b"trailing.png ",
                  b"bidi\xe2\x80\xaeevil.png", b"nel\xc2\x85.png", b"back\\slash.png")


def _hostile_files(bases: dict[str, tuple[bytes, str]], rng: random.Random) -> dict[str, bytes]:
    """Issue 14's classes: other formats named .png (and mutants), JPEGs cut short and
    closed, valid films under hostile names."""
    from tests import synth
    from tests.hostile import _other_formats

    files: dict[str, bytes] = {}
    for kind, data in sorted(_other_formats(synth.film((144, 136), seed=3)).items()):
        files[f"{OTHER_PREFIX}{kind}.png"] = data
        for i in range(4):
            mutation, mutated = _mutate(data, rng)
            if mutation != "magic":  # a new magic number is another class
                files[f"{OTHER_PREFIX}{kind}_{i}_{mutation}.png"] = mutated
    jpeg = bases["jpeg"][0]
    start = jpeg.find(b"\xff\xda") + 20
    for i in range(12):
        files[f"{CUT_PREFIX}{i:02d}.jpg"] = jpeg[: rng.randrange(start, len(jpeg) - 64)] \
            + b"\xff\xd9"
    png = bases["png8"][0]
    for raw in _HOSTILE_NAMES:
        files[NAME_PREFIX + os.fsdecode(raw)] = png
    return files


def build_corpus(root: Path, seed: int = SEED) -> list[Path]:
    """Write the fuzz corpus into ``root/corpus``; returns its files (sorted)."""
    rng = random.Random(seed)
    with _fixed_uids():
        bases = _base_files(root / "bases")
        specials = _special_files(root / "bases", bases, rng)
        specials.update(_hostile_files(bases, rng))
    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, (data, ext) in sorted(bases.items()):
        for i in range(MUTANTS_PER_BASE):
            kind, mutated = _mutate(data, rng)
            (corpus / f"{name}_{i:03d}_{kind}{ext}").write_bytes(mutated)
    for name, data in specials.items():
        (corpus / name).write_bytes(data)
    return sorted(corpus.iterdir())


# -- child process --------------------------------------------------------------
class _StubRunner:
    """What :func:`pneumo.scanning.pipeline.scan` needs of a runner, without a model."""

    def __init__(self) -> None:
        from pneumo.model.card import ModelCard
        from pneumo.model.preprocess import Preprocessing

        self.card = ModelCard(name="stub", architecture="stub",
                              preprocessing=Preprocessing(input_size=64), threshold=0.5)
        self.threshold = 0.5
        self.calls = 0

    def predict(self, model_input: Any) -> float:
        self.calls += 1
        return 0.25


def _vm_size() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def child_main(corpus: str, result_path: str) -> None:
    """Load every corpus file, then scan the folder; write figures as JSON."""
    import faulthandler
    import resource
    import time

    import pydicom  # noqa: F401 - imported before measuring, as the loader would

    from pneumo.errors import ImageError
    from pneumo.films.damage import DAMAGED
    from pneumo.films.imaging import load_image
    from pneumo.scanning.pipeline import scan

    faulthandler.enable()
    baseline_vm = _vm_size()
    if baseline_vm:
        limit = baseline_vm + ADDRESS_SPACE_HEADROOM
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    files = sorted(Path(corpus).iterdir())
    crashes: list[str] = []
    outcomes = {"ok": 0, "refused": 0}
    classes = {"other_formats": 0, "other_refused_by_allow_list": 0, "other_originals": 0,
               "other_originals_refused": 0, "cut_closed": 0, "cut_closed_warned": 0,
               "damage_warnings": 0}
    slowest = (0.0, "")
    for path in files:
        print(f"START {path.name!a}", flush=True)
        faulthandler.dump_traceback_later(PER_FILE_LIMIT_S, exit=True)
        t0 = time.perf_counter()
        other, cut = path.name.startswith(OTHER_PREFIX), path.name.startswith(CUT_PREFIX)
        original = other and path.name.count("_") == 1
        classes["other_formats"] += other
        classes["other_originals"] += original
        classes["cut_closed"] += cut
        try:
            image = load_image(path)
            outcomes["ok"] += 1
            damaged = any(w.startswith(DAMAGED) for w in image.warnings)
            classes["damage_warnings"] += damaged
            classes["cut_closed_warned"] += cut and damaged
        except ImageError as exc:
            outcomes["refused"] += 1
            allow_list = "not an accepted image format" in exc.problem
            classes["other_refused_by_allow_list"] += other and allow_list
            classes["other_originals_refused"] += original and allow_list
            classes["cut_closed_warned"] += cut  # refused outright: nothing to warn about
        except BaseException as exc:  # noqa: BLE001 - exactly what the fuzzer hunts
            crashes.append(f"{path.name}: {type(exc).__name__}: {exc}"[:300])
        finally:
            faulthandler.cancel_dump_traceback_later()
        elapsed = time.perf_counter() - t0
        if elapsed > slowest[0]:
            slowest = (elapsed, path.name)
        print(f"END {path.name!a}", flush=True)
    rss_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print("START scan", flush=True)
    faulthandler.dump_traceback_later(SCAN_LIMIT_S, exit=True)
    t0 = time.perf_counter()
    runner = _StubRunner()
    scan_error = None
    records: list[Any] = []
    try:
        records = list(scan([corpus], runner, workers=2))  # type: ignore[arg-type]
    except BaseException as exc:  # noqa: BLE001
        scan_error = f"{type(exc).__name__}: {exc}"
    faulthandler.cancel_dump_traceback_later()
    scan_s = time.perf_counter() - t0
    print("END scan", flush=True)
    rss_end = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    exports = _export_check(records, Path(result_path).parent)
    result = {
        "files": len(files),
        "ok": outcomes["ok"],
        "refused": outcomes["refused"],
        "crashes": crashes,
        "slowest_s": slowest[0],
        "slowest_file": slowest[1],
        "rss_growth": max(rss_load, rss_end) - rss0,
        "scan_records": len(records),
        "scan_paths": sorted(ascii(Path(r.path).name) for r in records),
        "scan_classified": sum(1 for r in records if r.error is None),
        "scan_unexpected": [f"{Path(r.path).name}: {r.error}" for r in records
                            if r.error and r.error.startswith("unexpected error")],
        "scan_error": scan_error,
        "scan_s": scan_s,
        "predict_calls": runner.calls,
        "classes": classes,
        "exports": exports,
    }
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")


def _export_check(records: list[Any], folder: Path) -> dict[str, Any]:
    """Write the scan's records as JSON and CSV, read them back: paths escaped, one line each."""
    import csv

    from pneumo.results.export import write_csv, write_json
    from pneumo.util.text import display_path, unescape_path

    write_json(records, folder / "records.json")
    write_csv(records, folder / "records.csv")
    data = json.loads((folder / "records.json").read_text(encoding="utf-8"))
    lines = (folder / "records.csv").read_text(encoding="utf-8").splitlines()
    rows = list(csv.DictReader(lines))
    paths = [str(r.path) for r in records]
    return {
        "json_paths_round_trip": [unescape_path(d["path"]) for d in data] == paths,
        "csv_lines": len(lines) - 1,
        "csv_paths_round_trip": [unescape_path(r["path"]) for r in rows] == paths,
        "escaped_names": sum(display_path(p) != p for p in paths),
        "hostile_names": sum(Path(p).name.startswith(NAME_PREFIX) for p in paths),
    }


# -- the test ---------------------------------------------------------------------
class _Summary:
    """A pytest plugin, registered at run time, adding one line to the summary."""

    def __init__(self, line: str) -> None:
        self.line = line

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_sep("-", "input fuzzing")
        terminalreporter.write_line(self.line)


_PY_WARNING = re.compile(r"^\S+\.py:\d+: \w*Warning: ")
"""A Python warning printed the default way (source line, no file name of ours)."""
_OTHER_KINDS = ("dds", "eps", "fits", "gif", "ico", "ppm", "qoi", "webp")


def _report(request: pytest.FixtureRequest, line: str) -> None:
    manager = request.config.pluginmanager
    name = "pneumo-fuzz-summary"
    old = manager.get_plugin(name)
    if old is not None:
        manager.unregister(old)
    manager.register(_Summary(line), name)


def _culprit(stdout: str) -> str:
    """The file the child was working on when it died."""
    started = None
    for line in stdout.splitlines():
        if line.startswith("START "):
            started = line[6:]  # ascii() of the name
        elif line.startswith("END "):
            started = None
    return started or "(none)"


def test_fuzzed_inputs_only_raise_image_errors(
    tmp_path: Path, request: pytest.FixtureRequest, record_property: Any
) -> None:
    import time

    t0 = time.perf_counter()
    files = build_corpus(tmp_path)
    gen_s = time.perf_counter() - t0
    assert len(files) >= MIN_CORPUS
    kinds = {p.suffix for p in files}
    assert {".png", ".jpg", ".dcm"} <= kinds
    result_path = tmp_path / "result.json"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = "import sys; from tests.test_fuzz import child_main; child_main(sys.argv[1], sys.argv[2])"
    t1 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "corpus"), str(result_path)],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True,
            timeout=len(files) * PER_FILE_LIMIT_S + SCAN_LIMIT_S + 60, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        pytest.fail(f"fuzz child hung on {_culprit(out)}")
    run_s = time.perf_counter() - t1
    if proc.returncode != 0 or not result_path.is_file():
        pytest.fail(
            f"fuzz child died (rc {proc.returncode}) on {_culprit(proc.stdout)} "
            f"(over {PER_FILE_LIMIT_S:g} s, out of memory or a crash):\n{proc.stderr[-3000:]}"
        )
    res = json.loads(result_path.read_text(encoding="utf-8"))
    cls, exp = res["classes"], res["exports"]
    unnamed = [ln for ln in proc.stderr.splitlines() if _PY_WARNING.match(ln)]
    named = sum(ln.startswith("pneumo: warning: ") for ln in proc.stderr.splitlines())
    line = (
        f"fuzz corpus: {res['files']} files (seed {SEED}): {len(res['crashes'])} crashes, "
        f"0 hangs, {res['ok']} decoded, {res['refused']} refused with ImageError; "
        f"slowest {res['slowest_s']:.2f} s ({res['slowest_file']}); "
        f"peak RSS growth {res['rss_growth'] / 2**20:.0f} MiB; "
        f"scan: {res['scan_records']} records, {res['scan_classified']} classified, "
        f"{len(res['scan_unexpected'])} unexpected errors in {res['scan_s']:.1f} s; "
        f"generation {gen_s:.1f} s, child {run_s:.1f} s; "
        f"other formats: {cls['other_refused_by_allow_list']} of {cls['other_formats']} refused "
        f"by the allow-list ({cls['other_originals_refused']} of {cls['other_originals']} "
        f"unmutated); JPEGs cut and closed: {cls['cut_closed_warned']} of {cls['cut_closed']} "
        f"warned or refused; damage warnings {cls['damage_warnings']}; hostile names "
        f"{exp['hostile_names']} ({exp['escaped_names']} paths escaped) through JSON and CSV; "
        f"Python library warnings on stderr: {named} naming the file, {len(unnamed)} not"
    )
    for key in ("files", "ok", "refused", "slowest_s", "rss_growth", "scan_records"):
        record_property(f"fuzz_{key}", res[key])
    record_property("fuzz_crashes", len(res["crashes"]))
    _report(request, line)
    print(line)
    assert not res["crashes"], line + "\n" + "\n".join(res["crashes"][:20])
    assert res["slowest_s"] < PER_FILE_LIMIT_S, line
    assert res["rss_growth"] < MAX_RSS_GROWTH, line
    assert res["scan_error"] is None, f"{line}\nscan raised {res['scan_error']}"
    assert res["scan_records"] == res["files"], line
    assert res["scan_paths"] == sorted(ascii(p.name) for p in files), line
    assert not res["scan_unexpected"], line + "\n" + "\n".join(res["scan_unexpected"][:20])
    assert res["scan_classified"] == res["predict_calls"], line
    assert cls["other_originals"] == len(_OTHER_KINDS), line
    assert cls["other_originals_refused"] == cls["other_originals"], line
    assert cls["cut_closed"] > 0 and cls["cut_closed_warned"] == cls["cut_closed"], line
    assert exp["json_paths_round_trip"] and exp["csv_paths_round_trip"], line
    assert exp["csv_lines"] == res["scan_records"], line  # one physical line per record
    assert exp["hostile_names"] == len(_HOSTILE_NAMES), line
    assert exp["escaped_names"] == len(_HOSTILE_NAMES) - 1, line  # a trailing space stays
    assert not unnamed, line + "\n" + "\n".join(unnamed[:10])


def test_corpus_is_deterministic(tmp_path: Path) -> None:
    """Same seed, same corpus (names and bytes) - so a CI failure reproduces."""
    import hashlib

    def digest(root: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in build_corpus(root, seed=7)}

    first, second = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert first == second


def test_dicom_with_an_unknown_vr_is_an_image_error(tmp_path: Path) -> None:
    """Regression (found by the fuzzer): a bit flip in the VR of Rows made pydicom
    raise NotImplementedError ("Unknown Value Representation") out of load_image."""
    from pneumo.errors import ImageError
    from pneumo.films.imaging import load_image
    from tests import synth

    path = synth.write_dicom_windowed(synth.film((144, 136), seed=1), tmp_path / "ok.dcm")
    data = path.read_bytes()
    rows = b"\x28\x00\x10\x00US"
    assert data.count(rows) == 1
    broken = tmp_path / "bad_vr.dcm"
    broken.write_bytes(data.replace(rows, b"\x28\x00\x10\x00\x55\x5b"))
    with pytest.raises(ImageError, match="no image size"):
        load_image(broken)
    spoiled = tmp_path / "bad_vr_name.dcm"  # an identifying field: metadata just lacks it
    spoiled.write_bytes(data.replace(b"\x10\x00\x10\x00PN", b"\x10\x00\x10\x00\x55\x5b"))
    assert load_image(spoiled).metadata.patient_name is None
