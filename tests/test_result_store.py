"""The result store: answers from it, resume after a kill, audit trail, history,
a corrupt or newer store kept aside. Uses the shipped model (no TensorFlow)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pneumo.cli import main
from pneumo.model.locate import assets_dir
from pneumo.results.codec import record_from_json, record_to_json
from pneumo.results.records import ScanRecord
from pneumo.results.store import ResultStore, StoreError, default_store_path, user_data_dir
from pneumo.scanning.pool import DecoderPool
from tests.subproc import REPO_ROOT
from tests.tinymodel import film

MODEL = assets_dir() / "model.tflite"
FLOAT_MODEL = assets_dir() / "model_float.tflite"
if not MODEL.is_file():
    pytest.skip(f"shipped model not found at {MODEL}", allow_module_level=True)


def _films(folder: Path, n: int, size: int = 256) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"film{i:03d}.png"
        Image.fromarray((film(size=size, seed=i, blob=i % 3 == 0) * 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def _scan_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]], str]:
    rc = main(["scan", *args, "--json", "-"])
    out, err = capsys.readouterr()
    return rc, json.loads(out), err


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("pneumo: warning:")]


@pytest.fixture()
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file the pipeline hands to a decoding worker."""
    seen: list[Path] = []
    real = DecoderPool.submit

    def counting(pool: DecoderPool, function: Any, path: Path, *args: Any) -> Any:
        seen.append(Path(path))
        return real(pool, function, path, *args)

    monkeypatch.setattr(DecoderPool, "submit", counting)
    return seen


def test_second_scan_answers_every_film_from_the_store_without_decoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], decodes: list[Path]
) -> None:
    paths = _films(tmp_path / "films", 40)
    rc, first, _ = _scan_json(capsys, str(tmp_path / "films"))
    assert rc == 0 and len(first) == 40 and len(decodes) == 40
    assert not any(r["from_store"] for r in first)
    assert all(len(r["content_sha256"]) == 64 and len(r["model_sha256"]) == 64 for r in first)
    decodes.clear()
    rc, second, err = _scan_json(capsys, str(tmp_path / "films"))
    assert rc == 0 and decodes == []
    assert all(r["from_store"] for r in second)
    assert [{**r, "from_store": False} for r in second] == first
    assert "40 answered from the results store" in err

    changed = paths[7]
    Image.fromarray((film(size=256, seed=99, blob=True) * 255).astype(np.uint8)).save(changed)
    rc, third, _ = _scan_json(capsys, str(tmp_path / "films"))
    assert decodes == [changed]
    assert [r["path"] for r in third if not r["from_store"]] == [str(changed)]
    assert third[7]["content_sha256"] != first[7]["content_sha256"]


def test_no_cache_classifies_again_and_no_store_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], decodes: list[Path]
) -> None:
    _films(tmp_path / "films", 3)
    store = tmp_path / "s.sqlite3"
    _scan_json(capsys, str(tmp_path / "films"), "--store", str(store))
    decodes.clear()
    _, again, _ = _scan_json(capsys, str(tmp_path / "films"), "--store", str(store), "--no-cache")
    assert len(decodes) == 3 and not any(r["from_store"] for r in again)
    with ResultStore(store) as s:
        assert len(s.query("SELECT id FROM results")) == 6
    _, plain, _ = _scan_json(capsys, str(tmp_path / "films"), "--no-store")
    assert not any(r["from_store"] for r in plain)
    assert not default_store_path().exists()


