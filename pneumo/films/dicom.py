"""DICOM decoding for :func:`pneumo.films.imaging.load_image`.

A file is DICOM by content, never by name: the ``DICM`` magic at offset 128,
or, for old files written without preamble and file meta header, a first data
element of group 0x0002 or 0x0008 (see :func:`sniff_dicom`).

Pixel values are mapped to ``[0, 1]`` by :mod:`pneumo.films.dicom_values`.

Only the header and the first frame are read (:mod:`pneumo.films.dicom_read`),
within :mod:`pneumo.films.limits`; a compressed frame's own header is checked
against the DICOM attributes before a decoder sees it
(:mod:`pneumo.films.codestream`), and pydicom uses the decoders chosen in
:mod:`pneumo.films.codecs`.
"""

from __future__ import annotations

import io
import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.multival import MultiValue
from pydicom.pixels import pixel_array
from pydicom.uid import (
    JPEG2000,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
)

from pneumo.errors import ImageError, UnreadableFileError, UnsupportedImageError, one_line
from pneumo.films import limits
from pneumo.films.codecs import configure_pydicom
from pneumo.films.codestream import FrameMismatch, check_frame
from pneumo.films.dicom_read import (
    FrameError,
    PixelElement,
    check_native_length,
    pixel_element,
    read_first_frame,
    read_header,
    read_native_grey,
)
from pneumo.films.dicom_values import int_attr, map_values, text_attr
from pneumo.films.j2k_reduced import NoReducedDecode, decode_reduced

_REDUCIBLE = frozenset({JPEG2000Lossless, JPEG2000})
_PIXEL_TAG = {"PixelData": 0x7FE00010, "FloatPixelData": 0x7FE00008,
              "DoubleFloatPixelData": 0x7FE00009}

# ImageMetadata field name -> DICOM keyword, for the plain string fields.
_STRING_FIELDS = {
    "photometric": "PhotometricInterpretation",
    "modality": "Modality",
    "body_part": "BodyPartExamined",
    "view_position": "ViewPosition",
    "patient_age": "PatientAge",
    "patient_birth_date": "PatientBirthDate",
    "sop_instance_uid": "SOPInstanceUID",
    "patient_id": "PatientID",
    "patient_name": "PatientName",
    "patient_sex": "PatientSex",
    "study_instance_uid": "StudyInstanceUID",
    "study_date": "StudyDate",
    "study_description": "StudyDescription",
    "accession_number": "AccessionNumber",
    "institution": "InstitutionName",
}


@dataclass(frozen=True)
class DicomImage:
    """Decoded first frame of a DICOM file.

    ``pixels`` is ``float32`` in ``[0, 1]``, bright = dense: ``(H, W)`` for
    grayscale, ``(H, W, 3)`` RGB for colour. ``fields`` holds keyword arguments
    of :class:`pneumo.films.imaging.ImageMetadata` (DICOM attributes, ``None`` when
    absent).
    """

    pixels: np.ndarray
    fields: dict[str, Any]
    warnings: tuple[str, ...] = ()
    film_size: tuple[int, int] = (0, 0)
    """(Rows, Columns): the film's size, which ``pixels`` has unless it was reduced."""


