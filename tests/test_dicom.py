"""load_image on DICOM: every encoding variant matches the 8-bit PNG of the same film."""

from __future__ import annotations

import shutil
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pydicom.data import get_testdata_file

from pneumo.errors import ImageError, UnreadableFileError, UnsupportedImageError
from pneumo.films.imaging import LoadedImage, load_image
from pneumo.films.sniff import sniff_dicom
from pneumo.model.preprocess import Preprocessing, preprocess
from tests import synth

FILM = synth.film()
SPEC = Preprocessing()


def _model_input(path: Path) -> np.ndarray:
    return preprocess(load_image(path), SPEC)


def _assert_close(variant: str, got: np.ndarray, want: np.ndarray) -> None:
    lossy = variant in synth.LOSSY
    max_tol, mean_tol = (0.03, 0.005) if lossy else (0.002, 0.0005)
    diff = np.abs(got - want)
    assert diff.max() <= max_tol, f"{variant}: max diff {diff.max():.4f}"
    assert diff.mean() <= mean_tol, f"{variant}: mean diff {diff.mean():.5f}"


@pytest.mark.parametrize("variant", sorted(synth.VARIANTS))
def test_variant_matches_png8(variant: str, tmp_path: Path) -> None:
    name, write = synth.VARIANTS[variant]
    reference = _model_input(synth.write_png(FILM, tmp_path / "reference.png"))
    path = write(FILM, tmp_path / name)
    image = load_image(path)
    assert image.pixels.dtype == np.float32 and image.pixels.shape == FILM.shape
    _assert_close(variant, preprocess(image, SPEC), reference)
    if variant not in synth.LOSSY:
        np.testing.assert_allclose(image.pixels, FILM / 255.0, atol=1e-4)


@pytest.mark.data
@pytest.mark.parametrize("variant", sorted(synth.VARIANTS))
def test_real_film_variant_matches_png8(
    variant: str, real_test_films: list[Path], tmp_path: Path
) -> None:
    name, write = synth.VARIANTS[variant]
    for index, film_path in enumerate(real_test_films):
        arr = np.asarray(Image.open(film_path).convert("L"))
        reference = _model_input(synth.write_png(arr, tmp_path / f"ref{index}.png"))
        _assert_close(variant, _model_input(write(arr, tmp_path / f"{index}-{name}")), reference)


