"""The input gate: is a loaded image something the model should classify?

A minimal, conservative check run before inference. It refuses what is surely
not a frontal chest radiograph (wrong DICOM modality, tiny or blank images) and
warns about what may not be (another body part, a lateral view).
"""

from __future__ import annotations

import numpy as np

from pneumo.imaging import LoadedImage

#: DICOM modalities accepted: computed/digital radiography, "other", absent.
ACCEPTED_MODALITIES = frozenset({"CR", "DX", "DR", "RG", "OT"})
#: Smallest accepted side, in pixels.
MIN_SIDE = 128
#: Images whose pixel standard deviation is below this are refused as blank.
MIN_STD = 0.01
_CHEST_WORDS = ("CHEST", "THORAX", "THORAC", "LUNG", "TORAX", "BRUST", "PECHO")
_LATERAL_VIEWS = frozenset({"LL", "RL", "LAT", "LATERAL", "LLAT", "RLAT"})


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
    height, width = np.shape(image.pixels)[:2]
    if min(height, width) < MIN_SIDE:
        return warnings, (
            f"image is {width}x{height} pixels; at least {MIN_SIDE} on each side is needed"
        )
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
        warnings.append(f"view position {view} is lateral; the model expects frontal (PA/AP) films")
    return warnings, None


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip().upper()
    return text or None


def _subsample(pixels: np.ndarray) -> np.ndarray:
    arr = np.asarray(pixels, dtype=np.float32)
    step = max(1, min(arr.shape[:2]) // 256)  # a subsample is plenty
    return arr[::step, ::step]