def read_dicom(path: Path, max_pixels: int, *, lookup_table: bool = True,
               data: bytes | None = None, reduced_side: int | None = None) -> DicomImage:
    """Decode the first frame of the DICOM file ``path``.

    Reads the header and the first frame only, within the limits of
    :mod:`pneumo.films.limits`. Raises :class:`UnsupportedImageError` for a
    file without pixel data or larger than ``max_pixels`` (checked before
    anything is decoded), and :class:`UnreadableFileError` for one that cannot
    be parsed or decoded, or whose header contradicts its pixel data.

    Integer grayscale values are mapped through a per-file lookup table
    (:mod:`pneumo.films.lut`), which gives exactly the per-pixel arithmetic's
    result; ``lookup_table=False`` runs that arithmetic on every pixel instead
    (the reference the tests compare with). ``data``: the file's bytes, when
    they are already in memory (``path`` then only names the file).
    ``reduced_side``: decode a classic JPEG 2000 film at a reduced resolution
    instead, its long side at least this (:mod:`pneumo.films.j2k_reduced`; a
    quick picture, never a model input), raising
    :class:`~pneumo.films.j2k_reduced.NoReducedDecode` for other films.
    """
    configure_pydicom()
    try:
        with (open(path, "rb") if data is None else io.BytesIO(data)) as fh, \
                ExitStack() as stack:
            file_end = os.fstat(fh.fileno()).st_size if data is None else len(data)
            try:
                ds, stream = read_header(fh, path, stack)
            except FrameError as exc:
                raise UnreadableFileError(path, str(exc)) from None
            except ImageError:
                raise
            except Exception as exc:  # noqa: BLE001 - pydicom raises many types for corrupt files
                raise UnreadableFileError(
                    path, f"not a readable DICOM file ({one_line(exc)})"
                ) from None
            if stream is not fh:  # an inflated copy
                position = stream.tell()
                file_end = stream.seek(0, io.SEEK_END)
                stream.seek(position)
            return _read_image(path, ds, stream, file_end, max_pixels, lookup_table,
                               reduced_side)
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot be read ({exc.strerror or exc})") from None


def read_dicom_header(path: Path) -> Dataset:
    """The data set of ``path`` up to its pixel data, read within the memory limits
    (long values left on disk, a deflated data set inflated at most to its limit)."""
    with open(path, "rb") as fh, ExitStack() as stack:
        try:
            ds, _stream = read_header(fh, path, stack)
        except FrameError as exc:
            raise UnreadableFileError(path, str(exc)) from None
        for keyword in ("PatientID", "PatientName"):  # read them while the file is open
            ds.get(keyword)
        return ds


