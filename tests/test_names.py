"""Hostile file names: any bytes survive into every output, escaped, on one line."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from pneumo.results.export import write_csv, write_json
from pneumo.results.records import ScanRecord, format_record
from pneumo.util.text import display_path, escape_text, unescape_path

NON_UTF8 = os.fsdecode(b"bad_\xff.png")  # what os.listdir gives for those bytes
NAMES = [NON_UTF8, "line\nbreak.png", "trailing space.png ", "cr\rand\ttab.png",
         "back\\slash.png", "bidi\u202eevil.png", "nel\u0085.png", "ok_é_日本.png"]


def test_display_path_is_one_printable_line_and_reversible() -> None:
    for name in NAMES:
        shown = display_path(Path("/data") / name)
        assert shown.isprintable() or shown.endswith(" ")  # a trailing space stays
        assert "\n" not in shown and "\r" not in shown
        shown.encode("utf-8")  # no lone surrogate left
        assert unescape_path(shown) == str(Path("/data") / name)
    assert display_path(NON_UTF8) == "bad_\\xff.png"
    assert display_path("line\nbreak.png") == "line\\x0abreak.png"
    assert display_path("back\\slash.png") == "back\\\\slash.png"  # so the escape can be undone
    assert display_path("nel\u0085.png") == "nel\\u0085.png"  # not confused with the byte 85
    assert display_path("ok_é_日本.png") == "ok_é_日本.png"  # letters of any script unchanged
    assert escape_text("a\\b\nc") == "a\\b\\x0ac"  # other text keeps its backslashes


def _records(root: Path) -> list[ScanRecord]:
    return [ScanRecord(path=root / name, label="NORMAL", probability=0.25,
                       warnings=("multi\nline warning",)) for name in NAMES] + [
        ScanRecord(path=root / "x.dcm", error="bad\x00file", study_description="CHEST\nPA",
                   patient_name=NON_UTF8)]


def test_json_and_csv_exports_take_any_name(tmp_path: Path) -> None:
    records = _records(tmp_path)
    write_json(records, tmp_path / "out.json", include_identifiers=True)
    write_csv(records, tmp_path / "out.csv", include_identifiers=True)
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert [unescape_path(d["path"]) for d in data] == [str(r.path) for r in records]
    assert data[0]["path"].endswith("bad_\\xff.png")
    assert data[0]["warnings"] == ["multi\\x0aline warning"]
    assert data[-1]["study_description"] == "CHEST\\x0aPA" and data[-1]["error"] == "bad\\x00file"
    text = (tmp_path / "out.csv").read_text(encoding="utf-8")
    assert len(text.splitlines()) == len(records) + 1  # header + one physical line per record
    rows = list(csv.DictReader(text.splitlines()))
    assert [unescape_path(r["path"]) for r in rows] == [str(r.path) for r in records]


def test_one_line_output_cannot_be_split() -> None:
    for record in _records(Path("/d")):
        line = format_record(record)
        assert "\n" not in line and "\r" not in line
        line.encode("utf-8")


def test_cli_exports_a_non_utf8_name(tmp_path: Path, float_model: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from pneumo.cli import main
    from tests.test_desktop_support import film, write_png

    src = tmp_path / "src"
    for name in (NON_UTF8, "line\nbreak.png"):
        write_png(src / name, film(0, False))
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    rc = main(["scan", str(src), "--model", str(float_model), "--json", str(out_json),
               "--csv", str(out_csv)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 3  # two records and the summary, the newline name escaped
    assert any(line.endswith("bad_\\xff.png") for line in lines)
    assert any(line.endswith("line\\x0abreak.png") for line in lines)
    paths = {d["path"] for d in json.loads(out_json.read_text(encoding="utf-8"))}
    assert paths == {display_path(src / NON_UTF8), display_path(src / "line\nbreak.png")}
    assert len(out_csv.read_text(encoding="utf-8").splitlines()) == 3
