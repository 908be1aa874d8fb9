"""Read a DICOM file's header and first frame without reading anything else.

:func:`read_first_frame` parses the data set up to the pixel data (values
over :data:`DEFER_BYTES` are left on disk; any over
:data:`MAX_ELEMENT_BYTES` are dropped, so a huge private element is never
read), then reads exactly the first frame: the stored bytes for native
syntaxes, the codestream for compressed ones. A deflated data set is
inflated as a stream and refused past
:data:`~pneumo.films.limits.MAX_INFLATED_BYTES`. Every declared length is
checked against the file before anything is read.
"""

from __future__ import annotations

import io
import struct
import zlib
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from pydicom.dataset import Dataset, FileDataset
from pydicom.encaps import get_frame
from pydicom.filereader import (
    _at_pixel_data,
    _read_file_meta_info,
    read_dataset,
    read_partial,
    read_preamble,
)
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

from pneumo.films import limits

#: Values longer than this stay on disk until they are used.
DEFER_BYTES = 64 * 1024
#: Elements (other than pixel data) longer than this are dropped unread.
MAX_ELEMENT_BYTES = 1024 * 1024
_UNDEFINED = 0xFFFFFFFF
_PIXEL_TAGS = {0x7FE00010: "PixelData", 0x7FE00009: "DoubleFloatPixelData",
               0x7FE00008: "FloatPixelData"}
_CHUNK = 1024 * 1024


class FrameError(Exception):
    """The file's structure is broken; the message says how (no file name)."""


@dataclass(frozen=True)
class PixelElement:
    """Where the pixel data element's value starts, and what it declares."""

    keyword: str
    vr: str
    length: int
    offset: int
    available: int

    @property
    def encapsulated(self) -> bool:
        """True for compressed (encapsulated, undefined length) pixel data."""
        return self.length == _UNDEFINED


def read_header(fh: BinaryIO, path: Path, stack: ExitStack) -> tuple[FileDataset, BinaryIO]:
    """The data set up to the pixel data, and the stream positioned there.

    The stream is ``fh`` itself, or an in-memory inflated copy for a
    deflated data set, whose memory is reserved on ``stack`` (for ``path``)
    until the caller is done with it.
    """
    preamble = read_preamble(fh, True)
    meta = _read_file_meta_info(fh)
    if meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
        fh.seek(0)
        ds = read_partial(fh, stop_when=_at_pixel_data, defer_size=DEFER_BYTES, force=True)
        _drop_huge(ds)
        return ds, fh
    stack.enter_context(limits.reserve(path, limits.MAX_INFLATED_BYTES, "inflate"))
    stream = _inflate(fh)
    dataset = read_dataset(stream, False, True, stop_when=_at_pixel_data)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(stream, dataset, preamble, meta, False, True)
    ds.set_original_encoding(False, True, dataset._character_set)
    return ds, stream


def pixel_element(fh: BinaryIO, ds: Dataset, file_end: int) -> PixelElement | None:
    """Parse the pixel data element header at ``fh``'s position (None: no pixel data)."""
    implicit, little = ds.original_encoding
    order = "<" if little in (True, None) else ">"
    head = fh.read(8)
    if len(head) < 8:
        return None
    group, element = struct.unpack(order + "HH", head[:4])
    keyword = _PIXEL_TAGS.get((group << 16) | element)
    if keyword is None:
        return None
    if implicit:
        vr = "OW" if keyword == "PixelData" else ("OD" if "Double" in keyword else "OF")
        (length,) = struct.unpack(order + "I", head[4:8])
    else:
        vr = head[4:6].decode("latin-1")
        rest = fh.read(4)
        if len(rest) < 4:
            raise FrameError("pixel data element header is cut short")
        (length,) = struct.unpack(order + "I", rest)
    offset = fh.tell()
    return PixelElement(keyword, vr, length, offset, max(0, file_end - offset))


