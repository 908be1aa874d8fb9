"""Crafted hostile files: memory bombs and DICOM headers that lie about their pixels.

Each writer takes a path and returns it. The bombs are small on disk and
declare (or inflate to) far more than the loader's limits
(:mod:`pneumo.films.limits`); the mismatches are valid compressed films whose
DICOM attributes were edited afterwards, the edits that made GDCM abort the
process (``terminate called``, exit 134).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
)

from tests import synth

GiB = 1024**3
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def deflated_bomb(path: Path, inflated_bytes: int = 2 * GiB) -> Path:
    """A deflated DICOM whose private OB element inflates to ``inflated_bytes`` of zeros.

    The file is about a megabyte (a valid film follows the element); pydicom
    itself would inflate all of it into memory before reading a tag. The zeros
    are one independently flushed deflate block of 64 MiB, repeated, so
    building even a 2 GiB bomb takes a fraction of a second.
    """
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info

    ds = synth.windowed_dataset(synth.film())
    meta = ds.file_meta
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    head, tail = DicomBytesIO(), DicomBytesIO()
    head.is_little_endian = tail.is_little_endian = True
    head.is_implicit_VR = tail.is_implicit_VR = False
    write_dataset(head, ds[:0x00090000])
    head.write(b"\x09\x00\x10\x00LO\x04\x00BOMB")  # private creator (0009,0010)
    head.write(b"\x09\x00\x10\x10OB\x00\x00" + struct.pack("<I", inflated_bytes))  # (0009,1010)
    write_dataset(tail, ds[0x00090000:])

    def raw(data: bytes, final: bool = False) -> bytes:
        packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        return packer.compress(data) + packer.flush(zlib.Z_FINISH if final else
                                                    zlib.Z_FULL_FLUSH)

    block = 64 * 1024 * 1024
    whole, rest = divmod(inflated_bytes, block)
    zeros = (raw(bytes(block)) * whole if whole else b"") + (raw(bytes(rest)) if rest else b"")
    preamble = DicomBytesIO()
    preamble.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(preamble, meta, enforce_standard=True)
    path.write_bytes(preamble.getvalue() + raw(head.getvalue()) + zeros
                     + raw(tail.getvalue(), final=True))
    return path


def huge_rows_columns(path: Path, rows: int = 60_000, columns: int = 60_000) -> Path:
    """A native DICOM declaring ``rows`` x ``columns`` over a 320 x 256 pixel data."""
    ds = synth.windowed_dataset(synth.film())
    ds.Rows, ds.Columns = rows, columns
    return synth.save(ds, path)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, type, payload and its CRC."""
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def uniform_png(width: int, height: int, grey: int = 0) -> bytes:
    """A valid RGB PNG of ``width`` x ``height`` pixels of one grey, built without
    the pixels in memory (its zlib stream compressed 256 rows at a time)."""
    row = b"\x00" + bytes([grey]) * (3 * width)  # filter type 0, then RGB samples
    packer = zlib.compressobj(9)
    block = row * 256
    parts = [packer.compress(block if height - start >= 256 else row * (height - start))
             for start in range(0, height, 256)]
    parts.append(packer.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (PNG_MAGIC + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"".join(parts))
            + png_chunk(b"IEND", b""))


def huge_png(path: Path, side: int = 10_000) -> Path:
    """A valid ``side`` x ``side`` RGB PNG of one grey: under a megabyte on disk,
    ``3 * side**2`` bytes decoded (300 MB; 2.5 GB once converted to float)."""
    path.write_bytes(uniform_png(side, side, 90))
    return path


def jpeg_ls_smaller_than_header(path: Path) -> Path:
    """JPEG-LS whose Rows/Columns exceed its codestream (made GDCM abort)."""
    ds = synth.encode_dataset(synth.windowed_dataset(synth.film()), JPEGLSLossless)
    ds.Rows, ds.Columns = int(ds.Rows) * 4, int(ds.Columns) * 4
    return synth.save(ds, path)


def j2k_labelled_rgb(path: Path) -> Path:
    """A one-component JPEG 2000 frame labelled RGB, 3 samples per pixel."""
    ds = synth.encode_dataset(synth.windowed_dataset(synth.film()), JPEG2000Lossless)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    return synth.save(ds, path)


def jpeg_bits_stored_below_allocated(path: Path) -> Path:
    """JPEG baseline, 8-bit samples, with Bits Stored 7 (made GDCM abort)."""
    film8 = synth.film()
    ds = synth.encode_dataset(synth.dicom_dataset(film8, 8, WindowCenter=128.0,
                                                  WindowWidth=256.0), JPEGBaseline8Bit)
    ds.BitsStored, ds.HighBit = 7, 6
    return synth.save(ds, path)


def stored_film() -> np.ndarray:
    """The synthetic film the crafted files hold (8-bit)."""
    return synth.film()
