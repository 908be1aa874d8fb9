"""The viewer's quick preview of classic JPEG 2000 films: a reduced decode, never a model input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from pydicom import uid

from pneumo.films.imaging import load_image
from pneumo.films.j2k_reduced import (
    NoReducedDecode,
    decode_j2k,
    decode_reduced,
    reduction_for,
)
from pneumo.films.preview import PREVIEW_SIDE, load_preview
from tests import synth

imagecodecs = pytest.importorskip("imagecodecs")


def _codestream(stored: np.ndarray, bits: int) -> bytes:
    return bytes(imagecodecs.jpeg2k_encode(stored, level=0, codecformat="J2K",
                                           bitspersample=bits, reversible=True))


def _big_film(shape: tuple[int, int] = (1700, 2050)) -> np.ndarray:
    """An 8-bit chest-like film, smooth enough that halving it loses little."""
    small = synth.film((shape[0] // 4, shape[1] // 4), seed=3)
    big = cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(big, (0, 0), 6)


@pytest.mark.parametrize("bits", [8, 12, 16])
def test_full_size_decode_is_bit_exact_and_reduced_sizes_are_ceilings(bits: int) -> None:
    rng = np.random.default_rng(bits)
    stored = rng.integers(0, 2**bits, (301, 457)).astype(np.uint8 if bits == 8 else np.uint16)
    frame = _codestream(stored, bits)
    assert np.array_equal(decode_j2k(frame, 0), stored)
    # Pillow alone rounds 457 / 4 to 114 and refuses the stream; OpenJPEG gives 115.
    assert [decode_j2k(frame, r).shape for r in (1, 2, 3)] == [(151, 229), (76, 115), (38, 58)]


def test_a_reduced_decode_is_a_smaller_picture_of_the_film() -> None:
    stored = _big_film((600, 900)).astype(np.uint16) * 16
    reduced = decode_j2k(_codestream(stored, 12), 2).astype(np.float32)
    area = cv2.resize(stored.astype(np.float32), (reduced.shape[1], reduced.shape[0]),
                      interpolation=cv2.INTER_AREA)
    assert reduced.shape == (150, 225)
    assert np.abs(reduced - area).mean() < 0.01 * 4095


def test_reduction_keeps_the_long_side_at_least_the_minimum() -> None:
    assert reduction_for(2127, 3000, 5, 512) == 2  # 750 px
    assert reduction_for(2000, 2500, 5, 512) == 2  # 625 px
    assert reduction_for(3000, 4096, 5, 512) == 3  # 512 px
    assert reduction_for(3000, 4096, 2, 512) == 2  # no more than the stream's levels
    assert reduction_for(700, 1000, 5, 512) == 0


def test_small_or_colour_streams_have_no_reduced_decode() -> None:
    with pytest.raises(NoReducedDecode, match="small enough"):
        decode_reduced(_codestream(np.zeros((600, 1000), np.uint16), 12), PREVIEW_SIDE)
    rgb = np.zeros((2048, 2048, 3), np.uint8)
    with pytest.raises(NoReducedDecode, match="one-component"):
        decode_reduced(bytes(imagecodecs.jpeg2k_encode(rgb, level=0, codecformat="J2K")),
                       PREVIEW_SIDE)
    with pytest.raises(NoReducedDecode):
        decode_reduced(b"\xff\xd8 not a JPEG 2000 stream", PREVIEW_SIDE)


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_preview_of_a_large_jpeg2000_film_looks_like_the_film(photometric: str,
                                                              tmp_path: Path) -> None:
    arr8 = _big_film()
    if photometric == "MONOCHROME2":
        ds = synth.windowed_dataset(arr8)
    else:
        center, width = synth.linear_window(4095.0 - 255 * 16, 4095.0)
        ds = synth.dicom_dataset(4095 - arr8.astype(np.uint16) * 16, 12, "MONOCHROME1",
                                 WindowCenter=center, WindowWidth=width)
    path = synth.save(synth.encode_dataset(ds, uid.JPEG2000Lossless), tmp_path / "f.dcm")
    before = path.read_bytes()
    preview = load_preview(path)
    full = load_image(path)
    assert preview is not None
    assert preview.pixels.shape == (425, 513)  # a quarter, rounded up
    assert (preview.metadata.width, preview.metadata.height) == (2050, 1700)
    assert preview.metadata.photometric == photometric
    assert preview.metadata.value_mapping == full.metadata.value_mapping == "window"
    area = cv2.resize(full.pixels, (513, 425), interpolation=cv2.INTER_AREA)
    assert np.abs(preview.pixels - area).mean() < 0.01  # bright = dense in both
    assert path.read_bytes() == before


def test_films_without_a_quick_preview(tmp_path: Path) -> None:
    arr8 = _big_film()
    plain = synth.save(synth.windowed_dataset(arr8), tmp_path / "plain.dcm")
    htj2k = synth.save(synth.encode_dataset(synth.windowed_dataset(arr8), uid.HTJ2KLossless),
                       tmp_path / "ht.dcm")
    small = synth.write_encoded(synth.film((800, 1000)), tmp_path / "small.dcm",
                                uid.JPEG2000Lossless)
    png = synth.write_png(synth.film(), tmp_path / "film.png")
    big = synth.save(synth.encode_dataset(synth.windowed_dataset(arr8), uid.JPEG2000Lossless),
                     tmp_path / "big.dcm")
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(big.read_bytes()[:4000])
    for path in (plain, htj2k, small, png, cut, tmp_path / "missing.dcm"):
        assert load_preview(path) is None, path.name
    assert load_preview(big) is not None
