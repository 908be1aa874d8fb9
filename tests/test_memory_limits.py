"""Memory bombs are refused from their declared sizes, and a scan of them stays small.

Each bomb is a few megabytes on disk and declares (or inflates to) gigabytes:
a deflated DICOM with a 1 GiB private element, DICOM Rows/Columns of 60,000,
a 7,000 x 7,000 DICOM whose pixel data is a few kilobytes, PNGs of 10,000 x
10,000 and 7,000 x 7,000 RGB pixels. Each must be refused with a message
naming the file and the limit, before anything large is allocated; the peak
memory of ``pneumo scan`` over all of them (the scanning process and its
decoding workers together) must stay under 1 GiB.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from pneumo.errors import ImageError, UnreadableFileError, UnsupportedImageError
from pneumo.films import limits
from pneumo.films.imaging import load_image
from tests import crafted, synth
from tests.subproc import run_python

GiB = 1024**3
MAX_SCAN_RSS = 1 * GiB


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bombs")
    return {
        "deflated": crafted.deflated_bomb(root / "deflated.dcm", 1 * GiB),
        "rows_columns": crafted.huge_rows_columns(root / "rows_columns.dcm"),
        "short_pixels": crafted.huge_rows_columns(root / "short_pixels.dcm", 7000, 7000),
        "png_10k": crafted.huge_png(root / "png_10k.png", 10_000),
        "png_7k": crafted.huge_png(root / "png_7k.png", 7_000),
        "good": synth.write_dicom_windowed(synth.film(), root / "good.dcm"),
    }


@pytest.mark.parametrize(("name", "kind", "message"), [
    ("deflated", UnreadableFileError, "deflated data set inflates to more than the 128 MiB limit"),
    ("rows_columns", UnsupportedImageError, "image too large (60000 x 60000)"),
    ("short_pixels", UnreadableFileError, "pixel data is truncated (163,840 of 98,000,000 bytes)"),
    ("png_10k", UnsupportedImageError, "image too large (more than 50,000,000 pixels)"),
    ("png_7k", UnsupportedImageError,
     "too large to decode: needs about 888 MiB of memory, the limit is 512 MiB"),
])
def test_bomb_is_refused_with_a_message(
    bombs: dict[str, Path], name: str, kind: type[ImageError], message: str
) -> None:
    with pytest.raises(kind) as info:
        load_image(bombs[name])
    assert str(info.value) == f"{bombs[name]}: {message}"


def test_huge_element_in_a_header_is_never_read(tmp_path: Path) -> None:
    """A private element declaring 900 MB in a small file is dropped unread."""
    ds = synth.windowed_dataset(synth.film())
    block = ds.private_block(0x0009, "PNEUMO BIG", create=True)
    block.add_new(0x00, "OB", bytes(2 * 1024 * 1024))  # over MAX_ELEMENT_BYTES
    path = synth.save(ds, tmp_path / "big_element.dcm")
    image = load_image(path)
    assert image.pixels.shape == synth.film().shape


def test_decode_over_the_memory_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = synth.write_dicom_windowed(synth.film(), tmp_path / "film.dcm")
    monkeypatch.setattr(limits, "MAX_DECODE_BYTES", 100_000)
    with pytest.raises(UnsupportedImageError, match=r"film.dcm: too large to decode: needs about"):
        load_image(path)


def test_file_over_the_size_limit_is_refused_from_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = synth.write_png(synth.film(), tmp_path / "film.png")
    monkeypatch.setattr(limits, "MAX_RASTER_BYTES", 1000)
    with pytest.raises(UnsupportedImageError, match=r"film.png: file too large"):
        load_image(path)


def test_scanning_the_bombs_stays_under_a_gigabyte(
    bombs: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    for path in bombs.values():
        shutil.copyfile(path, folder / path.name)
    out = tmp_path / "result.json"
    code = ("import sys; from tests.test_memory_limits import child_main; "
            "child_main(sys.argv[1], sys.argv[2])")
    proc = run_python("-c", code, str(folder), str(out), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["exit"] == 1  # some files could not be classified
    records = {Path(r["path"]).name: r for r in result["records"]}
    assert records["good.dcm"]["error"] is None and records["good.dcm"]["label"]
    for name in ("deflated.dcm", "rows_columns.dcm", "short_pixels.dcm", "png_10k.png",
                 "png_7k.png"):
        assert records[name]["error"], name
    print(f"peak RSS of the scan: {result['peak_rss'] / 2**20:.0f} MiB "
          f"(scanner {result['parent_rss'] / 2**20:.0f} MiB + workers)", file=sys.stderr)
    assert result["peak_rss"] < MAX_SCAN_RSS


def child_main(folder: str, result_path: str) -> None:
    """``pneumo scan FOLDER --json FILE`` in this process; write its peak memory as JSON."""
    import contextlib
    import io

    from pneumo.cli import main
    from pneumo.scanning.pool import shared_pool

    records_path = Path(result_path).with_suffix(".records.json")
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["scan", folder, "--json", str(records_path)])
    pool = shared_pool()
    workers = sum(_peak_rss(pid) for pid in pool.pids())
    parent = _peak_rss("self")
    Path(result_path).write_text(json.dumps({
        "exit": code,
        "records": json.loads(records_path.read_text()),
        "parent_rss": parent,
        "peak_rss": parent + workers,
    }))


def _peak_rss(pid: int | str) -> int:
    """VmHWM (peak resident set) of a process, in bytes."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def test_reading_only_the_header_of_a_bomb_is_bounded_too(bombs: dict[str, Path]) -> None:
    """The result store reads patient identifiers from headers in the scanning process."""
    from pneumo.films.dicom import read_dicom_header

    with pytest.raises(UnreadableFileError, match="inflates to more than the 128 MiB limit"):
        read_dicom_header(bombs["deflated"])
    assert str(read_dicom_header(bombs["good"]).PatientID) == "SYN-0042"