def test_no_window_scales_by_min_max(tmp_path: Path) -> None:
    narrow = (FILM // 2 + 40).astype(np.uint8)  # uses 40..167 only
    image = load_image(synth.write_dicom_plain16(narrow, tmp_path / "plain.dcm"))
    assert image.metadata.value_mapping == "min-max"
    expected = (narrow - 40.0) / 127.0
    np.testing.assert_allclose(image.pixels, expected, atol=1e-5)


@pytest.mark.parametrize(
    "write", [synth.write_dicom_windowed, synth.write_dicom_mono1, synth.write_dicom_rle]
)
def test_window_output_is_not_stretched_to_the_data(
    tmp_path: Path, write: Callable[[np.ndarray, Path], Path]
) -> None:
    narrow = (FILM // 2 + 40).astype(np.uint8)  # 40..167: a window, unlike min-max, keeps it
    image = load_image(write(narrow, tmp_path / "narrow.dcm"))
    assert image.metadata.value_mapping == "window"
    np.testing.assert_allclose(image.pixels, narrow / 255.0, atol=1e-5)


@pytest.mark.parametrize("lut_bits", [8, 16])
def test_voi_lut_sequence(tmp_path: Path, lut_bits: int) -> None:
    image = load_image(synth.write_dicom_voi_lut(FILM, tmp_path / "voi.dcm", lut_bits))
    assert image.metadata.value_mapping == "VOI LUT"
    np.testing.assert_allclose(image.pixels, FILM / 255.0, atol=1e-5)


def test_monochrome1_is_inverted_so_dense_is_bright(tmp_path: Path) -> None:
    image = load_image(synth.write_dicom_mono1(FILM, tmp_path / "m1.dcm"))
    assert image.metadata.photometric == "MONOCHROME1"
    stored = pydicom.dcmread(tmp_path / "m1.dcm").pixel_array
    dense = FILM > 200  # the mediastinum: low stored values in MONOCHROME1
    assert stored[dense].mean() < stored[~dense].mean()
    assert image.pixels[dense].mean() > image.pixels[~dense].mean()


def test_invalid_window_falls_back_to_min_max(tmp_path: Path) -> None:
    ds = synth.dicom_dataset(FILM.astype(np.uint16) * 16, 12, WindowCenter=100, WindowWidth=0)
    image = load_image(synth.save(ds, tmp_path / "badwindow.dcm"))
    assert image.metadata.value_mapping == "min-max"
    assert any("window ignored" in w for w in image.warnings)
    np.testing.assert_allclose(image.pixels, FILM / 255.0, atol=1e-5)


def test_metadata_is_extracted(tmp_path: Path) -> None:
    path = synth.write_dicom_windowed(FILM, tmp_path / "meta.dcm")
    ds = pydicom.dcmread(path)
    meta = load_image(path).metadata
    assert meta.format == "DICOM"
    assert (meta.width, meta.height) == (FILM.shape[1], FILM.shape[0])
    assert (meta.modality, meta.body_part, meta.view_position) == ("DX", "CHEST", "PA")
    assert meta.patient_name == "Synthetic^Test^Q" and isinstance(meta.patient_name, str)
    assert (meta.patient_id, meta.patient_sex, meta.patient_age) == ("SYN-0042", "F", "047Y")
    assert meta.pixel_spacing == (0.139, 0.143)  # ImagerPixelSpacing when no PixelSpacing
    assert meta.sop_instance_uid == ds.SOPInstanceUID
    assert meta.study_instance_uid == ds.StudyInstanceUID
    assert (meta.study_date, meta.study_description) == ("20240131", "CHEST PA")
    assert (meta.accession_number, meta.institution) == ("ACC123", "Synthetic General Hospital")
    assert (meta.photometric, meta.bits_stored, meta.number_of_frames) == ("MONOCHROME2", 12, 1)
    assert meta.transfer_syntax == "Explicit VR Little Endian"
    assert meta.value_mapping == "window" and meta.is_color is False


def test_pixel_spacing_preferred_over_imager_spacing(tmp_path: Path) -> None:
    meta = load_image(synth.write_dicom_plain16(FILM, tmp_path / "ps.dcm")).metadata
    assert meta.pixel_spacing == (0.2, 0.2)


def test_missing_attributes_are_none(tmp_path: Path) -> None:
    ds = synth.windowed_dataset(FILM)
    for keyword in ("BodyPartExamined", "ViewPosition", "PatientAge", "ImagerPixelSpacing"):
        delattr(ds, keyword)
    ds.InstitutionName = ""
    meta = load_image(synth.save(ds, tmp_path / "sparse.dcm")).metadata
    assert meta.body_part is None and meta.view_position is None and meta.patient_age is None
    assert meta.pixel_spacing is None and meta.institution is None


def test_multiframe_uses_first_frame_with_warning(tmp_path: Path) -> None:
    image = load_image(synth.write_dicom_multiframe(FILM, tmp_path / "multi.dcm", frames=4))
    assert image.metadata.number_of_frames == 4
    assert any("4 frames" in w and "first frame" in w for w in image.warnings)
    np.testing.assert_allclose(image.pixels, FILM / 255.0, atol=1e-5)


def test_dicom_recognised_by_content_not_name(tmp_path: Path) -> None:
    path = synth.write_dicom_windowed(FILM, tmp_path / "actually_dicom.png")
    assert load_image(path).metadata.format == "DICOM"
    png = synth.write_png(FILM, tmp_path / "actually_png.dcm")
    assert load_image(png).metadata.format == "PNG"


def test_no_preamble_file_starts_with_group_0008(tmp_path: Path) -> None:
    path = synth.write_dicom_no_preamble(FILM, tmp_path / "IM0001")
    data = path.read_bytes()
    assert data[128:132] != b"DICM" and struct.unpack("<H", data[:2])[0] == 0x0008
    assert sniff_dicom(data) == "bare"
    assert load_image(path).metadata.modality == "DX"


def test_sniff_dicom() -> None:
    assert sniff_dicom(bytes(128) + b"DICM") == "preamble"
    explicit_le = struct.pack("<HH", 0x0008, 0x0005) + b"CS" + struct.pack("<H", 10)
    explicit_be = struct.pack(">HH", 0x0008, 0x0005) + b"CS" + struct.pack(">H", 10)
    implicit = struct.pack("<HHI", 0x0008, 0x0016, 26) + bytes(26)
    meta_group = struct.pack("<HH", 0x0002, 0x0000) + b"UL" + struct.pack("<HI", 4, 190)
    for head in (explicit_le, explicit_be, implicit, meta_group):
        assert sniff_dicom(head) == "bare"
    for head in (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0\x00\x10JFIF", b"hello world", b"\x08"):
        assert sniff_dicom(head) is None
    assert sniff_dicom(struct.pack("<HHI", 0x0008, 0x0016, 10_000)) is None  # length too long


def test_colour_dicom_gives_luma(tmp_path: Path) -> None:
    gray_rgb = np.repeat(FILM[:, :, None], 3, axis=2)
    image = load_image(synth.write_dicom_rgb(gray_rgb, tmp_path / "gray_rgb.dcm"))
    assert image.metadata.is_color is False
    np.testing.assert_allclose(image.pixels, FILM / 255.0, atol=1e-5)
    colour = gray_rgb.copy()
    colour[..., 0] = 255 - FILM
    image = load_image(synth.write_dicom_rgb(colour, tmp_path / "colour.dcm"))
    assert image.metadata.is_color is True and image.pixels.ndim == 2


# --- bad DICOM -------------------------------------------------------------------------


def test_no_pixel_data(tmp_path: Path) -> None:
    path = synth.write_dicom_no_pixels(tmp_path / "report.dcm")
    with pytest.raises(UnsupportedImageError, match="report.dcm: DICOM file has no pixel data"):
        load_image(path)


def test_too_large_refused_before_decoding(tmp_path: Path) -> None:
    ds = synth.windowed_dataset(FILM)
    ds.Rows, ds.Columns = 12_000, 9_000  # 108 MP; the pixel data is far too short
    path = synth.save(ds, tmp_path / "huge.dcm")
    with pytest.raises(UnsupportedImageError, match=r"huge.dcm: image too large \(9000 x 12000\)"):
        load_image(path)


def test_truncated_pixel_data(tmp_path: Path) -> None:
    data = synth.write_dicom_windowed(FILM, tmp_path / "full.dcm").read_bytes()
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[: len(data) - 5000])
    with pytest.raises(UnreadableFileError, match="cut.dcm") as info:
        load_image(path)
    assert "\n" not in str(info.value)


def test_dicm_magic_then_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.dcm"
    path.write_bytes(bytes(128) + b"DICM" + b"\xff\x13garbage" * 50)
    with pytest.raises(ImageError, match="garbage.dcm"):
        load_image(path)


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=1, max_value=60_000), flip=st.integers(min_value=0, max_value=800))
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_damaged_dicom_raises_image_error_or_loads(cut: int, flip: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        data = bytearray(synth.write_dicom_rle(FILM, Path(folder) / "f.dcm").read_bytes())
        data[132 + flip] ^= 0x5A
        path = Path(folder) / "damaged.dcm"
        path.write_bytes(bytes(data[: max(1, len(data) - cut)]))
        try:
            image = load_image(path)
        except ImageError as exc:
            assert "damaged.dcm" in str(exc)
        else:
            assert np.isfinite(image.pixels).all()
            assert 0.0 <= image.pixels.min() and image.pixels.max() <= 1.0


# --- pixel mapping property ------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    slope=st.floats(0.05, 8.0),
    intercept=st.floats(-3000.0, 3000.0),
    center=st.floats(-3000.0, 20000.0),
    width=st.floats(1.0, 40000.0),
    windowed=st.booleans(),
    mono1=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_mapping_is_monotonic_and_in_range(
    slope: float,
    intercept: float,
    center: float,
    width: float,
    windowed: bool,
    mono1: bool,
    seed: int,
) -> None:
    stored = np.random.default_rng(seed).integers(0, 4096, size=(24, 20), dtype=np.uint16)
    extra: dict[str, object] = {
        "RescaleSlope": round(slope, 4),
        "RescaleIntercept": round(intercept, 2),
    }
    if windowed:
        extra.update(WindowCenter=round(center, 2), WindowWidth=round(width, 2))
    photometric = "MONOCHROME1" if mono1 else "MONOCHROME2"
    with tempfile.TemporaryDirectory() as folder:
        ds = synth.dicom_dataset(stored, 12, photometric, **extra)
        pixels = load_image(synth.save(ds, Path(folder) / "p.dcm")).pixels
    assert pixels.dtype == np.float32 and np.isfinite(pixels).all()
    assert pixels.min() >= 0.0 and pixels.max() <= 1.0
    order = np.argsort(stored, axis=None, kind="stable")
    values = pixels.ravel()[order].astype(np.float64)
    steps = np.diff(values if not mono1 else -values)
    assert (steps >= -1e-6).all()  # brighter stored value -> brighter (MONO2) / darker (MONO1)


# --- clinical size ---------------------------------------------------------------------


def _upscale16(arr8: np.ndarray, long_side: int = 2500) -> np.ndarray:
    h, w = arr8.shape
    scale = long_side / max(h, w)
    size = (round(w * scale), round(h * scale))
    big = cv2.resize(arr8.astype(np.float32) * 257.0, size, interpolation=cv2.INTER_CUBIC)
    return np.clip(np.round(big), 0, 65535).astype(np.uint16)


def _check_clinical(arr8: np.ndarray, folder: Path, name: str) -> float:
    big = _upscale16(arr8)
    dcm = synth.write_dicom_full16(big, folder / f"{name}.dcm")
    png16 = synth.write_png(big, folder / f"{name}16.png")
    start = time.perf_counter()
    image = load_image(dcm)
    seconds = time.perf_counter() - start
    assert image.metadata.bits_stored == 16 and max(image.pixels.shape) == 2500
    from_dicom = preprocess(image, SPEC)
    np.testing.assert_allclose(from_dicom, _model_input(png16), atol=1e-4)
    # The same clinical-size film as an 8-bit PNG: equal to within 8-bit quantisation.
    big8 = np.round(big / 257.0).astype(np.uint8)
    reference = _model_input(synth.write_png(big8, folder / f"{name}8.png"))
    assert np.abs(from_dicom - reference).max() <= 0.5 / 255.0 + 1e-4
    # The original small film: only resampling (cubic up, area down) differs.
    original = _model_input(synth.write_png(arr8, folder / f"{name}orig.png"))
    diff = np.abs(from_dicom - original)
    assert diff.mean() <= 0.005 and diff.max() <= 0.1
    return seconds


def test_clinical_size_16bit_dicom_synthetic(tmp_path: Path) -> None:
    seconds = _check_clinical(FILM, tmp_path, "synthetic")
    assert seconds < 5.0, f"2500 px 16-bit DICOM took {seconds:.2f}s"


@pytest.mark.data
def test_clinical_size_16bit_dicom_real(real_test_films: list[Path], tmp_path: Path) -> None:
    for index, film_path in enumerate(real_test_films[:2]):
        arr = np.asarray(Image.open(film_path).convert("L"))
        _check_clinical(arr, tmp_path, f"real{index}")


def test_3000px_16bit_compressed_loads(tmp_path: Path) -> None:
    big = cv2.resize(FILM, (3000, 3000), interpolation=cv2.INTER_LINEAR)
    image = load_image(synth.write_dicom_rle(big, tmp_path / "big.dcm"))
    assert image.pixels.shape == (3000, 3000)
    np.testing.assert_allclose(image.pixels, big / 255.0, atol=1e-4)


# --- pydicom's bundled files -----------------------------------------------------------


def _bundled(name: str) -> Path:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom test file {name} not available")
    return Path(str(path))


def test_ct_loads_with_modality_ct() -> None:
    image = load_image(_bundled("CT_small.dcm"))
    assert image.metadata.modality == "CT"
    assert image.pixels.shape == (128, 128) and image.pixels.max() == 1.0


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
    ],
)
def test_mr_encodings_equal_uncompressed(name: str) -> None:
    reference = load_image(_bundled("MR_small.dcm"))
    image = load_image(_bundled(name))
    assert image.metadata.modality == "MR" and image.metadata.value_mapping == "window"
    np.testing.assert_array_equal(image.pixels, reference.pixels)


