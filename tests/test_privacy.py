"""Privacy: identifiers stay out of exports and logs; nothing is written elsewhere.

The CLI and GUI runs are the audited, isolated sessions of
:mod:`tests.test_offline` (HOME, XDG folders, TMPDIR and cwd are temporary
folders; sources include a DICOM with PatientName ``Doe^Jane``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pneumo.results.export import write_csv, write_json
from pneumo.results.records import ScanRecord
from tests.test_offline import (
    PATIENT_ID,
    PATIENT_NAME,
    SHIPPED_MODEL,
    cli_session,
    gui_session,
    make_sources,
)

_SECRETS = ("Doe", "Jane", PATIENT_ID)


def _shipped() -> None:
    if not SHIPPED_MODEL.is_file():
        pytest.skip("no shipped model in assets/")


def _no_secrets(text: str, where: str) -> None:
    for secret in _SECRETS:
        assert secret not in text, f"{secret!r} found in {where}"


def _record() -> ScanRecord:
    return ScanRecord(path=Path("/x/film.dcm"), label="NORMAL", probability=0.1,
                      patient_id=PATIENT_ID, patient_name=PATIENT_NAME, study_date="20240315",
                      modality="DX", sop_instance_uid="1.2.3")


def test_writers_leave_out_identifiers_unless_asked(tmp_path: Path) -> None:
    write_csv([_record()], tmp_path / "a.csv")
    write_json([_record()], tmp_path / "a.json")
    for name in ("a.csv", "a.json"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        _no_secrets(text, name)
        assert "patient_name" not in text and "patient_id" not in text
        assert "20240315" in text  # the other DICOM fields are kept
    write_csv([_record()], tmp_path / "b.csv", include_identifiers=True)
    write_json([_record()], tmp_path / "b.json", include_identifiers=True)
    rows = list(csv.DictReader((tmp_path / "b.csv").open(encoding="utf-8")))
    assert (rows[0]["patient_name"], rows[0]["patient_id"]) == (PATIENT_NAME, PATIENT_ID)
    data = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert (data[0]["patient_name"], data[0]["patient_id"]) == (PATIENT_NAME, PATIENT_ID)


def test_cli_exports_leave_out_identifiers_by_default(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    _shipped()
    s = cli_session(tmp_path_factory.getbasetemp())
    assert s.returncode == 0, s.stderr[-2000:]
    csv_path, json_path = s.outputs
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert len(rows) == len(data) == 3
    for rec in [*rows, *data]:
        assert "patient_name" not in rec and "patient_id" not in rec
    dicom = [r for r in data if r["path"].endswith(".dcm")]
    assert dicom and dicom[0]["modality"] == "DX" and dicom[0]["error"] is None
    _no_secrets(csv_path.read_text(encoding="utf-8"), "CSV export")
    _no_secrets(json_path.read_text(encoding="utf-8"), "JSON export")


def test_cli_exports_include_identifiers_with_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _shipped()
    from pneumo.cli import main

    monkeypatch.delenv("PNEUMO_MODEL", raising=False)
    monkeypatch.delenv("PNEUMO_ASSETS", raising=False)
    dicom = make_sources(tmp_path / "src")["dicom"]
    out_csv, out_json = tmp_path / "r.csv", tmp_path / "r.json"
    rc = main(["scan", str(dicom), "--csv", str(out_csv), "--json", str(out_json),
               "--include-identifiers"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    row = next(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert (row["patient_name"], row["patient_id"]) == (PATIENT_NAME, PATIENT_ID)
    rec = json.loads(out_json.read_text(encoding="utf-8"))[0]
    assert (rec["patient_name"], rec["patient_id"]) == (PATIENT_NAME, PATIENT_ID)
    # The console lines never show identifiers, asked for in the exports or not.
    _no_secrets(captured.out + captured.err, "scan output with --include-identifiers")


def test_scan_output_and_logs_do_not_contain_the_patient_name(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    _shipped()
    s = cli_session(tmp_path_factory.getbasetemp())
    assert "film_c.dcm" in s.stdout  # the DICOM was reported...
    _no_secrets(s.stdout, "scan stdout")  # ...without its patient's name
    _no_secrets(s.stderr, "scan stderr")


def test_scan_writes_only_the_chosen_exports(tmp_path_factory: pytest.TempPathFactory) -> None:
    _shipped()
    s = cli_session(tmp_path_factory.getbasetemp())
    # HOME, XDG folders, TMPDIR, cwd and the sources folder are all under s.root.
    # Besides the exports, only the results store in the user data folder.
    store = "home/.local/share/PneumoScan"
    assert s.new_entries() == [store, f"{store}/results.sqlite3",
                               "out", "out/results.csv", "out/results.json"]
    changed = [k for k, v in s.root_before.items() if s.root_after.get(k) != v]
    assert changed == []


def test_the_results_store_keeps_no_identifiers_and_is_private(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    _shipped()
    s = cli_session(tmp_path_factory.getbasetemp())
    folder = s.root / "home" / ".local" / "share" / "PneumoScan"
    store = folder / "results.sqlite3"
    _no_secrets(store.read_bytes().decode("latin-1"), "results store")
    assert b"film_c.dcm" in store.read_bytes()  # the result is there, by path
    assert store.stat().st_mode & 0o077 == 0 and folder.stat().st_mode & 0o077 == 0


def test_gui_writes_settings_only_where_configured(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    pytest.importorskip("PySide6")
    _shipped()
    s = gui_session(tmp_path_factory.getbasetemp())
    assert s.returncode == 0, s.stderr[-2000:]
    # --settings -> config/pneumo.ini; under HOME/XDG only the results store
    # (no QSettings in ~/.config, no caches); nothing in TMPDIR, the working
    # directory or beside the sources.
    store = "home/.local/share/PneumoScan"
    assert s.new_entries() == ["config", "config/pneumo.ini", store, f"{store}/results.sqlite3",
                               "out", "out/window.png"]
    _no_secrets((s.root / store / "results.sqlite3").read_bytes().decode("latin-1"),
                "the app's results store")
    assert s.outputs[1].read_text(encoding="utf-8").strip()
    _no_secrets(s.outputs[1].read_text(encoding="utf-8"), "settings file")
    _no_secrets(s.stdout, "app stdout")
    _no_secrets(s.stderr, "app stderr")


@pytest.mark.parametrize("how", ["--settings", "default", "env"])
def test_gui_settings_location(tmp_path: Path, how: str) -> None:
    """A ``--screenshot`` run keeps QSettings in ``--settings FILE`` only; without
    it, it writes no settings at all: not the user profile
    ($XDG_CONFIG_HOME/PneumoScan), not $PNEUMO_SETTINGS (issue 16)."""
    pytest.importorskip("PySide6")
    _shipped()
    from tests.test_offline import GUI_MAIN, run_audited

    shot = tmp_path / "out" / "window.png"
    ini = tmp_path / "chosen" / "app.ini"
    args = ["--timeout", "120", "--screenshot", str(shot), "{png}"]
    if how == "--settings":
        args = ["--settings", str(ini), *args]
    env = {"PNEUMO_SETTINGS": str(ini)} if how == "env" else None
    s = run_audited(tmp_path, GUI_MAIN, args, [shot], env)
    assert s.returncode == 0, s.stderr[-2000:]
    store = ["home/.local/share/PneumoScan", "home/.local/share/PneumoScan/results.sqlite3"]
    if how == "--settings":
        expected = ["chosen", "chosen/app.ini", *store, "out", "out/window.png"]
    else:
        expected = [*store, "out", "out/window.png"]
    assert s.new_entries() == expected
