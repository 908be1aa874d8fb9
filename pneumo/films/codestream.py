"""Check a compressed frame's own header against the DICOM header, cheaply.

Native decoders size their buffers from one header and write from the other;
where the two disagree they may crash or allocate without bound (GDCM aborts
the process on a JPEG-LS frame smaller than Rows x Columns, a JPEG 2000
frame labelled RGB, or an 8-bit JPEG labelled Bits Stored 7). :func:`check_frame` reads the few bytes that declare the
image in the codestream (JPEG and JPEG-LS start-of-frame, JPEG 2000 SIZ, the
RLE segment table) and refuses a frame whose size, sample count or precision
(or bit depth) does not fit the DICOM attributes, before any decoder sees it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from itertools import pairwise

from pydicom import uid

_JPEG_SYNTAXES = frozenset({uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit, uid.JPEGLossless,
                            uid.JPEGLosslessSV1, uid.JPEGLSLossless, uid.JPEGLSNearLossless})
_J2K_SYNTAXES = frozenset({uid.JPEG2000Lossless, uid.JPEG2000, uid.HTJ2KLossless,
                           uid.HTJ2KLosslessRPCL, uid.HTJ2K})
# Start-of-frame markers: the DCT and lossless JPEG processes, and JPEG-LS (SOF55).
_DCT_SYNTAXES = frozenset({uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit})
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD,
                  0xCE, 0xCF, 0xF7})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})
_SCAN_LIMIT = 1024 * 1024


class FrameMismatch(Exception):
    """The codestream contradicts the DICOM header; the message says how."""


@dataclass(frozen=True)
class FrameHeader:
    """What a codestream declares about its image."""

    kind: str
    rows: int
    columns: int
    samples: int
    precision: int
    signed: bool = False


def check_frame(frame: bytes, syntax: str, rows: int, columns: int, samples: int,
                bits_allocated: int, bits_stored: int | None = None) -> FrameHeader | None:
    """Refuse (:class:`FrameMismatch`) a frame that does not fit the DICOM header.

    Returns what the codestream declares, or None for syntaxes that need no
    check here (native data is checked by its length).
    """
    syntax = uid.UID(syntax)
    if syntax == uid.RLELossless:
        _check_rle(frame, samples, bits_allocated)
        return None
    if syntax in _JPEG_SYNTAXES:
        header = jpeg_header(frame)
    elif syntax in _J2K_SYNTAXES:
        header = j2k_header(frame)
    else:
        return None
    if header.columns != columns or header.rows not in (rows, 0):
        raise FrameMismatch(
            f"Rows x Columns say {columns} x {rows}, but the {header.kind} stream holds "
            f"{header.columns} x {header.rows}"
        )
    if header.samples != samples:
        raise FrameMismatch(
            f"Samples per Pixel says {samples}, but the {header.kind} stream has "
            f"{header.samples} component(s)"
        )
    if header.precision > max(8, bits_allocated):
        raise FrameMismatch(
            f"Bits Allocated says {bits_allocated}, but the {header.kind} stream has "
            f"{header.precision}-bit samples"
        )
    # The lossy JPEG processes hold exactly Bits Stored (8 or 12) bits (PS3.5 A.4.1);
    # no stream can hold more bits than its precision.
    exact = syntax in _DCT_SYNTAXES
    if bits_stored and (bits_stored > header.precision
                        or (exact and bits_stored != header.precision)):
        raise FrameMismatch(
            f"Bits Stored says {bits_stored}, but the {header.kind} stream has "
            f"{header.precision}-bit samples"
        )
    return header


def jpeg_header(frame: bytes) -> FrameHeader:
    """The start-of-frame of a JPEG or JPEG-LS codestream."""
    if frame[:2] != b"\xff\xd8":
        raise FrameMismatch("the JPEG stream does not start with a start-of-image marker")
    pos, end = 2, min(len(frame), _SCAN_LIMIT)
    while pos + 4 <= end:
        if frame[pos] != 0xFF:
            raise FrameMismatch("the JPEG stream has no valid marker before its frame header")
        marker = frame[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack(">H", frame[pos + 2:pos + 4])
        if marker in _SOF:
            body = frame[pos + 4:pos + 10]
            if len(body) < 6:
                break
            precision, height, width, components = struct.unpack(">BHHB", body)
            kind = "JPEG-LS" if marker == 0xF7 else "JPEG"
            return FrameHeader(kind, height, width, components, precision)
        if marker == 0xDA or length < 2:
            break
        pos += 2 + length
    raise FrameMismatch("the JPEG stream has no frame header")


def j2k_header(frame: bytes) -> FrameHeader:
    """The SIZ segment of a JPEG 2000 codestream (bare or inside JP2 boxes)."""
    start = frame.find(b"\xff\x4f\xff\x51", 0, _SCAN_LIMIT)
    if start < 0:
        raise FrameMismatch("the JPEG 2000 stream has no image size (SIZ) segment")
    siz = frame[start + 4:start + 4 + 38]
    if len(siz) < 38:
        raise FrameMismatch("the JPEG 2000 image size (SIZ) segment is cut short")
    _lsiz, _rsiz, xsiz, ysiz, xosiz, yosiz = struct.unpack(">HHIIII", siz[:20])
    (components,) = struct.unpack(">H", siz[36:38])
    ssiz = frame[start + 42:start + 43]
    precision = (ssiz[0] & 0x7F) + 1 if ssiz else 0
    return FrameHeader("JPEG 2000", max(0, ysiz - yosiz), max(0, xsiz - xosiz), components,
                       precision, bool(ssiz and ssiz[0] & 0x80))


def _check_rle(frame: bytes, samples: int, bits_allocated: int) -> None:
    if len(frame) < 64:
        raise FrameMismatch("the RLE frame is shorter than its 64-byte header")
    segments = struct.unpack("<16I", frame[:64])
    count = segments[0]
    expected = samples * max(1, -(-bits_allocated // 8))
    if count != expected:
        raise FrameMismatch(
            f"Samples per Pixel and Bits Allocated need {expected} RLE segment(s), "
            f"the frame has {count}"
        )
    offsets = segments[1:1 + count]
    if offsets[0] != 64 or any(b <= a for a, b in pairwise(offsets)) \
            or offsets[-1] >= len(frame):
        raise FrameMismatch("the RLE segment table points outside the frame")
