"""The decoder chosen for each transfer syntax, and the films only it can read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom import uid
from pydicom.data import get_testdata_file

from pneumo.films.codecs import DECODER_ORDER, plugin_order
from pneumo.films.imaging import load_image
from tests import synth


def test_gdcm_is_never_used_for_decoding() -> None:
    for syntax in DECODER_ORDER:
        assert "gdcm" not in plugin_order(syntax)


@pytest.mark.parametrize(("syntax", "first"), [
    (uid.RLELossless, "pylibjpeg"),
    (uid.JPEGBaseline8Bit, "imagecodecs"),
    (uid.JPEGExtended12Bit, "imagecodecs"),
    (uid.JPEGLosslessSV1, "imagecodecs"),
    (uid.JPEGLSLossless, "imagecodecs"),
    (uid.JPEG2000Lossless, "pylibjpeg"),
    (uid.HTJ2KLossless, "imagecodecs"),
])
def test_the_measured_fastest_plugin_is_tried_first(syntax: uid.UID, first: str) -> None:
    assert plugin_order(syntax)[0] == first


def test_pydicoms_12_bit_jpeg_extended_sample_decodes() -> None:
    """JPEG-lossy.dcm: 12-bit sequential JPEG with a malformed scan header (Se = 0),
    refused by pylibjpeg-libjpeg, GDCM and Pillow; libjpeg-turbo reads it as IJG does."""
    path = Path(str(get_testdata_file("JPEG-lossy.dcm")))
    image = load_image(path)
    assert image.pixels.shape == (1024, 256)
    assert image.metadata.transfer_syntax == "JPEG Extended (Process 2 and 4)"
    assert 0.0 <= image.pixels.min() and image.pixels.max() <= 1.0 and image.pixels.std() > 0.05


@pytest.mark.parametrize("syntax", sorted(synth.ENCODERS, key=str))
def test_every_encoder_round_trips(syntax: uid.UID, tmp_path: Path) -> None:
    """Each syntax the tests write decodes to the film (lossless) or close to it (lossy)."""
    film = synth.film()
    pixels = load_image(synth.write_encoded(film, tmp_path / "f.dcm", syntax)).pixels
    tolerance = 0.06 if syntax == uid.JPEGBaseline8Bit else (
        0.004 if syntax == uid.JPEGExtended12Bit else 1e-4)
    assert np.abs(pixels - film / 255.0).max() <= tolerance


def test_htj2k_decoders_agree_and_the_header_is_checked(tmp_path: Path) -> None:
    """An HTJ2K lossless film decodes to the same values with OpenJPH (imagecodecs,
    first) and OpenJPEG (pylibjpeg, the fallback); a codestream that contradicts the
    header is refused before either sees it."""
    from pydicom.pixels import pixel_array

    from pneumo.errors import ImageError

    path = synth.write_encoded(synth.film((300, 260)), tmp_path / "ht.dcm", uid.HTJ2KLossless)
    ours = pixel_array(str(path), decoding_plugin="imagecodecs")
    theirs = pixel_array(str(path), decoding_plugin="pylibjpeg")
    np.testing.assert_array_equal(ours, theirs)
    ds = pydicom.dcmread(path)
    ds.Rows = 600  # the codestream's SIZ says 300
    ds.save_as(tmp_path / "lying.dcm")
    with pytest.raises(ImageError, match="does not match"):
        load_image(tmp_path / "lying.dcm")
