"""Open any chest X-ray file as a grayscale image plus metadata.

One call, :func:`load_image`, whatever the format: PNG (8/16 bit), JPEG, TIFF,
BMP, or DICOM recognised by content (see :mod:`pneumo.films.dicom`). Pixels come
back as ``float32`` in ``[0, 1]`` with bright meaning dense (MONOCHROME1 is
inverted). Colour sources are converted to BT.601 luma and flagged with
``ImageMetadata.is_color`` when their channels differ meaningfully.

Only PNG, JPEG, TIFF, BMP (checked by their magic bytes, whatever the name;
:func:`pneumo.films.sniff.sniff_raster`) and DICOM are decoded; any other
content is refused before a decoder sees it, and Pillow is only ever asked
for that one format, so no other plugin (EPS runs Ghostscript) can be reached.

Limits (:mod:`pneumo.films.limits`): files over ``MAX_FILE_BYTES`` are refused
from their size; DICOM files are read lazily (header and first frame), other
images whole, up to ``MAX_RASTER_BYTES``; images over :data:`MAX_PIXELS`
pixels are refused before their pixels are decoded (Pillow's
decompression-bomb limit is set to the same value), and so is a decode whose
estimated working memory passes ``MAX_DECODE_BYTES``.
Truncated JPEG and PNG files are refused even when Pillow could decode them
(a JPEG without end-of-image marker, a PNG without IEND chunk), whatever
``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` says. A JPEG that libjpeg reports as
corrupt but decodes is warned about (:mod:`pneumo.films.damage`). Library
warnings raised while decoding name the file (:mod:`pneumo.films.library_warnings`).
"""

from __future__ import annotations

import io
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from pneumo.errors import ImageError, UnreadableFileError, UnsupportedImageError, one_line
from pneumo.films import limits
from pneumo.films.damage import damage_warning, jpeg_damage
from pneumo.films.library_warnings import decoding
from pneumo.films.sniff import (
    ACCEPTED_FORMATS,
    SNIFF_BYTES,
    describe_content,
    sniff_dicom,
    sniff_raster,
)

MAX_PIXELS = limits.MAX_PIXELS
"""Largest image (width x height) accepted, for raster files and DICOM alike."""

Image.MAX_IMAGE_PIXELS = MAX_PIXELS

COLOR_SPREAD = 0.06
"""A pixel is coloured when its channels span more than this (of full scale)."""
COLOR_FRACTION = 0.01
"""An image is colour when more than this fraction of its pixels is coloured."""

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})