def test_threshold_override_relabels_stored_probabilities(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _films(tmp_path / "films", 6)
    _, first, _ = _scan_json(capsys, str(tmp_path / "films"))
    _, low, _ = _scan_json(capsys, str(tmp_path / "films"), "--threshold", "0.0")
    assert all(r["from_store"] for r in low)
    assert [r["probability"] for r in low] == [r["probability"] for r in first]
    assert {r["label"] for r in low} == {"PNEUMONIA"}


def test_a_killed_scan_resumes_where_it_stopped(tmp_path: Path) -> None:
    _films(tmp_path / "films", 40, size=900)
    store = tmp_path / "store.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PNEUMO_STORE": str(store)}
    cmd = [sys.executable, "-m", "pneumo", "scan", str(tmp_path / "films"), "--workers", "1"]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        printed = [proc.stdout.readline() for _ in range(10)]
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert all(line.strip() for line in printed)
    with ResultStore(store) as s:
        assert s.notice is None  # not corrupt after the kill
        done = {row["path"] for row in s.query("SELECT path FROM results")}
    print(f"killed after {len(done)} of 40 films")
    assert 10 <= len(done) < 40, "the scan finished before it could be killed"
    rerun = subprocess.run([*cmd, "--json", "-"], cwd=REPO_ROOT, env=env, capture_output=True,
                           text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr
    records = json.loads(rerun.stdout)
    assert {os.path.abspath(r["path"]) for r in records if r["from_store"]} == done
    with ResultStore(store) as s:
        rows = [row["path"] for row in s.query("SELECT path FROM results")]
    assert len(rows) == 40 and len(set(rows)) == 40  # each film classified exactly once


def test_history_lists_results_with_model_sha256_and_audit_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    films = _films(tmp_path / "films", 3)
    _scan_json(capsys, str(tmp_path / "films"), "--threshold", "0.4",
               "--csv", str(tmp_path / "out.csv"))
    _scan_json(capsys, str(films[0]), "--model", str(FLOAT_MODEL))
    assert main(["history", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    results = data["results"]
    assert len(results) == 4
    assert {r["model_sha256"] for r in results} == {_sha(MODEL), _sha(FLOAT_MODEL)}
    actions = [e["action"] for e in data["events"]]
    assert actions.count("scan") == 2 and "model change" in actions
    override = next(e for e in data["events"] if e["action"] == "threshold override")
    assert override["detail"]["threshold"] == 0.4
    export = next(e for e in data["events"] if e["action"] == "export")
    assert export["detail"]["kind"] == "CSV" and export["user"]
    assert main(["history", str(films[0]), "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert [r["path"] for r in one["results"]] == [str(films[0])] * 2
    assert main(["history", "--since", "2999-01-01", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"] == []
    assert main(["history"]) == 0
    assert "threshold override" in capsys.readouterr().out


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("damage", ["garbage", "newer"])
def test_a_corrupt_or_newer_store_is_kept_aside_and_the_scan_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    _films(tmp_path / "films", 2)
    store = default_store_path()
    store.parent.mkdir(parents=True, exist_ok=True)
    if damage == "garbage":
        store.write_bytes(b"this is not a database\n" * 500)
    else:
        with sqlite3.connect(store) as db:
            db.execute("CREATE TABLE results (id INTEGER)")
            db.execute("PRAGMA user_version = 99")
    before = store.read_bytes()
    rc, records, err = _scan_json(capsys, str(tmp_path / "films"))
    assert rc == 0 and len(records) == 2
    (warning,) = _warnings(err)
    assert ("corrupt" if damage == "garbage" else "newer") in warning and "kept as" in warning
    (aside,) = [p for p in store.parent.iterdir() if p.name.startswith(store.name + ".")
                and not p.name.endswith(("-wal", "-shm"))]
    assert aside.read_bytes() == before
    with ResultStore(store) as s:
        assert len(s.query("SELECT id FROM results")) == 2


def test_the_store_is_append_only(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite3") as s:
        s.add_event("scan", detail={"n": 1})
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            s._db.execute("UPDATE events SET action = 'x'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            s._db.execute("DELETE FROM events")
        assert len(s.query("SELECT * FROM events")) == 1


def test_an_unopenable_store_is_one_warning_and_the_scan_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _films(tmp_path / "films", 1)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError):
        ResultStore(blocker / "store.sqlite3")
    rc, records, err = _scan_json(capsys, str(tmp_path / "films"), "--store",
                                  str(blocker / "store.sqlite3"))
    assert rc == 0 and len(records) == 1 and len(_warnings(err)) == 1


def test_store_location_follows_the_platform_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PNEUMO_STORE", str(tmp_path / "x.sqlite3"))
    assert default_store_path() == tmp_path / "x.sqlite3"
    monkeypatch.delenv("PNEUMO_STORE")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
        assert default_store_path() == tmp_path / "data" / "PneumoScan" / "results.sqlite3"
        monkeypatch.delenv("XDG_DATA_HOME")
        assert user_data_dir() == Path.home() / ".local" / "share" / "PneumoScan"


def test_record_codec_round_trips_every_field() -> None:
    from pneumo.checks.findings import CheckFindings, Rule

    checks = CheckFindings(ood_score=25.5, ood_threshold=18.3, patient_age_years=47.0,
                           rules=tuple(Rule)[:2])
    record = ScanRecord(path=Path("/a/b c.dcm"), label="PNEUMONIA", probability=0.25,
                        checks=checks,
                        warnings=("one", "two"), patient_id="P1", patient_name="Doe^J",
                        study_date="20240101", modality="DX", sop_instance_uid="1.2.3",
                        content_sha256="ab" * 32, model_sha256="cd" * 32, from_store=True)
    assert record_from_json(record_to_json(record)) == record
    failed = ScanRecord(path=Path("x.png"), error="empty file (0 bytes)")
    assert record_from_json(record_to_json(failed)) == failed
    assert record_from_json(record_to_json(replace(failed, warnings=()))) == failed


def test_the_store_keeps_no_identifiers_yet_answers_carry_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.tinymodel import write_dicom

    dicom = write_dicom(tmp_path / "a.dcm", film(seed=2, blob=True), patient_name="Roe^Rita",
                        patient_id="ID-777")
    _, (first,), _ = _scan_json(capsys, str(dicom), "--include-identifiers")
    _, (second,), _ = _scan_json(capsys, str(dicom), "--include-identifiers")
    assert second["from_store"] and {**second, "from_store": False} == first
    assert (second["patient_name"], second["patient_id"]) == ("Roe^Rita", "ID-777")
    data = default_store_path().read_bytes()
    assert b"Roe" not in data and b"ID-777" not in data


def test_hashing_for_the_store_never_blocks_on_a_fifo_or_reads_a_device(tmp_path: Path) -> None:
    """The store hashes a file before it is decoded; a FIFO named like an image
    must not hang the scan (it is left to the loader, which refuses it)."""
    from pneumo.scanning.stored import content_sha256

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    regular = tmp_path / "film.bin"
    regular.write_bytes(b"abc")
    assert content_sha256(fifo) is None
    assert content_sha256(tmp_path / "missing.png") is None
    assert content_sha256(regular) == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def test_a_file_name_that_is_not_utf8_is_stored_and_answered_again(tmp_path: Path) -> None:
    """Names are bytes on POSIX: one that is not UTF-8 must not break the store."""
    folder = tmp_path / "films"
    folder.mkdir()
    name = os.fsdecode(b"bad_\xff.png")
    Image.fromarray((film(seed=7) * 255).astype(np.uint8)).save(folder / name)
    store = tmp_path / "store.sqlite3"
    assert main(["scan", str(folder), "--store", str(store), "--json",
                 str(tmp_path / "a.json")]) == 0
    assert main(["scan", str(folder), "--store", str(store), "--json",
                 str(tmp_path / "b.json")]) == 0
    (first,), (second,) = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert first["path"] == second["path"] and "\\xff" in first["path"]
    assert second["probability"] == first["probability"]
    with ResultStore(store) as opened:
        rows = opened.query("SELECT path FROM results")
    assert [r["path"] for r in rows] == [first["path"]]
