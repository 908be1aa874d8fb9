"""``pneumo self-test``: every check passes on the shipped install, and each
kind of breakage (tampered model, missing decoder plugin, wrong pixels, an app
that cannot open its window) turns its own line into FAIL and the exit code to 1."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from pneumo.cli import main
from pneumo.model.locate import assets_dir
from pneumo.selftest import checks
from pneumo.selftest.checks import decode_checks, model_checks, sample_film, window_check
from pneumo.selftest.films import FILMS, Film, film_bytes, reference_pixels


def _check_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(("ok ", "FAIL"))]


def test_self_test_passes_on_the_shipped_models(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PNEUMO_ASSETS", raising=False)
    assert main(["self-test", "--no-window"]) == 0
    out = capsys.readouterr().out
    lines = _check_lines(out)
    names = [line.split(":")[0].split(None, 1)[1] for line in lines]
    assert all(line.startswith("ok ") for line in lines), out
    assert {"sha256 model.tflite", "sha256 model_float.tflite", "inference model.tflite",
            "inference model_float.tflite", "models agree"} <= set(names)
    assert [n for n in names if n.startswith("decode ")] == [f"decode {f.name}" for f in FILMS]
    assert out.rstrip().endswith(f"all {len(lines)} checks passed")


def _copy_assets(tmp_path: Path) -> Path:
    copy = tmp_path / "assets"
    shutil.copytree(assets_dir(), copy, ignore=shutil.ignore_patterns("*.keras", "plots"))
    return copy


def test_tampered_model_fails_its_lines_and_the_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = _copy_assets(tmp_path)
    model = copy / "model.tflite"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    monkeypatch.setenv("PNEUMO_ASSETS", str(copy))
    assert main(["self-test", "--no-window"]) == 1
    out = capsys.readouterr().out
    failed = [line for line in _check_lines(out) if line.startswith("FAIL")]
    assert [line.split(":")[0] for line in failed] == [
        "FAIL  sha256 model.tflite", "FAIL  inference model.tflite"]
    assert "ok    sha256 model_float.tflite" in out
    assert "2 of" in out and "checks FAILED" in out


def test_missing_model_file_is_a_failure(tmp_path: Path) -> None:
    copy = _copy_assets(tmp_path)
    (copy / "model_float.tflite").unlink()
    results = {r.name: r for r in model_checks(copy)}
    assert not results["sha256 model_float.tflite"].ok
    assert "missing" in results["sha256 model_float.tflite"].detail
    assert not results["inference model_float.tflite"].ok
    assert results["inference model.tflite"].ok


def test_unreadable_card_is_one_failure(tmp_path: Path) -> None:
    (tmp_path / "model_card.json").write_text("{not json")
    (result,) = model_checks(tmp_path)
    assert result.name == "model card" and not result.ok


def test_sample_film_prefers_dicom() -> None:
    film = sample_film(assets_dir())
    assert film is not None and film.suffix == ".dcm"


def test_shipped_films_are_small_and_in_their_transfer_syntax() -> None:
    import io

    import pydicom

    shipped = [f for f in FILMS if f.file is not None]
    assert len({f.transfer_syntax for f in FILMS}) == len(FILMS)
    for film in FILMS:
        data = film_bytes(film)
        if film.file is not None:
            assert len(data) < 8_000, film.name  # shipped in the package: a few kB each
        ds = pydicom.dcmread(io.BytesIO(data))
        assert ds.file_meta.TransferSyntaxUID == film.transfer_syntax
        assert ds.Rows == ds.Columns == reference_pixels().shape[0]
    assert len(shipped) >= 8


def test_a_missing_decoder_plugin_fails_only_its_syntaxes(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydicom.pixels import get_decoder

    jpeg_ls = [f for f in FILMS if f.name.startswith("JPEG-LS")]
    for film in jpeg_ls:
        monkeypatch.setattr(get_decoder(film.transfer_syntax), "_available", {})
    results = decode_checks()
    failed = {r.name for r in results if not r.ok}
    assert failed == {f"decode {f.name}" for f in jpeg_ls}


def test_wrong_pixels_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    lossy = next(f for f in FILMS if f.name == "JPEG 2000")
    strict = Film(lossy.name, lossy.transfer_syntax, tolerance=0.0, file=lossy.file)
    (result,) = decode_checks([strict])
    assert not result.ok and "max error" in result.detail


def test_a_film_in_the_wrong_syntax_fails() -> None:
    rle = next(f for f in FILMS if f.name == "RLE Lossless")
    liar = Film("JPEG 2000 Lossless", "1.2.840.10008.1.2.4.90", file=rle.file)
    (result,) = decode_checks([liar])
    assert not result.ok and "1.2.840.10008.1.2.5" in result.detail


def test_window_check_draws_the_app_offscreen(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # the user's settings stay untouched
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    result = window_check(sample_film(assets_dir()), timeout=120)
    assert result.ok, result.detail
    assert "window" in result.detail
    assert not (tmp_path / "config").exists()


def test_window_check_fails_when_the_app_cannot_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "app_command",
                        lambda: [sys.executable, "-c", "import sys; sys.exit(3)"])
    result = window_check(None, timeout=30)
    assert not result.ok and result.detail.startswith("exit 3")


def test_a_panicking_plugin_is_a_failed_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rust plugins (pylibjpeg-rle) raise pyo3's PanicException, a BaseException."""
    import pydicom.pixels

    class PanicException(BaseException):
        pass

    def panic(*_args: object, **_kwargs: object) -> None:
        raise PanicException("index out of bounds")

    monkeypatch.setattr(pydicom.pixels, "pixel_array", panic)
    rle = next(f for f in FILMS if f.name == "RLE Lossless")
    (result,) = decode_checks([rle])
    assert not result.ok and "index out of bounds" in result.detail
