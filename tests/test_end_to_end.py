"""The whole pipeline through the ``pneumo`` command: train -> convert -> scan
-> evaluate, and format-independence of scan results on real films."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pneumo.cli import main
from pneumo.model.locate import assets_dir
from tests import synth


def _json_stdout(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_train_convert_scan_evaluate_through_the_cli(
    synthetic_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tensorflow")
    run, out = tmp_path / "run", tmp_path / "models"
    assert main(["train", str(synthetic_dataset), "--out", str(run), "--epochs", "2",
                 "--input-size", "64", "--batch-size", "16"]) == 0
    assert (run / "model.keras").is_file()
    assert main(["convert", str(run / "model.keras"), "--out", str(out),
                 "--calibration", str(synthetic_dataset), "--calibration-count", "40",
                 "--no-gate"]) == 0
    assert {"model.tflite", "model_float.tflite", "model_card.json"} <= {
        p.name for p in out.iterdir()}

    test_files = sorted((synthetic_dataset / "test").rglob("*.png"))
    code, records = _json_stdout(
        capsys, ["scan", str(synthetic_dataset / "test"), "--json", "-",
                 "--model", str(out / "model.tflite")])
    assert code == 0
    assert isinstance(records, list)
    assert sorted(Path(r["path"]).name for r in records) == sorted(p.name for p in test_files)
    for record in records:
        assert record["error"] is None
        assert record["label"] in ("NORMAL", "PNEUMONIA")
        assert 0.0 <= record["probability"] <= 1.0

    code, report = _json_stdout(
        capsys, ["evaluate", str(synthetic_dataset), "--model", str(out / "model.tflite"),
                 "--json", "-"])
    assert code == 0 and isinstance(report, dict)
    assert report["n"] == len(test_files)
    assert report["tp"] + report["fp"] + report["tn"] + report["fn"] == len(test_files)
    assert report["kind"] == "int8"
    # the scan and evaluate paths agree on every label
    positives = sum(r["label"] == "PNEUMONIA" for r in records)
    assert positives == report["tp"] + report["fp"]


# The same film in every format a clinic may send; lossless ones must agree exactly,
# lossy ones closely, and all scan probabilities within 0.02.
FORMATS = ["png8", "png16", "jpeg", "dicom_windowed", "dicom_mono1", "dicom_rle",
           "dicom_jpeg_ls", "dicom_jpeg_baseline", "dicom_no_extension"]


def _clinical_size(arr8: np.ndarray, long_side: int = 2500) -> np.ndarray:
    """A film upscaled to detector size and 16 bits, like a CR/DX export."""
    h, w = arr8.shape
    scale = long_side / max(h, w)
    big = Image.fromarray(arr8).resize((round(w * scale), round(h * scale)), Image.Resampling.BICUBIC)
    return (np.asarray(big, dtype=np.float64) * 257.0).round().astype(np.uint16)


@pytest.mark.data
def test_scan_probabilities_agree_across_formats_on_real_films(
    real_test_films: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = assets_dir() / "model.tflite"
    if not model.is_file():
        pytest.skip(f"no shipped model at {model}")
    for index, film_path in enumerate(real_test_films):
        arr = np.asarray(Image.open(film_path).convert("L"))
        folder = tmp_path / f"film{index}"
        folder.mkdir()
        for variant in FORMATS:
            name, write = synth.VARIANTS[variant]
            write(arr, folder / f"{variant}-{name}")
        synth.write_dicom_full16(_clinical_size(arr), folder / "clinical_2500px_16bit.dcm")
    code, records = _json_stdout(capsys, ["scan", str(tmp_path), "--json", "-",
                                          "--model", str(model)])
    assert code == 0, [r["error"] for r in records if r["error"]]
    by_film: dict[str, list[float]] = {}
    by_name: dict[str, dict[str, float]] = {}
    for record in records:
        path = Path(record["path"])
        by_film.setdefault(path.parent.name, []).append(record["probability"])
        by_name.setdefault(path.parent.name, {})[path.name] = record["probability"]
    assert len(by_film) == len(real_test_films)
    for film, probabilities in by_film.items():
        assert len(probabilities) == len(FORMATS) + 1
        probs = by_name[film]
        lossless = [p for name, p in probs.items()
                    if name.split("-")[0] in set(FORMATS) - synth.LOSSY]
        assert max(lossless) - min(lossless) <= 0.005, (film, probs)
        # Lossy JPEG (in a file or inside DICOM) and the clinical-size copy
        # (bicubic upscale to 2,500 px, area-downscaled back) move pixels by a
        # few grey levels. Measured: the clinical path moved the shipped model's
        # probability by at most 0.026 over 104 test films (95th percentile
        # 0.019); DICOM JPEG baseline moved it by 0.027 on one of these films.
        reference = float(np.median(lossless))
        for name, p in probs.items():
            assert abs(p - reference) <= 0.04, (film, name, probs)
