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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, pixel_array
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from pneumo.errors import UnreadableFileError, UnsupportedImageError, one_line

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")

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


def read_dicom(path: Path, data: bytes, max_pixels: int) -> DicomImage:
    """Decode the DICOM file ``path`` whose bytes are ``data``.

    Only the first frame is decoded. Raises :class:`UnsupportedImageError` for
    a file without pixel data or larger than ``max_pixels`` (checked before
    decoding), and :class:`UnreadableFileError` for one that cannot be parsed
    or decoded.
    """
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for corrupt files
        raise UnreadableFileError(path, f"not a readable DICOM file ({one_line(exc)})") from None
    if not any(keyword in ds for keyword in _PIXEL_KEYWORDS):
        raise UnsupportedImageError(path, "DICOM file has no pixel data")
    rows, cols = _int(ds, "Rows"), _int(ds, "Columns")
    if not rows or not cols:
        raise UnsupportedImageError(path, "DICOM file has no image size (Rows/Columns)")
    if rows * cols > max_pixels:
        raise UnsupportedImageError(path, f"image too large ({cols} x {rows})")
    _ensure_transfer_syntax(ds)
    frames = max(1, _int(ds, "NumberOfFrames") or 1)
    notes: list[str] = []
    if frames > 1:
        notes.append(f"multi-frame DICOM ({frames} frames): only the first frame is used")
    try:
        raw = pixel_array(ds, index=0)
    except NotImplementedError as exc:
        raise UnsupportedImageError(
            path, f"unsupported DICOM pixel encoding ({one_line(exc)})"
        ) from None
    except Exception as exc:  # noqa: BLE001 - decoder plugins raise many types for corrupt data
        raise UnreadableFileError(
            path, f"DICOM pixel data cannot be decoded ({one_line(exc)})"
        ) from None
    photometric = (_str(ds, "PhotometricInterpretation") or "MONOCHROME2").upper()
    try:
        if photometric == "PALETTE COLOR":
            pixels, mapping = _palette(raw, ds), "palette"
        elif raw.ndim == 3:
            pixels, mapping = _colour(raw, ds), "colour range"
        elif raw.ndim == 2:
            pixels, mapping = _grayscale(raw, ds, notes)
            if photometric == "MONOCHROME1":
                pixels = 1.0 - pixels
        else:
            raise ValueError(f"unexpected pixel array shape {raw.shape}")
    except Exception as exc:  # noqa: BLE001 - a malformed LUT or window in the file
        raise UnsupportedImageError(
            path, f"DICOM pixel values cannot be mapped ({one_line(exc)})"
        ) from None
    fields = _metadata(ds)
    fields.update(number_of_frames=frames, value_mapping=mapping)
    pixels = np.clip(pixels, 0.0, 1.0).astype(np.float32, copy=False)
    return DicomImage(pixels=pixels, fields=fields, warnings=tuple(notes))


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