@dataclass(frozen=True)
class ImageMetadata:
    """What the loader learnt about a file besides its pixels.

    DICOM fields are ``None`` for plain raster images. ``value_mapping`` says
    how DICOM values became ``[0, 1]`` ("window", "VOI LUT", "min-max",
    "colour range" or "palette").
    """

    format: str
    width: int
    height: int
    bits_stored: int | None = None
    photometric: str | None = None
    number_of_frames: int = 1
    modality: str | None = None
    body_part: str | None = None
    view_position: str | None = None
    patient_age: str | None = None
    patient_birth_date: str | None = None
    pixel_spacing: tuple[float, float] | None = None
    sop_instance_uid: str | None = None
    patient_id: str | None = None
    patient_name: str | None = None
    patient_sex: str | None = None
    study_instance_uid: str | None = None
    study_date: str | None = None
    study_description: str | None = None
    accession_number: str | None = None
    institution: str | None = None
    is_color: bool = False
    transfer_syntax: str | None = None
    value_mapping: str | None = None


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image: 2-D ``float32`` pixels in ``[0, 1]``, bright = dense."""

    path: Path
    pixels: np.ndarray
    metadata: ImageMetadata
    warnings: tuple[str, ...] = field(default=())


def load_image(path: str | Path) -> LoadedImage:
    """Decode ``path`` into a :class:`LoadedImage`.

    DICOM is recognised by content, with or without a ``.dcm`` extension;
    anything else goes to Pillow. Raises
    :class:`~pneumo.errors.UnreadableFileError` (missing, unreadable, empty,
    truncated or corrupt file) or :class:`~pneumo.errors.UnsupportedImageError`
    (not an image, no pixel data, too large), whose message names the file and
    the problem.
    """
    path = Path(path)
    with decoding(path):
        return _load(path)


def _load(path: Path) -> LoadedImage:
    if sniff_dicom(_read_bytes(path, SNIFF_BYTES)) is not None:
        from pneumo.films.dicom import read_dicom  # pydicom costs ~0.4 s: load it when needed

        try:
            decoded = read_dicom(path, MAX_PIXELS)
        except (ImageError, KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - a Rust decoder's panic is a BaseException
            raise UnreadableFileError(
                path, f"pixel decoder failed ({type(exc).__name__}: {one_line(exc)})") from None
        gray, is_color = to_luma(decoded.pixels)
        meta = ImageMetadata(
            format="DICOM",
            width=gray.shape[1],
            height=gray.shape[0],
            is_color=is_color,
            **decoded.fields,
        )
        return LoadedImage(path=path, pixels=gray, metadata=meta, warnings=decoded.warnings)
    return _load_raster(path, _read_bytes(path, limits.MAX_RASTER_BYTES, whole=True))


def to_luma(pixels: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return ``(gray, is_color)`` for ``(H, W)`` or ``(H, W, 3)`` pixels in [0, 1].

    Colour becomes BT.601 luma (so a gray RGB image is returned unchanged);
    ``is_color`` is True when more than :data:`COLOR_FRACTION` of the pixels
    have channels more than :data:`COLOR_SPREAD` apart (checked on a
    subsample of about a million pixels).
    """
    if pixels.ndim == 2:
        return pixels.astype(np.float32, copy=False), False
    rgb = pixels[..., :3].astype(np.float32, copy=False)
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 1e6)))
    sample = rgb[::step, ::step]
    spread = sample.max(axis=2) - sample.min(axis=2)
    is_color = bool(np.mean(spread > COLOR_SPREAD) > COLOR_FRACTION)
    gray = np.clip(rgb @ _LUMA, 0.0, 1.0).astype(np.float32, copy=False)
    return gray, is_color


