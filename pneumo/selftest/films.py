"""Small DICOM films, one per supported transfer syntax, and what they must
decode to.

Every film holds the same 64 x 64 ramp (:func:`reference_pixels`): 12 bits
stored, or its top 8 bits for JPEG baseline. The uncompressed transfer
syntaxes are written in memory by pydicom (:func:`uncompressed_film`); the
compressed ones are shipped in ``data/`` beside this module, made once by
``packaging/make_selftest_films.py`` with the encoders of pydicom, pyjpegls,
pylibjpeg-openjpeg, GDCM and imagecodecs. Decoding them goes through whichever decoder
plugins pydicom finds installed, as a scan does.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

SIZE = 64
#: Secondary capture of a digital X-ray, as the films' SOP class.
_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.1.1"
_BIG_ENDIAN = "1.2.840.10008.1.2.2"
_INSTANCE_ROOT = "1.2.826.0.1.3680043.8.498.16"  # fixed UIDs keep the films reproducible


@dataclass(frozen=True)
class Film:
    """One self-test film: its transfer syntax, where it comes from, and how
    far its decoded pixels may stray from the reference (fraction of full
    scale, after the film is scaled to [0, 1])."""

    name: str
    transfer_syntax: str
    bits: int = 12
    tolerance: float = 1e-6
    #: File name under ``data/``; ``None``: written in memory by pydicom.
    file: str | None = None


FILMS: tuple[Film, ...] = (
    Film("Implicit VR Little Endian", "1.2.840.10008.1.2"),
    Film("Explicit VR Little Endian", "1.2.840.10008.1.2.1"),
    Film("Explicit VR Big Endian", "1.2.840.10008.1.2.2"),
    Film("Deflated Explicit VR Little Endian", "1.2.840.10008.1.2.1.99"),
    Film("RLE Lossless", "1.2.840.10008.1.2.5", file="rle.dcm"),
    Film("JPEG Baseline", "1.2.840.10008.1.2.4.50", bits=8, tolerance=0.02,
         file="jpeg_baseline.dcm"),
    Film("JPEG Lossless (Process 14)", "1.2.840.10008.1.2.4.57", file="jpeg_lossless_p14.dcm"),
    Film("JPEG Lossless (Process 14, SV1)", "1.2.840.10008.1.2.4.70", file="jpeg_lossless.dcm"),
    Film("JPEG-LS Lossless", "1.2.840.10008.1.2.4.80", file="jpegls_lossless.dcm"),
    Film("JPEG-LS Near-Lossless", "1.2.840.10008.1.2.4.81", tolerance=0.02,
         file="jpegls_near_lossless.dcm"),
    Film("JPEG 2000 Lossless", "1.2.840.10008.1.2.4.90", file="jpeg2000_lossless.dcm"),
    Film("JPEG 2000", "1.2.840.10008.1.2.4.91", tolerance=0.02, file="jpeg2000.dcm"),
    Film("HTJ2K Lossless", "1.2.840.10008.1.2.4.201", file="htj2k_lossless.dcm"),
)


def reference_pixels(bits: int = 12) -> np.ndarray:
    """The stored values every film holds: a ramp, integers only, so it is the
    same on every machine (``uint16`` for 12 bits, ``uint8`` for 8)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    ramp = (x * 40 + y * 24).astype(np.uint16)  # 0 .. 4032
    return (ramp >> 4).astype(np.uint8) if bits == 8 else ramp


def expected_unit_pixels(bits: int = 12) -> np.ndarray:
    """:func:`reference_pixels` as the decoder scales a film without a window:
    min..max to [0, 1]."""
    ref = reference_pixels(bits).astype(np.float64)
    return ((ref - ref.min()) / (ref.max() - ref.min())).astype(np.float32)


def base_dataset(bits: int = 12, transfer_syntax: str = "1.2.840.10008.1.2.1") -> Dataset:
    """An uncompressed pydicom dataset holding the reference pixels in the
    byte order of ``transfer_syntax`` (pydicom writes Pixel Data as given)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID

    pixels = reference_pixels(bits)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(transfer_syntax)
    ds.file_meta.MediaStorageSOPClassUID = UID(_SOP_CLASS)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(f"{_INSTANCE_ROOT}.{bits}")
    ds.SOPClassUID = _SOP_CLASS
    ds.SOPInstanceUID = f"{_INSTANCE_ROOT}.{bits}"
    ds.Modality = "DX"
    ds.BodyPartExamined = "CHEST"
    ds.PatientName = "SELFTEST^FILM"
    ds.PatientID = "SELFTEST"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 8 if bits == 8 else 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    big_endian = transfer_syntax == _BIG_ENDIAN
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder(">" if big_endian else "<")).tobytes()
    return ds


def uncompressed_film(transfer_syntax: str) -> bytes:
    """A DICOM file in an uncompressed transfer syntax, written by pydicom."""
    ds = base_dataset(12, transfer_syntax)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def film_bytes(film: Film) -> bytes:
    """The bytes of ``film``: the shipped file, or one written in memory."""
    if film.file is None:
        return uncompressed_film(film.transfer_syntax)
    return resources.files(__package__).joinpath("data", film.file).read_bytes()
