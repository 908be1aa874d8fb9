"""A result as a DICOM Secondary Capture: the film, its heat map and a banner.

:func:`render_result` draws an RGB picture: the film (at most
:data:`MAX_SIDE` pixels on its long side) with the Grad-CAM heat map blended
over it when the label is PNEUMONIA (the app hides it for NORMAL too: a heat
map over a normal film misleads), under a black banner that names the
product and version, the result, the probability against the threshold and
"NOT FOR DIAGNOSTIC USE". The banner sits above the film, so it hides no
anatomy. :func:`build_sc` wraps the picture in a Secondary Capture Image in
the source's study (patient and study copied, a new series),
``BurnedInAnnotation`` YES.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from pneumo.model.gradcam import overlay_rgba
from pneumo.results.dicom_sr import NOT_FOR_DIAGNOSIS, Finding, source_header
from pneumo.results.provenance import MANUFACTURER, PRODUCT

MAX_SIDE = 1024
OPACITY = 0.45
SC_SERIES_NUMBER = 9702
SC_SERIES_DESCRIPTION = f"{PRODUCT} heat map - {NOT_FOR_DIAGNOSIS}"
_FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
               "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
               "C:/Windows/Fonts/arialbd.ttf",
               "/System/Library/Fonts/Supplemental/Arial Bold.ttf")
_WARNING_RGB = (255, 214, 0)


def render_result(film: np.ndarray, heatmap: np.ndarray | None, finding: Finding) -> np.ndarray:
    """RGB ``uint8`` (H, W, 3): the banner over the film with its heat map.

    ``film`` is 2-D in ``[0, 1]`` (bright = dense); ``heatmap`` is in
    ``[0, 1]`` at any size, or ``None`` when there is none.
    """
    small = _fit(np.asarray(film, dtype=np.float32))
    show_heat = heatmap is not None and finding.present
    if show_heat:
        assert heatmap is not None
        picture = overlay_rgba(small, heatmap, OPACITY)[..., :3]
    else:
        grey = np.round(np.clip(small, 0.0, 1.0) * 255).astype(np.uint8)
        picture = np.repeat(grey[..., np.newaxis], 3, axis=-1)
    if heatmap is None:
        note = "no heat map (explain model not available)"
    elif show_heat:
        note = "heat map: Grad-CAM, regions that raised the probability"
    else:
        note = f"heat map not shown for {finding.label}"
    banner = _banner(picture.shape[1], finding, note)
    return np.concatenate([banner, picture], axis=0)


def _fit(film: np.ndarray) -> np.ndarray:
    height, width = film.shape
    scale = MAX_SIDE / max(height, width)
    if scale >= 1.0:
        return film
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(cv2.resize(film, size, interpolation=cv2.INTER_AREA), dtype=np.float32)


def banner_lines(finding: Finding, note: str) -> list[str]:
    """The banner's text, top to bottom."""
    model = finding.model
    return [
        f"{PRODUCT} {model.software_version} - {finding.label}",
        f"probability {finding.probability:.3f} (threshold {finding.threshold:.3f})",
        f"model {model.name}; {note}",
        f"{NOT_FOR_DIAGNOSIS} - research software, not a medical device",
    ]


def _banner(width: int, finding: Finding, note: str) -> np.ndarray:
    lines = banner_lines(finding, note)
    size = max(9, min(28, width // 28))
    font = _font(size)
    while size > 8 and max(_text_width(font, t) for t in lines) > width - 8:
        size -= 1
        font = _font(size)
    step = int(size * 1.35)
    height = step * len(lines) + 8
    img = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(img)
    for i, text in enumerate(lines):
        colour = _WARNING_RGB if i in (0, len(lines) - 1) else (255, 255, 255)
        draw.text((4, 4 + i * step), text, fill=colour, font=font)
    return np.asarray(img, dtype=np.uint8)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in _FONT_FILES:
        if Path(name).is_file():
            try:
                return ImageFont.truetype(name, size)
            except OSError:
                continue
    try:
        return ImageFont.load_default(size=size)  # Pillow's own bundled font
    except (TypeError, OSError):
        return ImageFont.load_default()


def _text_width(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str) -> float:
    return float(font.getlength(text))


def build_sc(source: Dataset, rgb: np.ndarray, *, series_uid: str, sop_uid: str,
             software_version: str) -> Dataset:
    """A Secondary Capture Image of ``rgb`` in ``source``'s study."""
    from highdicom.sc import SCImage

    header = source_header(source)
    orientation = _orientation(header)
    sc = SCImage.from_ref_dataset(
        header,
        np.ascontiguousarray(rgb, dtype=np.uint8),
        "RGB",
        8,
        "PATIENT",
        series_instance_uid=series_uid,
        series_number=SC_SERIES_NUMBER,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer=MANUFACTURER,
        patient_orientation=orientation or ("A", "F"),
        transfer_syntax_uid=ExplicitVRLittleEndian,
    )
    if orientation is None:
        # highdicom needs an orientation for a patient image; the source gave
        # none, so the attribute is left empty (Type 2: unknown), not invented.
        del sc.PatientOrientation
        sc.add_new("PatientOrientation", "CS", None)
    if header.get("BodyPartExamined"):
        sc.BodyPartExamined = header.BodyPartExamined
    if header.get("Laterality"):
        sc.Laterality = header.Laterality
    elif not header.get("BodyPartExamined"):
        sc.add_new("Laterality", "CS", None)  # Type 2C, needed for a paired part: empty = unknown
    sc.BurnedInAnnotation = "YES"
    sc.SeriesDescription = SC_SERIES_DESCRIPTION
    sc.ImageComments = f"{NOT_FOR_DIAGNOSIS}. Result and heat map of {PRODUCT}."
    sc.DerivationDescription = "film downsampled, Grad-CAM heat map and result banner burned in"
    sc.ManufacturerModelName = PRODUCT
    sc.SoftwareVersions = software_version
    ref = Dataset()
    ref.ReferencedSOPClassUID = header.SOPClassUID
    ref.ReferencedSOPInstanceUID = header.SOPInstanceUID
    sc.SourceImageSequence = [ref]
    return sc


def _orientation(header: Dataset) -> tuple[str, str] | None:
    from highdicom.enum import PatientOrientationValuesBiped as Biped

    value = header.get("PatientOrientation")
    if not value or len(value) != 2:
        return None
    try:
        row, col = (Biped(str(v)).value for v in value)
    except ValueError:
        return None
    return str(row), str(col)


def save_png(rgb: np.ndarray, path: str | Path) -> None:
    """Write ``rgb`` as a PNG (for documentation and previews)."""
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").save(path, optimize=True)
