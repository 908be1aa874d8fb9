"""A JPEG 2000 frame decoded at a reduced resolution: a quick first look, never a model input.

Classic JPEG 2000 is by far the slowest syntax to decode (OpenJPEG costs 400-600
CPU ms for a 3,000 px lossless film), but its wavelet keeps the film at every
halved resolution: the lowest bands alone give a 750 px picture in about a
tenth of the time. The viewer paints that first and replaces it with the full
decode; the model and the heat map always use the full decode, whose values
the reduced picture does not reproduce (a wavelet's low band is not an area
average).

Decoding goes through Pillow's OpenJPEG, whose reduced sizes are computed by
rounding where OpenJPEG takes the ceiling, so that Pillow refuses about half
of all film sizes; :func:`decode_j2k` gives it the right size.
"""

from __future__ import annotations

import io
import struct

import numpy as np

from pneumo.films.codestream import FrameMismatch, j2k_header

_SOC_SIZ = b"\xff\x4f\xff\x51"
_COD = b"\xff\x52"
_SOT = b"\xff\x90"


#: Fewer halvings save too little against decoding the film again in full.
MIN_REDUCTION = 2


class NoReducedDecode(Exception):
    """This frame has no quick reduced-resolution decode; the message says why."""


def decomposition_levels(frame: bytes) -> int:
    """The number of wavelet decompositions in the main header's COD segment."""
    start = max(0, frame.find(_SOC_SIZ))
    main_end = frame.find(_SOT, start)
    cod = frame.find(_COD, start, main_end if main_end > 0 else len(frame))
    if cod < 0 or cod + 10 > len(frame):
        raise NoReducedDecode("the JPEG 2000 stream has no coding style (COD) segment")
    return frame[cod + 9]


def reduction_for(rows: int, columns: int, levels: int, min_side: int) -> int:
    """The most halvings (at most ``levels``) that keep the long side >= ``min_side``."""
    long_side, reduction = max(rows, columns), 0
    while reduction < levels and -(-long_side // (2 << reduction)) >= min_side:
        reduction += 1
    return reduction


def decode_reduced(frame: bytes, min_side: int) -> np.ndarray:
    """Stored values of a one-component, unsigned frame at the smallest resolution
    whose long side is at least ``min_side``, or :class:`NoReducedDecode` when
    that is less than :data:`MIN_REDUCTION` halvings or the frame is of another
    kind."""
    try:
        header = j2k_header(frame)
    except FrameMismatch as exc:
        raise NoReducedDecode(str(exc)) from None
    if header.samples != 1 or header.signed or not 1 <= header.precision <= 16:
        raise NoReducedDecode("only one-component unsigned JPEG 2000 is reduced")
    reduction = reduction_for(header.rows, header.columns, decomposition_levels(frame),
                              min_side)
    if reduction < MIN_REDUCTION:
        raise NoReducedDecode("the film is small enough to decode whole")
    return decode_j2k(frame, reduction)


def decode_j2k(frame: bytes, reduction: int) -> np.ndarray:
    """Stored values of a one-component unsigned frame halved ``reduction`` times
    (0: full size, bit for bit), through Pillow's OpenJPEG."""
    from PIL import ImageFile, Jpeg2KImagePlugin

    header = j2k_header(frame)
    x0, y0, x1, y1 = _image_area(frame)
    power = 1 << reduction
    size = (-(-x1 // power) - -(-x0 // power), -(-y1 // power) - -(-y0 // power))
    try:
        image = Jpeg2KImagePlugin.Jpeg2KImageFile(io.BytesIO(frame))
        tile = image.tile[0]
        if not isinstance(tile.args, tuple) or len(tile.args) != 5:
            raise NoReducedDecode(f"unexpected Pillow tile {tile.args!r}")
        codec, _reduce, layers, offset, length = tile.args
        image._size = size
        image.tile = [ImageFile._Tile(tile.codec_name, (0, 0, *size), tile.offset,
                                      (codec, reduction, layers, offset, length))]
        ImageFile.ImageFile.load(image)
        values = np.asarray(image)
    except (OSError, ValueError, SyntaxError, IndexError, TypeError, AttributeError) as exc:
        raise NoReducedDecode(f"Pillow cannot decode it reduced ({exc})") from None
    if values.shape != (size[1], size[0]) or values.dtype not in (np.uint8, np.uint16):
        raise NoReducedDecode(f"Pillow gave {values.dtype} {values.shape}, not {size}")
    shift = 8 * values.dtype.itemsize - header.precision  # Pillow scales to the full type
    if shift < 0:
        raise NoReducedDecode(f"{header.precision}-bit samples in {values.dtype}")
    return values >> shift if shift else values


def _image_area(frame: bytes) -> tuple[int, int, int, int]:
    """(XOsiz, YOsiz, Xsiz, Ysiz) of the SIZ segment (found by :func:`j2k_header`)."""
    start = frame.find(_SOC_SIZ)
    xsiz, ysiz, xosiz, yosiz = struct.unpack(">IIII", frame[start + 8:start + 24])
    return xosiz, yosiz, xsiz, ysiz