def _read_bytes(path: Path, limit: int, whole: bool = False) -> bytes:
    """The first ``limit`` bytes of a regular, non-empty file (all of them when
    ``whole``, refusing a longer file), or an :class:`ImageError`."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise UnreadableFileError(path, "is a directory, not an image file")
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFileError(path, "not a regular file")
        too_big = limits.MAX_FILE_BYTES if not whole else limit
        if info.st_size > too_big:
            raise UnsupportedImageError(
                path, f"file too large ({info.st_size / limits.MiB:,.0f} MiB; "
                f"the limit is {too_big / limits.MiB:,.0f} MiB)"
            )
        with open(path, "rb") as fh:
            # read(n) sets aside n bytes first: ask for no more than the file holds
            data = fh.read(min(info.st_size, limit) + 1 if whole else limit)
    except FileNotFoundError:
        raise UnreadableFileError(path, "file not found") from None
    except PermissionError:
        raise UnreadableFileError(path, "permission denied") from None
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not data:
        raise UnreadableFileError(path, "empty file (0 bytes)")
    if whole and len(data) > limit:
        raise UnsupportedImageError(path, "file grew while it was read")
    return data


def _load_raster(path: Path, data: bytes) -> LoadedImage:
    """Decode an accepted raster file with Pillow (first frame only)."""
    accepted = sniff_raster(data)
    if accepted is None:
        raise UnsupportedImageError(path, _not_accepted(path, data))
    try:
        # formats=: Pillow tries no other plugin, whatever the content claims.
        img = Image.open(io.BytesIO(data), formats=[accepted])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnsupportedImageError(
            path, f"image too large (more than {MAX_PIXELS:,} pixels)"
        ) from None
    except UnidentifiedImageError:
        raise UnreadableFileError(path, f"corrupt {accepted} header") from None
    except Exception as exc:  # noqa: BLE001 - Pillow plugins raise many types on corrupt headers
        raise UnreadableFileError(path, f"corrupt image header ({one_line(exc)})") from None
    with img:
        fmt = img.format or "UNKNOWN"
        width, height = img.size
        if width * height > MAX_PIXELS:
            raise UnsupportedImageError(path, f"image too large ({width} x {height})")
        _check_complete(path, fmt, data)
        frames = int(getattr(img, "n_frames", 1))
        bands = 3 if img.mode in ("P", "PA") else len(img.getbands())  # palettes become RGB
        estimate = limits.decode_bytes(width * height, bands, _band_bytes(img.mode), len(data))
        with limits.reserve(path, estimate):
            try:
                img.load()
                pixels, notes = _pil_pixels(ImageOps.exif_transpose(img))
            except MemoryError:
                raise UnsupportedImageError(path, "not enough memory to decode the image") from None
            except Exception as exc:  # noqa: BLE001 - OSError for truncation, others for corrupt data
                raise UnreadableFileError(
                    path, f"truncated or corrupt {fmt} data ({one_line(exc)})"
                ) from None
            gray, is_color = to_luma(pixels)
            del pixels
    if frames > 1:
        notes.append(f"multi-frame {fmt} ({frames} frames): only the first frame is used")
    if accepted == "JPEG":
        damage = jpeg_damage(data)
        if damage is not None:
            notes.append(damage_warning(damage))
    meta = ImageMetadata(
        format=fmt,
        width=gray.shape[1],
        height=gray.shape[0],
        number_of_frames=frames,
        is_color=is_color,
    )
    return LoadedImage(path=path, pixels=gray, metadata=meta, warnings=tuple(notes))


def _band_bytes(mode: str) -> int:
    """Bytes per band of a Pillow mode (4 for the 32-bit modes)."""
    if mode in ("I", "F") or mode.startswith("I;32"):
        return 4
    return 2 if mode in _SIXTEEN_BIT else 1


def _check_complete(path: Path, fmt: str, data: bytes) -> None:
    """Refuse JPEG/PNG files cut short, which Pillow may decode silently."""
    if fmt in ("JPEG", "MPO") and data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):
        raise UnreadableFileError(path, "truncated JPEG file (no end-of-image marker)")
    if fmt == "PNG":
        end = data.rfind(b"\x00\x00\x00\x00IEND")
        if end < 0 or len(data) < end + 12:  # length, type and CRC: 12 bytes
            raise UnreadableFileError(path, "truncated PNG file (no complete IEND chunk)")


def _pil_pixels(img: Image.Image) -> tuple[np.ndarray, list[str]]:
    """Pixels of a loaded Pillow image in [0, 1]: (H, W) gray or (H, W, 3) RGB."""
    notes: list[str] = []
    mode = img.mode
    if mode == "L":
        return np.asarray(img, dtype=np.float32) / np.float32(255.0), notes
    if mode in _SIXTEEN_BIT:
        return np.asarray(img).astype(np.float32) / np.float32(65535.0), notes
    if mode in ("I", "F"):
        values = np.asarray(img).astype(np.float32)
        top = 65535.0 if mode == "I" else 1.0
        lo, hi = float(values.min()), float(values.max())
        if lo >= 0.0 and hi <= top:
            return values / np.float32(top), notes
        notes.append(f"{mode}-mode values {lo:g}..{hi:g} scaled by min..max")
        return (values - lo) / np.float32(max(hi - lo, 1e-12)), notes
    if mode in ("LA", "La", "1"):
        return np.asarray(img.convert("L"), dtype=np.float32) / np.float32(255.0), notes
    rgb = img if mode == "RGB" else img.convert("RGB")
    return np.asarray(rgb, dtype=np.float32) / np.float32(255.0), notes


def _not_accepted(path: Path, data: bytes) -> str:
    """Why content that is neither DICOM nor an accepted raster format is refused."""
    what = describe_content(data)
    content = f"{what} content" if what else "content of an unknown kind"
    suffix = path.suffix.lower()
    named = f", named {suffix!r}" if suffix else ""
    return f"not an accepted image format ({content}{named}; accepted: {ACCEPTED_FORMATS})"
