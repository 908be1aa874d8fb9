"""load_image on raster files (PNG 8/16 bit, JPEG, TIFF, BMP), colour, and bad inputs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from pneumo.errors import ImageError, UnreadableFileError, UnsupportedImageError
from pneumo.films import imaging
from pneumo.films.imaging import LoadedImage, load_image, to_luma
from pneumo.model.preprocess import Preprocessing, preprocess
from tests import synth

FILM = synth.film()


def _expect(path: Path, kind: type[ImageError], *words: str) -> ImageError:
    """load_image(path) raises ``kind`` whose message names the file and has ``words``."""
    with pytest.raises(kind) as info:
        load_image(path)
    message = str(info.value)
    assert path.name in message
    assert info.value.path == path
    for word in words:
        assert word in message
    return info.value


# --- formats ---------------------------------------------------------------------------


def test_png8_gives_exact_float_pixels(tmp_path: Path) -> None:
    image = load_image(synth.write_png(FILM, tmp_path / "film.png"))
    assert isinstance(image, LoadedImage)
    assert image.pixels.dtype == np.float32
    assert image.pixels.shape == FILM.shape
    np.testing.assert_allclose(image.pixels, FILM / 255.0, atol=1e-6)
    meta = image.metadata
    assert (meta.format, meta.width, meta.height) == ("PNG", FILM.shape[1], FILM.shape[0])
    assert meta.is_color is False and meta.modality is None and image.warnings == ()


def test_png16_keeps_full_range(tmp_path: Path) -> None:
    # Every 16-bit level from 0 to 65535, most of them not multiples of 257.
    ramp = np.linspace(0, 65535, 300 * 200).round().astype(np.uint16).reshape(300, 200)
    image = load_image(synth.write_png(ramp, tmp_path / "ramp16.png"))
    assert image.pixels.min() == 0.0 and image.pixels.max() == 1.0
    np.testing.assert_allclose(image.pixels * 65535.0, ramp, atol=0.02)
    assert len(np.unique(image.pixels)) > 10_000  # not squashed to 8 bits


def test_png16_low_values_are_not_stretched(tmp_path: Path) -> None:
    dim = (FILM.astype(np.uint16) * 16).astype(np.uint16)  # 12-bit data in a 16-bit PNG
    image = load_image(synth.write_png(dim, tmp_path / "dim.png"))
    np.testing.assert_allclose(image.pixels, dim / 65535.0, atol=1e-6)


@pytest.mark.parametrize("fmt", ["TIFF", "BMP"])
def test_tiff_and_bmp_8bit(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"film.{fmt.lower()}"
    Image.fromarray(FILM).save(path, format=fmt)
    image = load_image(path)
    assert image.metadata.format == fmt
    np.testing.assert_allclose(image.pixels, FILM / 255.0, atol=1e-6)


def test_tiff_16bit(tmp_path: Path) -> None:
    arr = FILM.astype(np.uint16) * 257 + 3
    path = tmp_path / "film16.tif"
    Image.fromarray(arr).save(path, format="TIFF")
    np.testing.assert_allclose(load_image(path).pixels, arr / 65535.0, atol=1e-6)


def test_multipage_tiff_uses_first_page_with_warning(tmp_path: Path) -> None:
    path = tmp_path / "pages.tif"
    first, second = Image.fromarray(FILM), Image.fromarray(255 - FILM)
    first.save(path, format="TIFF", save_all=True, append_images=[second])
    image = load_image(path)
    np.testing.assert_allclose(image.pixels, FILM / 255.0, atol=1e-6)
    assert image.metadata.number_of_frames == 2
    assert any("first frame" in w for w in image.warnings)


def test_jpeg_close_to_png(tmp_path: Path) -> None:
    png = preprocess(load_image(synth.write_png(FILM, tmp_path / "a.png")), Preprocessing())
    jpg = load_image(synth.write_jpeg(FILM, tmp_path / "a.jpg"))
    assert jpg.metadata.format == "JPEG"
    diff = np.abs(preprocess(jpg, Preprocessing()) - png)
    assert diff.max() <= 0.03 and diff.mean() <= 0.005


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    Image.fromarray(FILM).save(path, format="JPEG", quality=95, exif=exif)
    image = load_image(path)
    assert image.pixels.shape == (FILM.shape[1], FILM.shape[0])
    expected = np.rot90(FILM, k=-1) / 255.0
    assert np.abs(image.pixels - expected).mean() < 0.01


# --- colour ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P"])
def test_gray_colour_modes_give_luma_not_colour(tmp_path: Path, mode: str) -> None:
    image = load_image(synth.write_color_png(FILM, tmp_path / f"{mode}.png", mode))
    assert image.pixels.ndim == 2
    assert image.metadata.is_color is False
    tolerance = 1e-6 if mode != "P" else 1.0 / 255.0
    np.testing.assert_allclose(image.pixels, FILM / 255.0, atol=tolerance)


def test_colour_photo_is_flagged_and_converted_to_luma(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    image = load_image(path)
    assert image.metadata.is_color is True
    luma = (rgb.astype(np.float64) / 255.0) @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(image.pixels, luma, atol=1e-5)


def test_palette_colour_image_is_flagged(tmp_path: Path) -> None:
    rgb = np.zeros((100, 100, 3), dtype=np.uint8)
    rgb[:, :50] = (200, 30, 30)
    rgb[:, 50:] = (30, 30, 200)
    path = tmp_path / "pal.png"
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(path)
    assert load_image(path).metadata.is_color is True


def test_small_colour_annotation_or_chroma_noise_is_not_colour(tmp_path: Path) -> None:
    rgb = np.repeat(FILM[:, :, None], 3, axis=2)
    rgb[10:14, 10:30] = (255, 0, 0)  # a small red marker: < 1% of pixels
    noise = np.random.default_rng(2).integers(-3, 4, size=rgb.shape)
    noisy = np.clip(rgb.astype(int) + noise, 0, 255).astype(np.uint8)
    path = tmp_path / "annotated.png"
    Image.fromarray(noisy).save(path)
    assert load_image(path).metadata.is_color is False
    jpeg = tmp_path / "gray_rgb.jpg"
    Image.fromarray(np.repeat(FILM[:, :, None], 3, axis=2)).save(jpeg, quality=90)
    assert load_image(jpeg).metadata.is_color is False


def test_to_luma_threshold() -> None:
    gray = np.full((100, 100, 3), 0.5, dtype=np.float32)
    assert to_luma(gray)[1] is False
    tinted = gray.copy()
    tinted[:, :, 0] += 0.2
    assert to_luma(tinted)[1] is True
    values, flag = to_luma(np.zeros((4, 4), dtype=np.float32))
    assert values.shape == (4, 4) and flag is False


# --- bad inputs ------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    _expect(tmp_path / "nope.png", UnreadableFileError, "not found")


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "folder.png"
    folder.mkdir()
    _expect(folder, UnreadableFileError, "directory")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.dcm"
    path.write_bytes(b"")
    _expect(path, UnreadableFileError, "empty")


def test_text_file_named_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\n" * 20)
    _expect(path, UnsupportedImageError, "not an accepted image format", ".png")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_unreadable_permissions(tmp_path: Path) -> None:
    path = synth.write_png(FILM, tmp_path / "locked.png")
    path.chmod(0)
    try:
        _expect(path, UnreadableFileError, "permission denied")
    finally:
        path.chmod(0o644)


def test_permission_error_is_mapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = synth.write_png(FILM, tmp_path / "locked.png")

    def refuse(file: object, *args: object) -> object:
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr(imaging, "open", refuse, raising=False)
    _expect(path, UnreadableFileError, "permission denied")


@pytest.mark.parametrize("cut", [2, 1, 500, 5000])
@pytest.mark.parametrize("lenient", [False, True])
def test_truncated_jpeg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut: int, lenient: bool
) -> None:
    # Even if some other code lets Pillow load truncated images, we refuse them.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", lenient)
    data = synth.write_jpeg(FILM, tmp_path / "full.jpg").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[:-cut])
    _expect(path, UnreadableFileError, "truncated")


@pytest.mark.parametrize("cut", [12, 13, 40, 2000])
def test_truncated_png(tmp_path: Path, cut: int) -> None:
    data = synth.write_png(FILM, tmp_path / "full.png").read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[:-cut])
    _expect(path, UnreadableFileError, "truncated")


def test_corrupt_png_body(tmp_path: Path) -> None:
    data = bytearray(synth.write_png(FILM, tmp_path / "full.png").read_bytes())
    data[100:400] = bytes(300)
    path = tmp_path / "corrupt.png"
    path.write_bytes(bytes(data))
    _expect(path, UnreadableFileError)


def test_over_pixel_limit_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imaging, "MAX_PIXELS", 10_000)
    path = synth.write_png(FILM, tmp_path / "big.png")
    _expect(path, UnsupportedImageError, f"image too large ({FILM.shape[1]} x {FILM.shape[0]})")


def test_decompression_bomb_png(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("1", (10_001, 10_001)).save(path, optimize=True)  # ~100 MP, a few kB
    assert path.stat().st_size < 200_000
    _expect(path, UnsupportedImageError, "image too large")


def test_pillow_limit_is_set_deliberately() -> None:
    assert Image.MAX_IMAGE_PIXELS == imaging.MAX_PIXELS == 50_000_000


_MAGICS = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"II*\x00", b"BM", b"\x08\x00\x05\x00CS"]


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom complains about fuzzed values
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(_MAGICS), body=st.binary(max_size=600))
def test_arbitrary_bytes_never_escape_as_raw_exceptions(prefix: bytes, body: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.png"
        path.write_bytes(prefix + body)
        try:
            image = load_image(path)
        except ImageError as exc:
            assert "fuzz.png" in str(exc)
        else:
            assert image.pixels.ndim == 2 and image.pixels.dtype == np.float32
            assert np.isfinite(image.pixels).all()
            assert image.pixels.min() >= 0.0 and image.pixels.max() <= 1.0


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=1, max_value=4000), flip=st.integers(min_value=0, max_value=4000))
def test_damaged_real_formats_raise_image_errors(cut: int, flip: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for writer, name in ((synth.write_png, "f.png"), (synth.write_jpeg, "f.jpg")):
            data = bytearray(writer(FILM, Path(folder) / name).read_bytes())
            data[flip % len(data)] ^= 0xFF
            path = Path(folder) / f"damaged-{name}"
            path.write_bytes(bytes(data[: max(1, len(data) - cut)]))
            with pytest.raises(ImageError, match="damaged-"):
                load_image(path)


# --- real films ------------------------------------------------------------------------


@pytest.mark.data
def test_real_jpeg_films_load_like_their_png(real_test_films: list[Path], tmp_path: Path) -> None:
    for film_path in real_test_films:
        arr = np.asarray(Image.open(film_path).convert("L"))
        image = load_image(film_path)
        assert image.metadata.format == "JPEG" and image.metadata.is_color is False
        png = load_image(synth.write_png(arr, tmp_path / f"{film_path.stem}.png"))
        np.testing.assert_array_equal(image.pixels, png.pixels)
        x = preprocess(image, Preprocessing())
        assert x.shape == (224, 224, 1) and x.dtype == np.float32
