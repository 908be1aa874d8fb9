"""The fast path equals the reference path, bit for bit, on every encoding.

Fast: :func:`load_image` (header and first frame only, the chosen decoders,
stored values mapped through a per-file lookup table). Reference: the loader
as it was, pydicom reading the whole file and every pixel going through the
modality LUT, VOI LUT or window, scaling and inversion in float arithmetic.
The model input (:func:`preprocess`, the one preprocessing function) and the
shipped model's answer must come out the same.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pydicom.pixels import pixel_array
from pydicom.uid import UID

from pneumo.films import dicom
from pneumo.films.dicom_values import map_values
from pneumo.films.imaging import load_image
from pneumo.model.preprocess import Preprocessing, preprocess
from tests import synth

SPEC = Preprocessing(contrast="equalize")
FILM = synth.film()


def reference_pixels(path: Path) -> np.ndarray:
    """The whole file through pydicom, then per-pixel float arithmetic."""
    ds = pydicom.dcmread(path, force=True)
    if "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    raw = pixel_array(ds, index=0)
    pixels, _ = map_values(path, raw, ds, [], lookup_table=False)
    return pixels


def _signed(arr8: np.ndarray, path: Path) -> Path:
    """Signed 16-bit with negative values, rescaled and windowed."""
    stored = arr8.astype(np.int16) * 8 - 1000
    ds = synth.dicom_dataset(stored, 16, RescaleSlope=2.0, RescaleIntercept=-24,
                             WindowCenter=-500.0, WindowWidth=3000.0)
    return synth.save(ds, path)


def _negative_slope_min_max(arr8: np.ndarray, path: Path) -> Path:
    """No window: the min..max scaling of a decreasing rescale."""
    ds = synth.dicom_dataset(arr8.astype(np.uint16) * 16, 12, RescaleSlope=-0.5,
                             RescaleIntercept=100)
    return synth.save(ds, path)


def _sigmoid(arr8: np.ndarray, path: Path) -> Path:
    ds = synth.dicom_dataset(arr8.astype(np.uint16) * 16, 12, WindowCenter=2000.0,
                             WindowWidth=3000.0, VOILUTFunction="SIGMOID")
    return synth.save(ds, path)


def _big_endian(arr8: np.ndarray, path: Path) -> Path:
    ds = synth.windowed_dataset(arr8)
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRBigEndian
    ds.save_as(path, enforce_file_format=True, little_endian=False, implicit_vr=False)
    return path


def _deflated(arr8: np.ndarray, path: Path) -> Path:
    ds = synth.windowed_dataset(arr8)
    ds.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
    return synth.save(ds, path)


def _encoded(syntax: UID):  # type: ignore[no-untyped-def]
    def write(arr8: np.ndarray, path: Path) -> Path:
        return synth.write_encoded(arr8, path, syntax)

    return write


ENCODINGS = {
    **{name: write for name, (_, write) in synth.VARIANTS.items() if name.startswith("dicom")},
    "plain16": synth.write_dicom_plain16,
    "voi_lut_16bit": lambda arr, path: synth.write_dicom_voi_lut(arr, path, lut_bits=16),
    "signed": _signed,
    "negative_slope_min_max": _negative_slope_min_max,
    "sigmoid": _sigmoid,
    "big_endian": _big_endian,
    "deflated": _deflated,
    **{f"encoded_{syntax.keyword}": _encoded(syntax) for syntax in synth.ENCODERS},
}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_fast_path_equals_reference_on_synthetic_films(encoding: str, tmp_path: Path) -> None:
    path = ENCODINGS[encoding](FILM, tmp_path / f"{encoding}.dcm")
    fast = load_image(path).pixels
    reference = reference_pixels(path)
    np.testing.assert_array_equal(fast, reference)
    np.testing.assert_array_equal(preprocess(fast, SPEC), preprocess(reference, SPEC))


def test_lookup_table_equals_per_pixel_arithmetic_at_clinical_size(tmp_path: Path) -> None:
    big = cv2.resize(FILM, (2500, 3000), interpolation=cv2.INTER_LINEAR)
    path = synth.write_dicom_mono1(big, tmp_path / "big.dcm")
    fast = load_image(path).pixels
    slow = dicom.read_dicom(path, 10**9, lookup_table=False).pixels
    np.testing.assert_array_equal(fast, slow)


@settings(max_examples=60, deadline=None)
@given(
    bits=st.sampled_from([8, 12, 16]),
    signed=st.booleans(),
    slope=st.floats(-4.0, 8.0).filter(lambda v: abs(v) > 1e-3),
    intercept=st.floats(-3000.0, 3000.0),
    center=st.floats(-3000.0, 20000.0),
    width=st.floats(1.0, 40000.0),
    windowed=st.booleans(),
    mono1=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_lookup_table_equals_per_pixel_arithmetic(
    bits: int, signed: bool, slope: float, intercept: float, center: float, width: float,
    windowed: bool, mono1: bool, seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)
    dtype = {8: np.int8, 12: np.int16, 16: np.int16}[bits] if signed else (
        np.uint8 if bits == 8 else np.uint16)
    stored = rng.integers(lo, hi, size=(40, 36)).astype(dtype)
    extra: dict[str, object] = {"RescaleSlope": round(slope, 4),
                                "RescaleIntercept": round(intercept, 2)}
    if windowed:
        extra.update(WindowCenter=round(center, 2), WindowWidth=round(width, 2))
    photometric = "MONOCHROME1" if mono1 else "MONOCHROME2"
    with tempfile.TemporaryDirectory() as folder:
        path = synth.save(synth.dicom_dataset(stored, bits, photometric, **extra),
                          Path(folder) / "p.dcm")
        fast = load_image(path).pixels
        np.testing.assert_array_equal(fast, reference_pixels(path))


@pytest.mark.data
def test_fast_path_equals_reference_on_real_films_at_clinical_size(
    real_test_films: list[Path], tmp_path: Path
) -> None:
    """2,500 px films made from real test films, in every encoding: same input, same answer."""
    from pneumo.model.locate import default_model_path
    from pneumo.model.runner import ModelRunner

    runner = ModelRunner(default_model_path())
    spec = runner.card.preprocessing
    writers = {name: ENCODINGS[name] for name in ENCODINGS
               if name.startswith("encoded_") or name in ("dicom_windowed", "dicom_mono1",
                                                          "dicom_voi_lut", "plain16", "signed")}
    for index, film_path in enumerate(real_test_films[:2]):
        arr = np.asarray(Image.open(film_path).convert("L"))
        scale = 2500 / max(arr.shape)
        size = (round(arr.shape[1] * scale), round(arr.shape[0] * scale))
        big = np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.BICUBIC))
        for name, write in writers.items():
            path = write(big, tmp_path / f"{index}_{name}.dcm")
            fast = preprocess(load_image(path), spec)
            reference = preprocess(reference_pixels(path), spec)
            assert np.abs(fast - reference).max() <= 1e-3, name
            p_fast, p_ref = runner.predict(fast), runner.predict(reference)
            assert abs(p_fast - p_ref) <= 1e-4, name
            assert runner.card.label_for(p_fast, runner.threshold) == runner.card.label_for(
                p_ref, runner.threshold)
            path.unlink()
