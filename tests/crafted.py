"""Crafted hostile files: memory bombs and DICOM headers that lie about their pixels.

Each writer takes a path and returns it. The bombs are small on disk and
declare (or inflate to) far more than the loader's limits
(:mod:`pneumo.films.limits`); the mismatches are valid compressed films whose
DICOM attributes were edited afterwards, the edits that made GDCM abort the
process (``terminate called``, exit 134).
"""

from __future__ import annotations

import io
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


def deflated_bomb(path: Path, inflated_bytes: int = 2 * GiB) -> Path:
    """A deflated DICOM whose private OB element inflates to ``inflated_bytes`` of zeros.

    The file is a few megabytes (a valid film follows the element); pydicom
    itself would inflate all of it into memory before reading a tag.
    """
    ds = synth.windowed_dataset(synth.film())
    block = ds.private_block(0x0009, "PNEUMO BOMB", create=True)
    block.add_new(0x00, "OB", bytes(16))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    deflated = io.BytesIO()
    ds.save_as(deflated, enforce_file_format=True)
    data = deflated.getvalue()
    (group_length,) = struct.unpack("<I", data[140:144])  # (0002,0000) UL at offset 132
    meta = data[: 144 + group_length]
    body = zlib.decompress(data[len(meta):], -zlib.MAX_WBITS)
    small = struct.pack("<HH2sHI", 0x0009, 0x1000, b"OB", 0, 16)
    at = body.index(small)
    compressor = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    chunks = [compressor.compress(body[:at] + small[:8] + struct.pack("<I", inflated_bytes))]
    zeros = bytes(16 * 1024 * 1024)
    for start in range(0, inflated_bytes, len(zeros)):
        chunks.append(compressor.compress(zeros[: min(len(zeros), inflated_bytes - start)]))
    chunks += [compressor.compress(body[at + len(small) + 16:]), compressor.flush()]
    path.write_bytes(meta + b"".join(chunks))
    return path


def huge_rows_columns(path: Path, rows: int = 60_000, columns: int = 60_000) -> Path:
    """A native DICOM declaring ``rows`` x ``columns`` over a 320 x 256 pixel data."""
    ds = synth.windowed_dataset(synth.film())
    ds.Rows, ds.Columns = rows, columns
    return synth.save(ds, path)


def huge_png(path: Path, side: int = 10_000) -> Path:
    """A valid ``side`` x ``side`` RGB PNG of one grey: under a megabyte on disk,
    ``3 * side**2`` bytes decoded (300 MB; 2.5 GB once converted to float)."""
    row = b"\x00" + bytes([90]) * (3 * side)  # filter type 0, then RGB samples
    compressor = zlib.compressobj(1)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))
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
