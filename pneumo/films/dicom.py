"""DICOM decoding for :func:`pneumo.films.imaging.load_image`.

A file is DICOM by content, never by name: the ``DICM`` magic at offset 128,
or, for old files written without preamble and file meta header, a first data
element of group 0x0002 or 0x0008 (see :func:`sniff_dicom`).

Pixel values go through pydicom's own Modality LUT (Rescale Slope/Intercept or
Modality LUT Sequence) and VOI LUT (VOI LUT Sequence, else Window Center/Width,
first window when several are given). The VOI output is scaled to ``[0, 1]``
by the range the VOI stage can produce: ``y_min..y_max`` of the window (as
pydicom computes it), or the smallest..largest entry of the VOI LUT. When there
is no VOI (or it is invalid) the Modality LUT output is scaled by its own
min..max, as viewers do: the BitsStored range was rejected because many
detectors store 12-16 bits while using a fraction of that range, which would
give a dim, low-contrast film unlike the full-range 8-bit images the model
learnt from. MONOCHROME1 is inverted afterwards, so bright always means dense
(Presentation LUT Shape is ignored: for DX it only restates MONOCHROME1).

Colour data (RGB, YBR_* converted by pydicom, PALETTE COLOR through its LUT)
is returned as ``(H, W, 3)``; :mod:`pneumo.films.imaging` turns it into luma.
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
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, pixel_array
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

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
from pneumo.films.lut import map_stored, table_span

_PIXEL_TAG = {"PixelData": 0x7FE00010, "FloatPixelData": 0x7FE00008,
              "DoubleFloatPixelData": 0x7FE00009}

# ImageMetadata field name -> DICOM keyword, for the plain string fields.
_STRING_FIELDS = {
    "photometric": "PhotometricInterpretation",
    "modality": "Modality",
    "body_part": "BodyPartExamined",
    "view_position": "ViewPosition",
    "patient_age": "PatientAge",
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


def read_dicom(path: Path, max_pixels: int, *, lookup_table: bool = True) -> DicomImage:
    """Decode the first frame of the DICOM file ``path``.

    Reads the header and the first frame only, within the limits of
    :mod:`pneumo.films.limits`. Raises :class:`UnsupportedImageError` for a
    file without pixel data or larger than ``max_pixels`` (checked before
    anything is decoded), and :class:`UnreadableFileError` for one that cannot
    be parsed or decoded, or whose header contradicts its pixel data.

    Integer grayscale values are mapped through a per-file lookup table
    (:mod:`pneumo.films.lut`), which gives exactly the per-pixel arithmetic's
    result; ``lookup_table=False`` runs that arithmetic on every pixel instead
    (the reference the tests compare with).
    """
    configure_pydicom()
    try:
        with open(path, "rb") as fh, ExitStack() as stack:
            file_end = os.fstat(fh.fileno()).st_size
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
            return _read_image(path, ds, stream, file_end, max_pixels, lookup_table)
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot be read ({exc.strerror or exc})") from None


def _read_image(path: Path, ds: Dataset, stream: BinaryIO, file_end: int, max_pixels: int,
                lookup_table: bool) -> DicomImage:
    """Everything after the header: checks, the first frame, decoding, mapping."""
    try:
        element = pixel_element(stream, ds, file_end)
    except FrameError as exc:
        raise UnreadableFileError(path, str(exc)) from None
    if element is None:
        raise UnsupportedImageError(path, "DICOM file has no pixel data")
    rows, cols = _int(ds, "Rows"), _int(ds, "Columns")
    if not rows or not cols or rows < 0 or cols < 0:
        raise UnsupportedImageError(path, "DICOM file has no image size (Rows/Columns)")
    if rows * cols > max_pixels:
        raise UnsupportedImageError(path, f"image too large ({cols} x {rows})")
    _ensure_transfer_syntax(ds)
    frames = max(1, _int(ds, "NumberOfFrames") or 1)
    samples, bits = _geometry(path, ds, element)
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
        raw = _decode_first_frame(path, ds, stream, element, frame_bytes, frames)
        fields = _metadata(ds)
        pixels, mapping = _map_values(path, raw, ds, notes, lookup_table)
    fields.update(number_of_frames=frames, value_mapping=mapping)
    return DicomImage(pixels=pixels, fields=fields, warnings=tuple(notes))


def _decode_first_frame(path: Path, ds: Dataset, stream: BinaryIO, element: PixelElement,
                        frame_bytes: int, frames: int) -> np.ndarray:
    """The stored values of the first frame, checked against the header first."""
    syntax = ds.file_meta.TransferSyntaxUID
    try:
        grey = read_native_grey(stream, ds, element, _int(ds, "Rows") or 0,
                                _int(ds, "Columns") or 0)
        if grey is not None:
            return grey
        frame = read_first_frame(stream, ds, element, frame_bytes, frames)
        if element.encapsulated:
            check_frame(frame, syntax, _int(ds, "Rows") or 0, _int(ds, "Columns") or 0,
                        _int(ds, "SamplesPerPixel") or 1, _int(ds, "BitsAllocated") or 0)
    except (FrameError, FrameMismatch) as exc:
        raise UnreadableFileError(path, f"DICOM header does not match its pixel data: {exc}"
                                  if isinstance(exc, FrameMismatch) else str(exc)) from None
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
    except Exception as exc:  # noqa: BLE001 - decoder plugins raise many types for corrupt data
        raise UnreadableFileError(
            path, f"DICOM pixel data cannot be decoded ({one_line(exc)})"
        ) from None


def _map_values(path: Path, raw: np.ndarray, ds: Dataset, notes: list[str],
                lookup_table: bool) -> tuple[np.ndarray, str]:
    """Stored values to float32 ``[0, 1]``, bright = dense."""
    photometric = (_str(ds, "PhotometricInterpretation") or "MONOCHROME2").upper()
    try:
        if photometric == "PALETTE COLOR":
            return _unit(_palette(raw, ds)), "palette"
        if raw.ndim == 3:
            return _unit(_colour(raw, ds)), "colour range"
        if raw.ndim != 2:
            raise ValueError(f"unexpected pixel array shape {raw.shape}")
        return _grayscale_image(raw, ds, notes, photometric == "MONOCHROME1", lookup_table)
    except Exception as exc:  # noqa: BLE001 - a malformed LUT or window in the file
        raise UnsupportedImageError(
            path, f"DICOM pixel values cannot be mapped ({one_line(exc)})"
        ) from None


def _grayscale_image(raw: np.ndarray, ds: Dataset, notes: list[str], mono1: bool,
                     lookup_table: bool) -> tuple[np.ndarray, str]:
    """The grey value pipeline, through a lookup table where that is exact."""

    def mapping(values: np.ndarray) -> tuple[np.ndarray, str]:
        pixels, name = _grayscale(values, ds, notes)
        if mono1:
            pixels = 1.0 - pixels
        return _unit(pixels), name

    # A Modality LUT Sequence need not be monotonic, so a min-max scaling of
    # its output could see other extremes on the table than on the image.
    span = table_span(raw) if lookup_table and "ModalityLUTSequence" not in ds else None
    return mapping(raw) if span is None else map_stored(raw, mapping, span)


def _unit(pixels: np.ndarray) -> np.ndarray:
    return np.clip(pixels, 0.0, 1.0).astype(np.float32, copy=False)


def _geometry(path: Path, ds: Dataset, element: PixelElement) -> tuple[int, int]:
    """(samples per pixel, bits allocated), refused when implausible."""
    samples = _int(ds, "SamplesPerPixel") or 1
    default_bits = {"FloatPixelData": 32, "DoubleFloatPixelData": 64}.get(element.keyword, 16)
    bits = _int(ds, "BitsAllocated") or default_bits
    if samples not in (1, 3, 4) or bits not in (1, 8, 16, 32, 64):
        raise UnsupportedImageError(
            path, f"unsupported DICOM sample layout ({samples} samples of {bits} bits)"
        )
    return samples, bits


def _frame_bytes(samples: int, bits: int) -> int:
    return -(-samples * bits // 8)


def _grayscale(raw: np.ndarray, ds: Dataset, notes: list[str]) -> tuple[np.ndarray, str]:
    """Modality LUT, then VOI LUT or window, scaled to [0, 1] (not inverted)."""
    values = apply_modality_lut(raw, ds)
    voi = _voi_range(ds, notes)
    if voi is not None:
        lo, hi, mapping = voi
        values = apply_voi_lut(values, ds, index=0)
    else:
        lo, hi, mapping = float(values.min()), float(values.max()), "min-max"
    if hi <= lo:
        notes.append("image has a single grey level")
        return np.zeros(raw.shape, dtype=np.float32), mapping
    scaled = (values.astype(np.float32) - np.float32(lo)) * np.float32(1.0 / (hi - lo))
    return scaled, mapping


def _voi_range(ds: Dataset, notes: list[str]) -> tuple[float, float, str] | None:
    """Output range of the VOI stage pydicom will apply, or None if it applies none.

    Mirrors :func:`pydicom.pixels.apply_voi_lut`'s choice (VOI LUT Sequence
    preferred over the window). The window's range is found by pushing
    -inf/+inf through pydicom's windowing, so it is exactly pydicom's
    ``y_min``/``y_max``; a LUT's is its smallest..largest entry.
    """
    seq = ds.get("VOILUTSequence")
    if seq and None not in (seq[0].get("LUTDescriptor"), seq[0].get("LUTData")):
        _widen_8bit_voi_lut(seq[0])
        nr_entries, first_map = int(seq[0].LUTDescriptor[0]) or 2**16, int(seq[0].LUTDescriptor[1])
        probe = np.arange(first_map, first_map + nr_entries, dtype=np.int64)
        entries = apply_voi_lut(probe, ds, index=0)
        return float(entries.min()), float(entries.max()), "VOI LUT"
    if ds.get("WindowCenter") is None or ds.get("WindowWidth") is None:
        return None
    try:
        ends = apply_voi_lut(np.array([-np.inf, np.inf]), ds, index=0)
    except ValueError as exc:
        notes.append(f"DICOM window ignored ({one_line(exc)}); scaled by min..max instead")
        return None
    return float(ends[0]), float(ends[1]), "window"


def _widen_8bit_voi_lut(item: Dataset) -> None:
    """Declare an 8-bit VOI LUT of over 256 entries as 16-bit (same entries).

    pydicom 3.0 indexes such a LUT through an array of the LUT's own dtype, so
    input values above 255 wrap around; 16-bit indexing gives the right entries.
    """
    descriptor = [int(v) for v in item.LUTDescriptor]
    if descriptor[2] == 8 and (descriptor[0] or 2**16) > 256:
        item.LUTDescriptor = [descriptor[0], descriptor[1], 16]


def _colour(raw: np.ndarray, ds: Dataset) -> np.ndarray:
    """RGB samples (pydicom already converted YBR) scaled by BitsStored."""
    if raw.shape[-1] != 3:
        raise ValueError(f"{raw.shape[-1]} samples per pixel not supported")
    bits = _int(ds, "BitsStored") or raw.dtype.itemsize * 8
    return raw.astype(np.float32) / np.float32(2**bits - 1)


def _palette(raw: np.ndarray, ds: Dataset) -> np.ndarray:
    """PALETTE COLOR through its LUT to RGB, scaled by the LUT's integer type."""
    rgb = apply_color_lut(raw, ds)
    top = np.iinfo(rgb.dtype).max if np.issubdtype(rgb.dtype, np.integer) else 1.0
    return rgb.astype(np.float32) / np.float32(top)


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
    fields: dict[str, Any] = {name: _str(ds, kw) for name, kw in _STRING_FIELDS.items()}
    fields["bits_stored"] = _int(ds, "BitsStored")
    fields["pixel_spacing"] = _spacing(ds, "PixelSpacing") or _spacing(ds, "ImagerPixelSpacing")
    syntax = ds.file_meta.get("TransferSyntaxUID")
    fields["transfer_syntax"] = str(syntax.name) if syntax else None
    return fields


def _str(ds: Dataset, keyword: str) -> str | None:
    """An attribute as text (multiple values joined by backslash), None if empty."""
    try:
        value = ds.get(keyword)
    except (ValueError, TypeError, NotImplementedError):  # a value pydicom cannot convert
        # (NotImplementedError: a corrupt, unknown VR in the element's header)
        return None
    if value is None:
        return None
    text = "\\".join(str(v) for v in value) if isinstance(value, MultiValue) else str(value)
    return text.strip() or None


def _int(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return None if value in (None, "") else int(value)
    except (ValueError, TypeError, NotImplementedError):  # "1A" as IS; an unknown VR
        return None


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
