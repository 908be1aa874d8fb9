"""Film transforms that another site, scanner or export would apply to a film.

Used to fit and to judge the population check (:mod:`pneumo.checks.population`)
and the out-of-distribution score (:mod:`pneumo.model.ood_fit`) so that they
learn what a film shows, not how one hospital's equipment writes
it: crops (which also change the aspect ratio the model input is squashed
from), display curves (gamma, windows), borders and padding, burned-in text
and markers, resampling blur and noise. Each function takes and returns a 2-D
``float32`` image in ``[0, 1]`` and never changes its input.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Transform = Callable[[np.ndarray, np.random.Generator], np.ndarray]
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789:/.- "


def crop(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Keep a random 65-100 % of each side, independently (the aspect ratio changes)."""
    h, w = pixels.shape
    ch, cw = (max(16, round(n * rng.uniform(0.65, 1.0))) for n in (h, w))
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return pixels[top:top + ch, left:left + cw].copy()


def gamma(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A gamma curve between 0.5 and 2."""
    g = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    return np.power(np.clip(pixels, 0.0, 1.0), g).astype(np.float32)


def window(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A display window: clip to two random percentiles and stretch to ``[0, 1]``."""
    lo, hi = np.percentile(pixels, [rng.uniform(0.0, 15.0), rng.uniform(85.0, 100.0)])
    if hi - lo < 1e-3:
        return pixels.copy()
    return np.clip((pixels - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def border(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pad 0-15 % on each side with black, white or grey (a collimator, a scanned film)."""
    h, w = pixels.shape
    pads = [int(rng.uniform(0.0, 0.15) * n) if rng.random() < 0.6 else 0 for n in (h, h, w, w)]
    value = float(rng.choice([0.0, 1.0, rng.uniform(0.0, 1.0)]))
    top, bottom, left, right = pads
    out = cv2.copyMakeBorder(pixels, top, bottom, left, right, cv2.BORDER_CONSTANT,
                             value=value)
    return np.asarray(out, dtype=np.float32)


def text(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Burn in 1-4 labels (dates, names, an L or R marker), bright or dark."""
    out = pixels.copy()
    h, w = out.shape
    for _ in range(int(rng.integers(1, 5))):
        length = int(rng.integers(1, 16))
        label = "".join(rng.choice(list(_LETTERS), size=length))
        scale = h / 400.0 * rng.uniform(0.4, 1.6)
        origin = (int(rng.uniform(0.0, 0.8) * w), int(rng.uniform(0.08, 1.0) * h))
        mask = np.zeros((h, w), dtype=np.uint8)  # OpenCV draws text on 8-bit images only
        cv2.putText(mask, label, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, 255,
                    max(1, round(scale * 2)), cv2.LINE_AA)
        alpha = mask.astype(np.float32) / 255.0
        out = out * (1.0 - alpha) + float(rng.choice([0.0, 1.0])) * alpha
    return out


def resample(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur (another detector's sharpness) and a little noise."""
    sigma = rng.uniform(0.3, 1.5) * max(pixels.shape) / 512.0
    out = np.asarray(cv2.GaussianBlur(pixels, (0, 0), sigmaX=max(sigma, 0.1)), np.float32)
    out = out + rng.normal(0.0, rng.uniform(0.0, 0.02), out.shape).astype(np.float32)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def rotate(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotate by up to 8 degrees (a patient not quite straight), edges replicated."""
    h, w = pixels.shape
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), float(rng.uniform(-8.0, 8.0)), 1.0)
    out = cv2.warpAffine(pixels, matrix, (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(out, dtype=np.float32)


#: Every transform, by name.
TRANSFORMS: dict[str, Transform] = {
    "crop": crop, "gamma": gamma, "window": window, "border": border,
    "text": text, "resample": resample, "rotate": rotate,
}


#: The transforms that change how a film is framed, not what it shows.
FRAMING: tuple[str, ...] = ("crop", "border", "text")


def random_variant(pixels: np.ndarray, rng: np.random.Generator,
                   probability: float = 0.5,
                   names: tuple[str, ...] | None = None) -> np.ndarray:
    """The film after a random subset of ``names`` (default: all of :data:`TRANSFORMS`;
    each with ``probability``, at least one), applied in a fixed order."""
    pool = list(TRANSFORMS) if names is None else [n for n in TRANSFORMS if n in names]
    chosen = [n for n in pool if rng.random() < probability]
    if not chosen:
        chosen = [str(rng.choice(pool))]
    out = np.asarray(pixels, dtype=np.float32)
    for name in chosen:
        out = TRANSFORMS[name](out, rng)
    return out


def seeded_variants(pixels: np.ndarray, count: int, seed: int, index: int,
                    names: tuple[str, ...] | None = None) -> list[np.ndarray]:
    """``count`` random variants (of ``names``, default all transforms) of the film at
    position ``index`` of a data set, drawn from ``numpy.random.default_rng([seed,
    index])``: the same film, seed and index always give the same variants, in any
    order and on any thread."""
    rng = np.random.default_rng([seed, index])
    return [random_variant(pixels, rng, names=names) for _ in range(count)]
