"""Folder walking, the scan pipeline, the input gate and CSV/JSON export."""

from __future__ import annotations

import csv
import functools
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pneumo.scanning.walk as walk_module
from pneumo.checks.gate import check_input
from pneumo.films.imaging import ImageMetadata, LoadedImage
from pneumo.films.sniff import is_dicom_file
from pneumo.model.runner import ModelRunner
from pneumo.results.export import write_csv, write_json
from pneumo.results.records import ScanRecord, format_record, summarize
from pneumo.scanning.pipeline import scan
from pneumo.scanning.walk import InputProblem, iter_image_files, iter_inputs
from tests import decodejobs
from tests.tinymodel import SampleFolder, film

pytest.importorskip("tensorflow")


@pytest.fixture(scope="session")
def runner(float_model: Path) -> ModelRunner:
    return ModelRunner(float_model)


@pytest.fixture()
def many_files(tmp_path: Path) -> list[Path]:
    from PIL import Image

    paths = []
    for i in range(24):
        path = tmp_path / f"img{i:02d}.png"
        Image.fromarray((film(size=128, seed=i) * 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


# -- walking --------------------------------------------------------------------
def test_walk_finds_images_recursively_sorted_skipping_hidden(scan_folder: SampleFolder) -> None:
    found = list(iter_image_files([scan_folder.root]))
    assert found == scan_folder.scanned
    assert not set(found) & set(scan_folder.skipped)
    assert scan_folder.root / "sub" / "IM0002" in found  # DICOM recognised by content


def test_explicit_files_are_taken_once_and_missing_paths_reported(
    scan_folder: SampleFolder, tmp_path: Path
) -> None:
    notes = scan_folder.root / "notes.txt"
    items = list(iter_inputs([notes, tmp_path / "missing", scan_folder.good[0], scan_folder.good[0]]))
    assert items == [
        notes,
        InputProblem(tmp_path / "missing", "no such file or folder"),
        scan_folder.good[0],
    ]


def test_dicom_sniff(scan_folder: SampleFolder, tmp_path: Path) -> None:
    assert is_dicom_file(scan_folder.root / "sub" / "IM0002")
    assert not is_dicom_file(scan_folder.good[0])
    assert not is_dicom_file(tmp_path / "missing")
    (tmp_path / "short").write_bytes(b"DICM")
    assert not is_dicom_file(tmp_path / "short")


def test_unreadable_folder_is_reported_not_fatal(
    scan_folder: SampleFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_scandir = os.scandir
    locked = str(scan_folder.root / "sub")

    def scandir(path: Any) -> Any:
        if str(path) == locked:
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(walk_module.os, "scandir", scandir)
    items = list(iter_inputs([scan_folder.root]))
    problems = [i for i in items if isinstance(i, InputProblem)]
    assert problems == [InputProblem(Path(locked), "cannot read folder (Permission denied)")]
    assert scan_folder.good[0] in items and scan_folder.root / "g_cr.dcm" in items


# -- scanning -------------------------------------------------------------------
def test_scan_yields_one_record_per_file_in_order(
    scan_folder: SampleFolder, runner: ModelRunner
) -> None:
    records = list(scan([scan_folder.root], runner))
    assert [r.path for r in records] == scan_folder.scanned
    by_path = {r.path: r for r in records}
    for path in scan_folder.good:
        rec = by_path[path]
        assert rec.ok and rec.label in runner.card.labels, rec
        assert rec.probability is not None and 0.0 <= rec.probability <= 1.0
    for path, expected in scan_folder.bad.items():
        rec = by_path[path]
        assert not rec.ok and rec.label is None and rec.probability is None
        assert expected in (rec.error or ""), rec
    assert len({r.probability for r in records if r.ok}) > 1


def test_scan_records_carry_dicom_fields_and_warnings(
    scan_folder: SampleFolder, runner: ModelRunner
) -> None:
    records = {r.path.name: r for r in scan([scan_folder.root], runner)}
    cr = records["g_cr.dcm"]
    assert (cr.modality, cr.view_position, cr.body_part) == ("CR", "PA", "CHEST")
    assert cr.patient_id == "PAT-0001" and cr.study_date == "20240102"
    assert cr.sop_instance_uid and cr.warnings == ()
    assert any("lateral" in w for w in records["IM0002"].warnings)
    assert records["bad_ct.dcm"].modality == "CT"  # refused, but still described
    assert records["a_normal.png"].modality is None


def test_scan_single_file_matches_classify(scan_folder: SampleFolder, runner: ModelRunner) -> None:
    from pneumo.films.imaging import load_image

    (rec,) = scan([scan_folder.good[1]], runner)
    assert rec.probability == pytest.approx(runner.classify(load_image(scan_folder.good[1])).probability)


def test_scan_threshold_override(scan_folder: SampleFolder, runner: ModelRunner) -> None:
    labels = {r.label for r in scan(scan_folder.good, runner, threshold=0.0)}
    assert labels == {"PNEUMONIA"}
    assert {r.label for r in scan(scan_folder.good, runner, threshold=1.0)} == {"NORMAL"}


def test_missing_path_and_unexpected_errors_become_records(
    scan_folder: SampleFolder, runner: ModelRunner, tmp_path: Path
) -> None:
    job = functools.partial(decodejobs.raising, "b_blob.png")
    records = list(scan([scan_folder.good[0], tmp_path / "nope.png", scan_folder.good[1]], runner,
                        job=job))
    assert [r.path.name for r in records] == ["a_normal.png", "nope.png", "b_blob.png"]
    assert records[0].ok
    assert records[1].error == "no such file or folder"
    assert records[2].error == "unexpected error: RuntimeError: boom"


def test_order_kept_with_uneven_decoding(many_files: list[Path], runner: ModelRunner) -> None:
    delays = np.random.default_rng(0).uniform(0, 0.02, len(many_files))
    job = functools.partial(decodejobs.slow, {p.name: float(d) for p, d in zip(many_files, delays)})
    records = list(scan(many_files, runner, workers=4, job=job))
    assert [r.path for r in records] == many_files and all(r.ok for r in records)


def test_decoding_runs_ahead_only_boundedly(
    many_files: list[Path], runner: ModelRunner, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    started.mkdir()
    job = functools.partial(decodejobs.logged, str(started))
    gen = scan(many_files, runner, workers=2, max_in_flight=3, job=job)
    next(gen)
    time.sleep(0.5)  # give the workers every chance to run ahead
    assert len(list(started.iterdir())) <= 1 + 3
    assert len(list(gen)) == len(many_files) - 1


def test_cancel_stops_promptly(many_files: list[Path], runner: ModelRunner) -> None:
    cancel = threading.Event()
    cancel.set()
    assert list(scan(many_files, runner, cancel=cancel)) == []

    job = functools.partial(decodejobs.slow, {})  # 0.2 s a file
    cancel = threading.Event()
    gen = scan(many_files, runner, cancel=cancel, job=job)
    first = next(gen)
    assert first.ok
    timer = threading.Timer(0.05, cancel.set)
    timer.start()
    t0 = time.monotonic()
    rest = list(gen)
    assert time.monotonic() - t0 < 1.0
    assert len(rest) < len(many_files) - 1
    timer.join()


# -- the input gate -------------------------------------------------------------
def _image(pixels: np.ndarray | None = None, **meta: Any) -> LoadedImage:
    px = film() if pixels is None else pixels
    return LoadedImage(Path("x.dcm"), px, ImageMetadata("DICOM", px.shape[1], px.shape[0], **meta))


@pytest.mark.parametrize("modality", [None, "CR", "DX", "DR", "RG", "OT", "dx "])
def test_gate_accepts_radiographs(modality: str | None) -> None:
    assert check_input(_image(modality=modality, body_part="CHEST", view_position="PA")) == (
        [],
        None,
    )


@pytest.mark.parametrize("modality", ["CT", "MR", "US", "MG", "NM"])
def test_gate_refuses_other_modalities(modality: str) -> None:
    _, refusal = check_input(_image(modality=modality))
    assert refusal == f"modality {modality} is not a chest radiograph"


def test_gate_refuses_small_and_blank_images() -> None:
    assert "at least 128" in (check_input(_image(film(size=100)))[1] or "")
    assert "at least 128" in (check_input(_image(film()[:, :127]))[1] or "")
    blank = np.full((300, 300), 0.5, np.float32)
    assert "nearly uniform" in (check_input(_image(blank))[1] or "")
    assert check_input(_image(film(size=128)))[1] is None


@pytest.mark.parametrize("view", ["LL", "RL", "LAT", "LATERAL", "lat"])
def test_gate_warns_on_lateral_views(view: str) -> None:
    warnings, refusal = check_input(_image(view_position=view))
    assert refusal is None and len(warnings) == 1 and "lateral" in warnings[0]


def test_gate_warns_on_other_body_parts() -> None:
    warnings, refusal = check_input(_image(body_part="KNEE"))
    assert refusal is None and warnings == ["body part KNEE is not the chest"]
    assert check_input(_image(body_part="THORAX"))[0] == []


# -- records and export ---------------------------------------------------------
def _records() -> list[ScanRecord]:
    return [
        ScanRecord(
            Path("/d/a.dcm"),
            label="PNEUMONIA",
            probability=0.9,
            warnings=("w1", "w2"),
            patient_id="P1",
            patient_name="Doe^Jane",
            modality="CR",
        ),
        ScanRecord(Path("/d/b.png"), error="empty file (0 bytes)"),
    ]


def test_identifiers_left_out_unless_asked() -> None:
    rec = _records()[0]
    plain = rec.to_dict(include_identifiers=False)
    assert "patient_id" not in plain and "patient_name" not in plain
    assert plain["path"] == "/d/a.dcm" and plain["warnings"] == ["w1", "w2"]
    full = rec.to_dict(include_identifiers=True)
    assert full["patient_id"] == "P1" and full["patient_name"] == "Doe^Jane"


def test_write_csv(tmp_path: Path) -> None:
    out = tmp_path / "r" / "results.csv"
    write_csv(_records(), out)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["path"] for r in rows] == ["/d/a.dcm", "/d/b.png"]
    assert rows[0]["probability"] == "0.900000" and rows[0]["warnings"] == "w1; w2"
    assert rows[1]["error"] == "empty file (0 bytes)" and rows[1]["label"] == ""
    assert "patient_id" not in rows[0]
    write_csv(_records(), out, include_identifiers=True)
    assert next(csv.DictReader(out.open(encoding="utf-8")))["patient_name"] == "Doe^Jane"
    assert [p.name for p in out.parent.iterdir()] == ["results.csv"]  # no temp files left


def test_write_json_to_file_and_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.json"
    write_json(_records(), out)
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [d["path"] for d in data] == ["/d/a.dcm", "/d/b.png"] and "patient_id" not in data[0]
    write_json(_records(), "-", include_identifiers=True)
    assert json.loads(capsys.readouterr().out)[0]["patient_id"] == "P1"


def test_human_lines_and_summary() -> None:
    recs = _records()
    assert format_record(recs[0]).startswith("PNEUMONIA")
    assert "[warning: w1]" in format_record(recs[0])
    assert format_record(recs[1]).startswith("ERROR") and "/d/b.png: empty" in format_record(
        recs[1]
    )
    assert summarize(recs, ("NORMAL", "PNEUMONIA")) == "2 files: 0 NORMAL, 1 PNEUMONIA, 1 failed"


def test_csv_cells_that_look_like_formulas_are_defused(tmp_path: Path) -> None:
    from pneumo.results.export import write_csv
    from pneumo.results.records import ScanRecord

    record = ScanRecord(path=Path("=HYPERLINK(x).png"), label=None, probability=None,
                        error="@SUM(1)", warnings=("-2+3",))
    out = tmp_path / "out.csv"
    write_csv([record], out)
    text = out.read_text()
    assert "'@SUM(1)" in text and "'-2+3" in text
    assert ",=" not in text and "\n=" not in text


def test_folder_walk_finds_dicom_without_preamble_or_extension(tmp_path: Path) -> None:
    from pneumo.scanning.walk import iter_image_files
    from tests import synth

    synth.write_dicom_no_preamble(synth.film(), tmp_path / "IM000002")
    (tmp_path / "notes").write_bytes(b"plain text, not an image\n" * 20)
    assert [p.name for p in iter_image_files([tmp_path])] == ["IM000002"]


def test_scan_hands_each_prepared_film_to_on_prepared(
    scan_folder: SampleFolder, runner: ModelRunner
) -> None:
    from pneumo.films.imaging import load_image
    from pneumo.model.preprocess import input_box, preprocess
    from pneumo.scanning.display import RecentHeatInputs

    seen: list[Any] = []
    recent = RecentHeatInputs(size=2)

    def keep(prepared: Any) -> None:
        seen.append(prepared)
        recent.add(prepared)

    records = list(scan([scan_folder.root], runner, on_prepared=keep))
    spec = runner.card.preprocessing
    classified = [r.path for r in records if r.ok]
    assert [p.path for p in seen if p.model_input is not None] == classified
    for prepared in seen:
        if prepared.model_input is None:
            assert prepared.error and recent.get(prepared.path) is None
            continue
        image = load_image(prepared.path)
        np.testing.assert_array_equal(prepared.model_input, preprocess(image, spec))
        assert prepared.box == input_box(image, spec)
    *older, before_last, last = classified
    assert all(recent.get(p) is None for p in older)  # only the last two are kept
    kept = recent.get(last)
    assert kept is not None and recent.get(before_last) is not None
    assert kept.shape == load_image(last).pixels.shape