@pytest.mark.parametrize(
    "name", ["JPEG2000.dcm", "693_J2KI.dcm", "JPEGLSNearLossless_16.dcm", "JPGExtended.dcm",
             "JPEG-lossy.dcm"]
)
def test_bundled_compressed_grayscale_loads(name: str) -> None:
    image = load_image(_bundled(name))
    assert isinstance(image, LoadedImage) and image.pixels.ndim == 2
    assert image.pixels.min() >= 0.0 and image.pixels.max() <= 1.0 and image.pixels.std() > 0.01


@pytest.mark.parametrize(
    "name",
    ["SC_rgb_rle.dcm", "SC_rgb_jpeg_dcmtk.dcm", "examples_palette.dcm", "SC_rgb_gdcm_KY.dcm"],
)
def test_bundled_colour_files_are_flagged(name: str) -> None:
    image = load_image(_bundled(name))
    assert image.metadata.is_color is True and image.pixels.ndim == 2


def test_bundled_multiframe_warns() -> None:
    image = load_image(_bundled("SC_rgb_rle_2frame.dcm"))
    assert image.metadata.number_of_frames == 2 and image.warnings


@pytest.mark.parametrize("name", ["rtplan.dcm", "test-SR.dcm"])
def test_bundled_non_images_refused(name: str, tmp_path: Path) -> None:
    path = Path(shutil.copy(_bundled(name), tmp_path / name))
    with pytest.raises(UnsupportedImageError, match="no pixel data"):
        load_image(path)