def check_native_length(element: PixelElement, frame_bytes: int) -> None:
    """Refuse native pixel data shorter than one frame (before anything is read)."""
    if not element.encapsulated and min(element.length, element.available) < frame_bytes:
        have = min(element.length, element.available)
        raise FrameError(f"pixel data is truncated ({have:,} of {frame_bytes:,} bytes)")


def read_first_frame(fh: BinaryIO, ds: Dataset, element: PixelElement, frame_bytes: int,
                     frames: int) -> bytes:
    """The first frame's bytes: ``frame_bytes`` stored bytes, or one codestream."""
    fh.seek(element.offset)
    if not element.encapsulated:
        check_native_length(element, frame_bytes)
        return fh.read(frame_bytes)
    _implicit, little = ds.original_encoding
    try:
        frame = get_frame(fh, 0, number_of_frames=frames,
                          endianness="<" if little in (True, None) else ">")
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for broken items
        raise FrameError(f"compressed pixel data is damaged ({_short(exc)})") from None
    if not frame:
        raise FrameError("compressed pixel data holds no frame")
    return frame


def read_native_grey(fh: BinaryIO, ds: Dataset, element: PixelElement, rows: int,
                     columns: int) -> np.ndarray | None:
    """The first frame of little-endian native 8/16-bit grey data, read straight
    into an array (no copies); None for every other layout (pydicom decodes those).

    Gives exactly what pydicom's decoder gives: the values as stored, with bits
    above Bits Stored cleared (or sign-extended), which is done only when a
    value actually uses them.
    """
    _implicit, little = ds.original_encoding
    bits = _attribute(ds, "BitsAllocated")
    stored = _attribute(ds, "BitsStored") or bits
    signed = _attribute(ds, "PixelRepresentation") == 1
    if (element.encapsulated or little is False or element.keyword != "PixelData"
            or (_attribute(ds, "SamplesPerPixel") or 1) != 1 or bits not in (8, 16)
            or not 0 < stored <= bits):
        return None
    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
    arr = np.empty(rows * columns, dtype=dtype)
    fh.seek(element.offset)
    got = fh.readinto(arr.data)  # type: ignore[attr-defined]
    if got != arr.nbytes:
        raise FrameError(f"pixel data is truncated ({got:,} of {arr.nbytes:,} bytes)")
    arr = arr.reshape(rows, columns)
    if stored < bits:
        lo, hi = (-(1 << (stored - 1)), (1 << (stored - 1)) - 1) if signed else (0, (1 << stored) - 1)
        if arr.min() < lo or arr.max() > hi:  # same shifts as pydicom's unused-bit correction
            np.left_shift(arr, bits - stored, out=arr)
            np.right_shift(arr, bits - stored, out=arr)
    return arr


def _attribute(ds: Dataset, keyword: str) -> int:
    try:
        value = ds.get(keyword)
        return int(value) if value not in (None, "") else 0
    except (TypeError, ValueError):
        return -1


def _inflate(fh: BinaryIO) -> io.BytesIO:
    """Inflate the rest of ``fh`` (raw deflate) into memory, refusing past the limit."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    out = io.BytesIO()
    limit = limits.MAX_INFLATED_BYTES
    while True:
        chunk = fh.read(_CHUNK)
        if not chunk:
            break
        try:
            out.write(inflater.decompress(chunk, limit + 1 - out.tell()))
        except zlib.error as exc:
            raise FrameError(f"deflated data set is damaged ({exc})") from None
        if out.tell() > limit or inflater.unconsumed_tail:
            raise FrameError(
                f"deflated data set inflates to more than the {limit // limits.MiB} MiB limit"
            )
    out.seek(0)
    return out


def _drop_huge(ds: Dataset) -> None:
    """Remove elements whose value is too long to have been read (left on disk)."""
    for tag in list(ds.keys()):
        raw = ds.get_item(tag)
        length = getattr(raw, "length", 0)
        if getattr(raw, "value", b"") is None and length > MAX_ELEMENT_BYTES:
            del ds[tag]


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
