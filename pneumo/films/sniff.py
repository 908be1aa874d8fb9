"""Cheap content checks that need no DICOM library (pydicom loads lazily).

:func:`sniff_dicom` is the one place that decides whether bytes are DICOM;
the loader and the folder scanner both use it. :func:`sniff_raster` is the
allow-list of the other formats: PNG, JPEG, TIFF and BMP, by their magic
bytes, whatever the file's name. Nothing else is ever handed to a decoder
(Pillow knows dozens of formats, and its EPS plugin runs Ghostscript).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Literal

_FIRST_GROUPS = (0x0002, 0x0008)
_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI "
    b"UL UN UR US UT UV".split()
)
SNIFF_BYTES = 256
"""How many leading bytes :func:`is_dicom_file` reads."""


def sniff_dicom(data: bytes) -> Literal["preamble", "bare"] | None:
    """Say whether ``data`` (the file's first bytes or all of it) is DICOM.

    ``"preamble"``: the ``DICM`` magic at offset 128. ``"bare"``: no preamble,
    but the file starts with a plausible group 0x0002/0x0008 element, in
    either byte order, explicit or implicit VR. ``None``: not DICOM.
    """
    if data[128:132] == b"DICM":
        return "preamble"
    if len(data) < 8:
        return None
    for order in "<>":
        group, _element = struct.unpack(order + "HH", data[:4])
        if group not in _FIRST_GROUPS:
            continue
        if data[4:6] in _VRS:
            return "bare"
        (length,) = struct.unpack(order + "I", data[4:8])
        if 0 < length <= len(data) - 8:
            return "bare"
    return None


def is_dicom_file(path: Path) -> bool:
    """True when the file's first bytes are DICOM (with or without preamble)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError:
        return False
    return sniff_dicom(head) is not None


#: Magic bytes of the accepted raster formats -> Pillow's format id.
RASTER_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
    (b"BM", "BMP"),
)
#: What the refused formats are, for the message (first bytes -> name).
_OTHER_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"GIF8", "GIF"), (b"\x00\x00\x01\x00", "ICO"), (b"\x00\x00\x02\x00", "CUR"),
    (b"DDS ", "DDS"), (b"qoif", "QOI"), (b"SIMPLE  =", "FITS"), (b"%!PS", "PostScript/EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"), (b"%PDF", "PDF"), (b"8BPS", "Photoshop PSD"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"), (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x0a", "JPEG XL"), (b"\x00\x00\x00\x0cJXL ", "JPEG XL"), (b"icns", "ICNS"),
    (b"PK\x03\x04", "ZIP"), (b"\x1f\x8b", "gzip"), (b"<?xml", "XML/SVG"), (b"<svg", "SVG"),
    (b"\x59\xa6\x6a\x95", "Sun raster"), (b"P1", "PNM"), (b"P2", "PNM"), (b"P3", "PNM"),
    (b"P4", "PNM"), (b"P5", "PNM"), (b"P6", "PNM"), (b"P7", "PNM"),
    (b"gimp xcf", "GIMP XCF"), (b"#?RADIANCE", "HDR"),
)
ACCEPTED_FORMATS = "PNG, JPEG, TIFF, BMP or DICOM"


def sniff_raster(data: bytes) -> str | None:
    """Pillow's format id (``PNG``, ``JPEG``, ``TIFF``, ``BMP``) of an accepted
    raster file by its first bytes, else ``None``."""
    for magic, fmt in RASTER_MAGICS:
        if data.startswith(magic):
            return fmt
    return None


def describe_content(data: bytes) -> str | None:
    """A name for a refused format (``"WEBP"``, ``"EPS"``...) when its magic is known."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp":
        return "HEIF/AVIF/MP4"
    for magic, name in _OTHER_MAGICS:
        if data.startswith(magic):
            return name
    return None
