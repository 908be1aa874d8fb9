"""DICOM stored values to grey levels in ``[0, 1]``, bright = dense.

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

Integer grey values take that route once per distinct stored value, through
a lookup table (:mod:`pneumo.films.lut`), which gives bit for bit what the
per-pixel arithmetic gives (``lookup_table=False``, kept as the reference).

Colour data (RGB, YBR_* converted by pydicom, PALETTE COLOR through its LUT)
is returned as ``(H, W, 3)``; :mod:`pneumo.films.imaging` turns it into luma.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

from pneumo.errors import UnsupportedImageError, one_line
from pneumo.films.lut import map_stored, table_span


def map_values(path: Path, raw: np.ndarray, ds: Dataset, notes: list[str],
                lookup_table: bool) -> tuple[np.ndarray, str]:
    """Stored values to float32 ``[0, 1]``, bright = dense."""
    photometric = (text_attr(ds, "PhotometricInterpretation") or "MONOCHROME2").upper()
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
    bits = int_attr(ds, "BitsStored") or raw.dtype.itemsize * 8
    return raw.astype(np.float32) / np.float32(2**bits - 1)


def _palette(raw: np.ndarray, ds: Dataset) -> np.ndarray:
    """PALETTE COLOR through its LUT to RGB, scaled by the LUT's integer type."""
    rgb = apply_color_lut(raw, ds)
    top = np.iinfo(rgb.dtype).max if np.issubdtype(rgb.dtype, np.integer) else 1.0
    return rgb.astype(np.float32) / np.float32(top)


def text_attr(ds: Dataset, keyword: str) -> str | None:
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


def int_attr(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return None if value in (None, "") else int(value)
    except (ValueError, TypeError, NotImplementedError):  # "1A" as IS; an unknown VR
        return None


