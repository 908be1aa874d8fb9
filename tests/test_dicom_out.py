"""DICOM results: ``pneumo scan --dicom-out`` writes a TID 1500 SR and a Secondary
Capture in the source's study, read back with pydicom and highdicom (and
validated with dciodvfy when dicom3tools is installed). Shipped model, no
TensorFlow."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from pneumo.cli import main
from pneumo.model.locate import assets_dir
from pneumo.results.store import default_store_path
from tests.tinymodel import film, write_dicom

SAMPLE = assets_dir() / "samples" / "pneumonia_person1_virus_6_cr.dcm"
MODEL = assets_dir() / "model.tflite"
if not (SAMPLE.is_file() and MODEL.is_file()):
    pytest.skip("shipped model or sample DICOM not found", allow_module_level=True)
PATIENT_MODULE = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex")


def _scan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]], str]:
    rc = main(["scan", *args, "--json", "-"])
    out, err = capsys.readouterr()
    return rc, json.loads(out), err


def _outputs(folder: Path) -> tuple[Dataset, Dataset, Path, Path]:
    (sr_path,) = folder.glob("SR_*.dcm")
    (sc_path,) = folder.glob("SC_*.dcm")
    return pydicom.dcmread(sr_path), pydicom.dcmread(sc_path), sr_path, sc_path


def _texts(items: Any) -> Iterator[str]:
    for item in items or ():
        if "TextValue" in item:
            yield str(item.TextValue)
        yield from _texts(item.get("ContentSequence"))


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "film.dcm"
    path.parent.mkdir()
    shutil.copyfile(SAMPLE, path)
    return path


def test_scan_dicom_out_writes_an_sr_and_an_sc_in_the_source_study(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    rc, (record,), _ = _scan(capsys, str(source), "--dicom-out", str(tmp_path / "out"))
    assert rc == 0 and record["label"] == "PNEUMONIA"
    sr, sc, sr_path, _ = _outputs(tmp_path / "out")
    src = pydicom.dcmread(source)
    for ds in (sr, sc):
        assert ds.StudyInstanceUID == src.StudyInstanceUID
        assert ds.SeriesInstanceUID != src.SeriesInstanceUID
        for keyword in PATIENT_MODULE:
            # present in both objects; empty where the source has no value
            assert keyword in ds and (ds.get(keyword) or "") == (src.get(keyword) or ""), keyword
        assert ds.PatientName == "Sample^Anonymous" and ds.PatientID == "SAMPLE-0001"
        assert "NOT FOR DIAGNOSTIC USE" in ds.SeriesDescription
    assert sr.SeriesInstanceUID != sc.SeriesInstanceUID
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before

    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert isinstance(hd.sr.srread(sr_path), hd.sr.Comprehensive3DSR)
    assert sr.VerificationFlag == "UNVERIFIED"
    report = hd.sr.srread(sr_path).content
    (group,) = report.get_image_measurement_groups()
    assert (group.finding_type.value, group.finding_type.scheme_designator) == ("233604007", "SCT")
    (probability,) = group.get_measurements(name=hd.sr.CodedConcept("122157", "DCM", "Probability"))
    assert probability.value == record["probability"]
    (threshold,) = group.get_measurements(name=hd.sr.CodedConcept("122411", "DCM", "Threshold Value"))
    (evaluation,) = group.get_qualitative_evaluations()
    assert (evaluation.name.value, evaluation.value.value) == ("233604007", "52101004")  # Present
    assert probability.value >= threshold.value
    (image,) = group.source_images
    assert image.referenced_sop_instance_uid == src.SOPInstanceUID
    texts = list(_texts(sr.ContentSequence))
    assert f"model sha256 {hashlib.sha256(MODEL.read_bytes()).hexdigest()}" in texts
    assert record["model_sha256"] in " ".join(texts)
    (observer,) = report.get_observer_contexts()
    assert observer.observer_type.value == "121007"  # Device

    assert sc.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
    assert sc.BurnedInAnnotation == "YES" and sc.PhotometricInterpretation == "RGB"
    pixels = sc.pixel_array
    assert pixels.ndim == 3 and pixels.shape[2] == 3
    assert np.ptp(pixels[..., 0].astype(int) - pixels[..., 2].astype(int)) > 50  # a colour map
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == src.SOPInstanceUID


def test_below_the_threshold_the_finding_is_absent_and_the_threshold_recorded(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, (record,), _ = _scan(capsys, str(source), "--threshold", "1.0",
                             "--dicom-out", str(tmp_path / "out"))
    assert record["label"] == "NORMAL"
    _, _, sr_path, _ = _outputs(tmp_path / "out")
    (group,) = hd.sr.srread(sr_path).content.get_image_measurement_groups()
    (evaluation,) = group.get_qualitative_evaluations()
    assert evaluation.value.value == "2667000"  # Absent
    (threshold,) = group.get_measurements(name=hd.sr.CodedConcept("122411", "DCM", "Threshold Value"))
    assert threshold.value == 1.0


def test_png_input_is_skipped_with_a_message_and_exports_are_audited(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = assets_dir() / "samples" / "normal_IM-0010-0001.jpeg"
    rc, records, err = _scan(capsys, str(png), str(source), "--dicom-out", str(tmp_path / "out"))
    assert rc == 0 and len(records) == 2
    assert f"{png}: no DICOM result written: not DICOM, so there is no study to join" in err
    assert len(list((tmp_path / "out").iterdir())) == 2
    main(["history", "--json"])
    events = json.loads(capsys.readouterr().out)["events"]
    kinds = sorted(e["detail"]["kind"] for e in events if e["action"] == "export")
    assert kinds == ["DICOM SR", "DICOM Secondary Capture"]
    assert default_store_path().is_file()


def test_exporting_again_never_overwrites(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    _scan(capsys, str(source), "--dicom-out", str(out))
    _, _, sr_path, sc_path = _outputs(out)
    sr_path.write_bytes(b"kept")
    stamp = sc_path.stat().st_mtime_ns
    rc, (record,), _ = _scan(capsys, str(source), "--dicom-out", str(out))
    assert record["from_store"] and rc == 0
    assert sr_path.read_bytes() == b"kept" and sc_path.stat().st_mtime_ns == stamp
    assert len(list(out.iterdir())) == 2
    # into the source's own folder: the source stays as it was
    before = source.read_bytes()
    _scan(capsys, str(source), "--dicom-out", str(source.parent))
    assert source.read_bytes() == before and len(list(source.parent.iterdir())) == 3


def test_a_film_without_study_uid_or_type2_attributes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = write_dicom(tmp_path / "bare.dcm", film(seed=3, blob=True))
    _, _, err = _scan(capsys, str(bare), "--dicom-out", str(tmp_path / "out"))
    assert "has no StudyInstanceUID: there is no study to join" in err
    minimal = write_dicom(tmp_path / "minimal.dcm", film(seed=4, blob=True),
                          StudyInstanceUID="1.2.3.4.5", SeriesInstanceUID="1.2.3.4.6")
    _scan(capsys, str(minimal), "--dicom-out", str(tmp_path / "out"))
    sr, sc, _, _ = _outputs(tmp_path / "out")
    assert sr.StudyInstanceUID == sc.StudyInstanceUID == "1.2.3.4.5"
    assert sr.PatientBirthDate == "" and sc.PatientID == "PAT-0001"


def _dciodvfy_errors(path: Path) -> list[str]:
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60,
                         check=False)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


@pytest.mark.skipif(shutil.which("dciodvfy") is None,
                    reason="dciodvfy not installed (Debian package dicom3tools)")
def test_dciodvfy_finds_no_errors(tmp_path: Path, source: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    minimal = write_dicom(tmp_path / "in" / "minimal.dcm", film(seed=5, blob=True),
                          StudyInstanceUID="1.2.3.4.7", SeriesInstanceUID="1.2.3.4.8")
    _scan(capsys, str(source), str(minimal), "--dicom-out", str(tmp_path / "out"))
    files = sorted((tmp_path / "out").glob("*.dcm"))
    assert len(files) == 4
    for path in files:
        assert _dciodvfy_errors(path) == [], path.name


def test_a_plain_scan_loads_neither_highdicom_nor_pynetdicom(tmp_path: Path) -> None:
    from tests.subproc import run_python

    png = assets_dir() / "samples" / "normal_IM-0010-0001.jpeg"
    code = ("import sys, json; from pneumo.cli import main; "
            f"rc = main(['scan', {str(png)!r}, '--store', {str(tmp_path / 's.sqlite3')!r}]); "
            "print('LOADED', json.dumps(sorted({m.split('.')[0] for m in sys.modules} "
            "& {'highdicom', 'pynetdicom', 'pydicom'}))); sys.exit(rc)")
    proc = run_python("-c", code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("LOADED", 1)[1].strip() == "[]"
