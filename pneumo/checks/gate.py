"""The input gate: is a loaded image something the model should classify?

A conservative check run before inference. It refuses what is surely not a
frontal chest radiograph and warns about what may be outside the population
the shipped model was trained on (the Kermany set: frontal paediatric films,
children aged 1 to 5).

Refused: a DICOM modality that is not radiography (CT, MR, US, ...); colour
images (photos, screenshots: radiographs are grey); images under
:data:`MIN_SIDE` pixels on a side; extreme aspect ratios (beyond
:data:`MAX_ASPECT` to 1 either way); near-constant (blank) images.

Warned about: an unusual aspect ratio (beyond :data:`WARN_ASPECT` to 1); a
body part other than the chest; a lateral view; a patient age outside
:data:`TRAINING_AGE_YEARS` (``PatientAge``, else ``PatientBirthDate`` with
``StudyDate``: :func:`patient_age_years`). A known age also decides the
population rule (:func:`pneumo.checks.findings.decide`).
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np

from pneumo.films.imaging import ImageMetadata, LoadedImage

#: DICOM modalities accepted: computed/digital radiography, "other", absent.
ACCEPTED_MODALITIES = frozenset({"CR", "DX", "DR", "RG", "OT"})
#: Smallest accepted side, in pixels.
MIN_SIDE = 128
#: Largest accepted ratio of the long side to the short side. The Kermany
#: training films themselves reach 3.2 to 1 (landscape crops), so the refusal
#: starts beyond that; between :data:`WARN_ASPECT` and it there is a warning.
MAX_ASPECT = 3.5
#: Ratios of the long side to the short side above this get a warning.
WARN_ASPECT = 2.5
#: Images whose pixel standard deviation is below this are refused as blank.
MIN_STD = 0.01
#: Ages (years, inclusive) of the training population: the Kermany set is paediatric.
TRAINING_AGE_YEARS = (1.0, 5.0)
_CHEST_WORDS = ("CHEST", "THORAX", "THORAC", "LUNG", "TORAX", "BRUST", "PECHO")
_LATERAL_VIEWS = frozenset({"LL", "RL", "LAT", "LATERAL", "LLAT", "RLAT"})
_AGE = re.compile(r"^(\d{1,3})\s*([DWMY]?)$")
_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})")
_DAYS_PER = {"D": 1.0, "W": 7.0, "M": 365.25 / 12.0, "Y": 365.25}
_UNIT_WORDS = {"D": "day", "W": "week", "M": "month", "Y": "year"}
COLOUR_REFUSAL = "colour image: a photo or screenshot, not a radiograph"


def check_input(image: LoadedImage) -> tuple[list[str], str | None]:
    """Return ``(warnings, refusal)`` for ``image``.

    ``refusal`` is ``None`` when the image may be classified; otherwise it is
    a short reason, e.g. ``"modality CT is not a chest radiograph"``.
    """
    warnings: list[str] = []
    meta = image.metadata
    modality = _clean(meta.modality)
    if modality is not None and modality not in ACCEPTED_MODALITIES:
        return warnings, f"modality {modality} is not a chest radiograph"
    if meta.is_color:
        return warnings, COLOUR_REFUSAL
    height, width = np.shape(image.pixels)[:2]
    if min(height, width) < MIN_SIDE:
        return warnings, (
            f"image is {width}x{height} pixels; at least {MIN_SIDE} on each side is needed"
        )
    if max(height, width) > MAX_ASPECT * min(height, width):
        return warnings, (
            f"image is {width}x{height} pixels: aspect ratio beyond {MAX_ASPECT:g} to 1 "
            "is not a chest film"
        )
    if max(height, width) > WARN_ASPECT * min(height, width):
        warnings.append(f"unusual aspect ratio ({width}x{height} pixels) for a chest film")
    sample = _subsample(image.pixels)
    if not np.isfinite(sample).all():
        return warnings, "image has invalid (non-finite) pixel values"
    if float(sample.std()) < MIN_STD:
        return warnings, "image is nearly uniform (blank or failed exposure)"
    body_part = _clean(meta.body_part)
    if body_part is not None and not any(w in body_part for w in _CHEST_WORDS):
        warnings.append(f"body part {body_part} is not the chest")
    view = _clean(meta.view_position)
    if view is not None and (view in _LATERAL_VIEWS or view.startswith("LAT")):
        warnings.append(
            f"view position {view} is lateral; the model was trained on frontal views (PA/AP)"
        )
    age_warning = _age_warning(meta)
    if age_warning is not None:
        warnings.append(age_warning)
    return warnings, None


def parse_age_years(value: str | None) -> float | None:
    """A DICOM age string (AS: ``"003Y"``, ``"018M"``, ``"006W"``, ``"010D"``) in years.

    A bare number is taken as years. Returns ``None`` for absent or
    unparseable values.
    """
    parsed = _parse_age(value)
    return None if parsed is None else parsed[0] * _DAYS_PER[parsed[1]] / _DAYS_PER["Y"]


def _parse_age(value: str | None) -> tuple[int, str] | None:
    text = _clean(value)
    match = _AGE.match(text) if text is not None else None
    if match is None:
        return None
    return int(match.group(1)), match.group(2) or "Y"


def patient_age_years(meta: ImageMetadata) -> float | None:
    """The patient's age in years at the study: ``PatientAge`` when it parses, else
    the years between ``PatientBirthDate`` and ``StudyDate`` (DICOM dates,
    ``YYYYMMDD``); ``None`` when neither is usable."""
    years = parse_age_years(meta.patient_age)
    if years is not None:
        return years
    born, taken = _dicom_date(meta.patient_birth_date), _dicom_date(meta.study_date)
    if born is None or taken is None or taken < born:
        return None
    return (taken - born).days / _DAYS_PER["Y"]


def age_text(years: float) -> str:
    """An age in years as said to a user: ``"42 years"``, under 2 ``"18 months"``."""
    return f"{years:.0f} years" if years >= 2 else f"{12 * years:.0f} months"


def _dicom_date(value: str | None) -> date | None:
    text = (value or "").strip()
    match = _DATE.match(text)
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _age_warning(meta: ImageMetadata) -> str | None:
    years = patient_age_years(meta)
    low, high = TRAINING_AGE_YEARS
    if years is None or low <= years <= high:
        return None
    parsed = _parse_age(meta.patient_age)
    if parsed is None:  # from the birth and study dates
        shown = age_text(years)
        source = " (from birth and study dates)"
    else:
        number, unit = parsed
        shown, source = f"{number} {_UNIT_WORDS[unit]}{'' if number == 1 else 's'}", ""
    return (f"patient age {shown}{source} is outside the training population "
            f"(children aged {low:g} to {high:g})")


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip().upper()
    return text or None


def _subsample(pixels: np.ndarray) -> np.ndarray:
    arr = np.asarray(pixels, dtype=np.float32)
    step = max(1, min(arr.shape[:2]) // 256)  # a subsample is plenty
    return arr[::step, ::step]
