"""The ``pneumo`` command line: scan, info, stage dispatch, errors, exit codes."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
import types
from pathlib import Path

import pytest

from pneumo import __version__
from pneumo.cli import main
from pneumo.errors import DataError
from tests.subproc import run_python
from tests.tinymodel import SampleFolder, make_scan_folder

pytest.importorskip("tensorflow")



@pytest.fixture(scope="session")
def good(tmp_path_factory: pytest.TempPathFactory) -> SampleFolder:
    return make_scan_folder(tmp_path_factory.mktemp("cli_good"), bad=False)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PNEUMO_MODEL", raising=False)
    monkeypatch.delenv("PNEUMO_ASSETS", raising=False)


def test_scan_mixed_folder_reports_every_file_and_exits_1(
    scan_folder: SampleFolder, float_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["scan", str(scan_folder.root), "--json", "-", "--model", str(float_model)])
    out, err = capsys.readouterr()
    assert rc == 1
    data = json.loads(out)
    assert [d["path"] for d in data] == [str(p) for p in scan_folder.scanned]
    errors = {d["path"] for d in data if d["error"]}
    assert errors == {str(p) for p in scan_folder.bad}
    assert all(d["label"] and d["probability"] is not None for d in data if not d["error"])
    assert all("patient_id" not in d and "patient_name" not in d for d in data)
    assert "5 failed" in err  # the summary goes to stderr when JSON is on stdout


def test_scan_good_folder_exits_0_with_a_table(
    good: SampleFolder, float_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["scan", str(good.root), "--model", str(float_model)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == len(good.good) + 2  # the records, the skipped text file, the summary
    assert lines[-1].startswith(f"{len(good.good)} files: ") and "0 failed" in lines[-1]
    assert "; 3 skipped: 2 hidden" in lines[-1]  # .hidden.png, .hidden_dir and notes.txt
    assert all(line.split()[0] in ("NORMAL", "PNEUMONIA") for line in lines[:-2])
    assert lines[-2].startswith("SKIPPED") and lines[-2].endswith(
        "notes.txt: not an image file (by name or content)")


def test_progress_is_quiet_when_piped(
    good: SampleFolder, float_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", str(good.root), "--model", str(float_model), "--json", "-"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "[#" not in err and "\x1b" not in err


def test_progress_bar_draws_on_a_terminal_above_the_lines(
    good: SampleFolder, float_model: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Tty()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["scan", str(good.root), "--model", str(float_model)]) == 0
    out = capsys.readouterr().out.splitlines()
    n = len(good.good)
    assert len(out) == n + 2 and out[-1].startswith(f"{n} files: ")  # lines intact
    assert out[-2].startswith("SKIPPED") and out[-2].endswith("notes.txt: not an image file "
                                                              "(by name or content)")
    drawn = terminal.getvalue()
    assert f"0/{n} [" in drawn  # the bar knew how many files there are
    assert drawn.rstrip("\r").split("\r")[-1].strip() == ""  # and was erased at the end


def test_csv_export_and_identifiers(
    scan_folder: SampleFolder, float_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.csv"
    jout = tmp_path / "results.json"
    rc = main(["scan", str(scan_folder.root), "--model", str(float_model), "--csv", str(out)])
    assert rc == 1
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == len(scan_folder.scanned) and "patient_id" not in rows[0]
    rc = main(
        ["scan", str(scan_folder.root / "g_cr.dcm"), "--model", str(float_model), "--csv", str(out)]
        + ["--json", str(jout), "--include-identifiers"]
    )
    assert rc == 0
    (row,) = csv.DictReader(out.open(encoding="utf-8"))
    assert row["patient_id"] == "PAT-0001" and row["patient_name"] == "Doe^Jane"
    assert json.loads(jout.read_text())[0]["patient_id"] == "PAT-0001"
    assert "g_cr.dcm" in capsys.readouterr().out  # the table still goes to stdout


def test_threshold_override(
    good: SampleFolder, float_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["scan", str(good.root), "--model", str(float_model), "--json", "-", "--threshold", "0"])
        == 0
    )
    assert {d["label"] for d in json.loads(capsys.readouterr().out)} == {"PNEUMONIA"}


def test_missing_model_says_how_to_get_one(
    good: SampleFolder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PNEUMO_ASSETS", str(tmp_path))
    assert main(["scan", str(good.root)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("pneumo: error: no model at") and len(err.splitlines()) == 1
    assert "pneumo train" in err and "pneumo convert" in err and "--model" in err
    assert main(["scan", str(good.root), "--model", str(tmp_path / "x.tflite")]) == 1
    assert "model file not found" in capsys.readouterr().err


def test_default_model_from_assets(
    good: SampleFolder, float_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PNEUMO_ASSETS", str(float_model.parent))
    assert main(["scan", str(good.good[0])]) == 0
    monkeypatch.setenv("PNEUMO_MODEL", str(float_model))
    monkeypatch.setenv("PNEUMO_ASSETS", "/nonexistent")
    assert main(["scan", str(good.good[0])]) == 0


def test_tampered_model_is_refused(
    good: SampleFolder, float_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(float_model.parent, tmp_path / "m")
    bad = tmp_path / "m" / float_model.name
    data = bytearray(bad.read_bytes())
    data[-10] ^= 1
    bad.write_bytes(bytes(data))
    assert main(["scan", str(good.root), "--model", str(bad)]) == 1
    assert "sha256 does not match its model card" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["scan"],
        ["frobnicate"],
        ["scan", ".", "--workers", "0"],
        ["scan", ".", "--threshold", "1.5"],
        ["scan", ".", "--threshold", "abc"],
        ["info", "--bogus"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err


def test_no_image_files_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "readme.txt").write_text("nothing here")
    assert main(["scan", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"pneumo: error: no image files found in {tmp_path} "
        "(1 skipped: 1 not an image file (by name or content))")


def test_missing_path_is_an_error_record(
    good: SampleFolder, float_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        ["scan", str(good.good[0]), str(tmp_path / "gone"), "--model", str(float_model), "--json", "-"]
    )
    assert rc == 1
    data = json.loads(capsys.readouterr().out)
    assert data[1] == {**data[1], "path": str(tmp_path / "gone"), "error": "no such file or folder"}


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("scan", "info", "self-test", "train", "convert", "evaluate", "gui"):
        assert f"    {name} " in out or f"    {name}\n" in out  # a long name wraps its help


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"pneumo {__version__}"


def test_python_dash_m_version() -> None:
    proc = run_python("-m", "pneumo", "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"pneumo {__version__}"


# -- info -------------------------------------------------------------------------
def test_info_json_lists_models_with_kinds(
    float_model: Path,
    int8_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PNEUMO_ASSETS", str(float_model.parent))
    assert main(["info", "--json"]) == 0
    infos = {Path(i["path"]).name: i for i in json.loads(capsys.readouterr().out)}
    assert infos["model.tflite"]["kind"] == "float" and infos["model.keras"]["kind"] == "keras"
    assert infos["model.tflite"]["sha256_ok"] is True
    assert infos["model.tflite"]["input_size"] == 64 and infos["model.tflite"]["threshold"] == 0.5
    monkeypatch.setenv("PNEUMO_ASSETS", str(int8_model.parent))
    assert main(["info", "--json"]) == 0
    kinds = {Path(i["path"]).name: i["kind"] for i in json.loads(capsys.readouterr().out)}
    assert kinds["model.tflite"] == "int8"
    assert main(["info"]) == 0
    assert "model.tflite: int8" in capsys.readouterr().out
    monkeypatch.setenv("PNEUMO_ASSETS", str(tmp_path))
    assert main(["info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["info"]) == 0
    assert "pneumo train" in capsys.readouterr().out


# -- stage dispatch ---------------------------------------------------------------
def _fake_stage(monkeypatch: pytest.MonkeyPatch, module: str, func: object) -> None:
    package = module.split(".")[0]
    if package not in sys.modules:
        monkeypatch.setitem(sys.modules, package, types.ModuleType(package))
    fake = types.ModuleType(module)
    fake.main = func  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module, fake)


def test_stages_get_their_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, list[str]] = {}

    def recorder(stage: str, rc: int | None) -> object:
        def stage_main(argv: list[str]) -> int | None:
            seen[stage] = argv
            return rc

        return stage_main

    _fake_stage(monkeypatch, "train.cli", recorder("train", 7))
    _fake_stage(monkeypatch, "convert.cli", recorder("convert", 0))
    _fake_stage(monkeypatch, "desktop.app", recorder("gui", None))
    assert main(["train", "data", "--out", "run", "--help"]) == 7
    assert main(["convert", "run"]) == 0
    assert main(["gui"]) == 0  # a stage returning None means success
    assert seen == {"train": ["data", "--out", "run", "--help"], "convert": ["run"], "gui": []}


def test_evaluate_gets_a_keras_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    import pneumo.commands.evaluate

    calls: list[tuple[list[str], object]] = []
    monkeypatch.setattr(
        pneumo.commands.evaluate, "main",
        lambda argv, keras_loader=None: calls.append((argv, keras_loader)),
    )
    assert main(["evaluate", "data", "--json", "-"]) == 0
    assert calls[0][0] == ["data", "--json", "-"] and callable(calls[0][1])


def test_stage_without_tensorflow(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_tf(argv: list[str]) -> int:
        raise ModuleNotFoundError("No module named 'tensorflow'", name="tensorflow")

    _fake_stage(monkeypatch, "train.cli", no_tf)
    assert main(["train", "x"]) == 2
    err = capsys.readouterr().err
    assert "pneumo train needs TensorFlow: pip install 'pneumoscan[train]'" in err


def test_stage_errors_and_interrupts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def data_error(argv: list[str]) -> int:
        raise DataError("/data: no NORMAL/ folder")

    def interrupted(argv: list[str]) -> int:
        raise KeyboardInterrupt

    def exits(argv: list[str]) -> int:
        raise SystemExit(2)

    _fake_stage(monkeypatch, "convert.cli", data_error)
    assert main(["convert", "x"]) == 1
    assert capsys.readouterr().err == "pneumo: error: /data: no NORMAL/ folder\n"
    _fake_stage(monkeypatch, "convert.cli", interrupted)
    assert main(["convert"]) == 130
    _fake_stage(monkeypatch, "convert.cli", exits)
    assert main(["convert"]) == 2


def test_missing_stage_module(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "desktop.app", None)  # makes the import fail
    assert main(["gui"]) == 1
    assert "pneumo gui is not available" in capsys.readouterr().err


def test_unwritable_export_is_one_error_line(
    good: SampleFolder, float_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "results.csv"  # a folder that is a file
    assert main(["scan", str(good.good[0]), "--model", str(float_model), "--csv", str(target)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pneumo: error: ") and "cannot write" in err[0]


def test_info_reports_each_files_own_test_metrics() -> None:
    """The Keras row shows the training card's figures; each LiteRT row shows
    the parity report's figures for that file (int8 at its own threshold)."""
    import numpy as np

    from pneumo.commands.info import _test_metrics_of
    from pneumo.evaluation.metrics import compute_metrics
    from pneumo.model.card import ModelCard
    from pneumo.model.card_sections import GateResult, ParityReport
    from pneumo.model.preprocess import Preprocessing

    y = np.array([0, 0, 1, 1, 1])
    keras_m = compute_metrics(y, np.array([0.1, 0.6, 0.7, 0.8, 0.9]), 0.5)
    float_m = compute_metrics(y, np.array([0.1, 0.2, 0.7, 0.8, 0.9]), 0.5)
    int8_m = compute_metrics(y, np.array([0.1, 0.2, 0.3, 0.8, 0.9]), 0.4)
    card = ModelCard(name="t", architecture="a", preprocessing=Preprocessing(64),
                     metrics={"test": keras_m},
                     parity=ParityReport(
                         data="test", n=5, threshold=0.5,
                         metrics={"tflite_float": float_m, "tflite_int8": keras_m},
                         agreement={}, max_abs_delta_probability={},
                         gate=GateResult(0.0, 0.0), int8_at_own_threshold=int8_m))
    assert _test_metrics_of("model.keras", "keras", card) == keras_m.to_dict()
    assert _test_metrics_of("model_float.tflite", "float", card) == float_m.to_dict()
    assert _test_metrics_of("model.tflite", "int8", card) == int8_m.to_dict()
    bare = ModelCard(name="t", architecture="a", preprocessing=Preprocessing(64))
    assert _test_metrics_of("model.tflite", "int8", bare) is None