def _read_image(path: Path, ds: Dataset, stream: BinaryIO, file_end: int, max_pixels: int,
                lookup_table: bool, reduced_side: int | None = None) -> DicomImage:
    """Everything after the header: checks, the first frame, decoding, mapping."""
    try:
        element = pixel_element(stream, ds, file_end)
    except FrameError as exc:
        raise UnreadableFileError(path, str(exc)) from None
    if element is None:
        raise UnsupportedImageError(path, "DICOM file has no pixel data")
    rows, cols = int_attr(ds, "Rows"), int_attr(ds, "Columns")
    if not rows or not cols or rows < 0 or cols < 0:
        raise UnsupportedImageError(path, "DICOM file has no image size (Rows/Columns)")
    if rows * cols > max_pixels:
        raise UnsupportedImageError(path, f"image too large ({cols} x {rows})")
    _ensure_transfer_syntax(ds)
    frames = max(1, int_attr(ds, "NumberOfFrames") or 1)
    samples, bits = _geometry(path, ds, element)
    if reduced_side is not None and (ds.file_meta.TransferSyntaxUID not in _REDUCIBLE
                                     or samples != 1 or int_attr(ds, "PixelRepresentation")):
        raise NoReducedDecode("only one-component unsigned classic JPEG 2000 is reduced")
    frame_bytes = _frame_bytes(rows * cols * samples, bits)
    notes: list[str] = []
    if frames > 1:
        notes.append(f"multi-frame DICOM ({frames} frames): only the first frame is used")
    try:
        check_native_length(element, frame_bytes)
    except FrameError as exc:
        raise UnreadableFileError(path, str(exc)) from None
    encoded = element.available if element.encapsulated else frame_bytes
    estimate = limits.decode_bytes(rows * cols, samples, max(1, bits // 8), encoded)
    with limits.reserve(path, estimate):
        raw = _decode_first_frame(path, ds, stream, element, frame_bytes, frames,
                                  reduced_side)
        fields = _metadata(ds)
        pixels, mapping = map_values(path, raw, ds, notes, lookup_table)
    fields.update(number_of_frames=frames, value_mapping=mapping)
    return DicomImage(pixels=pixels, fields=fields, warnings=tuple(notes),
                      film_size=(rows, cols))


def _decode_first_frame(path: Path, ds: Dataset, stream: BinaryIO, element: PixelElement,
                        frame_bytes: int, frames: int, reduced_side: int | None) -> np.ndarray:
    """The stored values of the first frame, checked against the header first."""
    syntax = ds.file_meta.TransferSyntaxUID
    try:
        grey = read_native_grey(stream, ds, element, int_attr(ds, "Rows") or 0,
                                int_attr(ds, "Columns") or 0)
        if grey is not None:
            return grey
        frame = read_first_frame(stream, ds, element, frame_bytes, frames)
        if element.encapsulated:
            check_frame(frame, syntax, int_attr(ds, "Rows") or 0, int_attr(ds, "Columns") or 0,
                        int_attr(ds, "SamplesPerPixel") or 1, int_attr(ds, "BitsAllocated") or 0,
                        int_attr(ds, "BitsStored"))
    except (FrameError, FrameMismatch) as exc:
        raise UnreadableFileError(path, f"DICOM header does not match its pixel data: {exc}"
                                  if isinstance(exc, FrameMismatch) else str(exc)) from None
    if reduced_side is not None:
        return decode_reduced(frame, reduced_side)
    if element.encapsulated:
        ds.add_new(_PIXEL_TAG[element.keyword], "OB", encapsulate([frame]))
    else:
        ds.add_new(_PIXEL_TAG[element.keyword], element.vr, frame)
    if frames > 1:
        ds.NumberOfFrames = 1
    del frame
    try:
        return pixel_array(ds, index=0)
    except NotImplementedError as exc:
        raise UnsupportedImageError(
            path, f"unsupported DICOM pixel encoding ({one_line(exc)})"
        ) from None
    except MemoryError:
        raise UnsupportedImageError(path, "not enough memory to decode the pixel data") from None
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - decoders raise many types (and Rust panics)
        raise UnreadableFileError(
            path, f"DICOM pixel data cannot be decoded ({one_line(exc)})"
        ) from None


def _geometry(path: Path, ds: Dataset, element: PixelElement) -> tuple[int, int]:
    """(samples per pixel, bits allocated), refused when implausible."""
    samples = int_attr(ds, "SamplesPerPixel") or 1
    default_bits = {"FloatPixelData": 32, "DoubleFloatPixelData": 64}.get(element.keyword, 16)
    bits = int_attr(ds, "BitsAllocated") or default_bits
    if samples not in (1, 3, 4) or bits not in (1, 8, 16, 32, 64):
        raise UnsupportedImageError(
            path, f"unsupported DICOM sample layout ({samples} samples of {bits} bits)"
        )
    return samples, bits


def _frame_bytes(samples: int, bits: int) -> int:
    return -(-samples * bits // 8)


def _ensure_transfer_syntax(ds: Dataset) -> None:
    """Give a file without meta header the transfer syntax it was read with."""
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = FileMetaDataset()
        ds.file_meta = meta
    if meta.get("TransferSyntaxUID"):
        return
    implicit, little = ds.original_encoding
    if implicit:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    else:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def _metadata(ds: Dataset) -> dict[str, Any]:
    """The ImageMetadata fields a DICOM file provides."""
    fields: dict[str, Any] = {name: text_attr(ds, kw) for name, kw in _STRING_FIELDS.items()}
    fields["bits_stored"] = int_attr(ds, "BitsStored")
    fields["pixel_spacing"] = _spacing(ds, "PixelSpacing") or _spacing(ds, "ImagerPixelSpacing")
    syntax = ds.file_meta.get("TransferSyntaxUID")
    fields["transfer_syntax"] = str(syntax.name) if syntax else None
    return fields


def _spacing(ds: Dataset, keyword: str) -> tuple[float, float] | None:
    try:
        value = ds.get(keyword)
        if value is None or value == "":
            return None
        values = [float(v) for v in value] if isinstance(value, MultiValue) else [float(value)]
    except (ValueError, TypeError, NotImplementedError):
        return None
    if not values:
        return None
    return (values[0], values[1] if len(values) > 1 else values[0])
