"""A tiny, learnable chest-X-ray-like data set generated on the fly.

NORMAL films are a smooth body-shaped gradient with noise; PNEUMONIA films add
bright patchy opacities in one lung field. File names follow the Kermany
conventions (``IM-0001-0001.png``, ``person7_bacteria_12.png``) so that
patient-level splitting has patients with several images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def synthetic_film(rng: np.random.Generator, pneumonia: bool, size: int = 128) -> np.ndarray:
    """One uint8 grayscale film of ``size`` x ``size``."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    body = np.exp(-(((xx - 0.5) / 0.38) ** 2 + ((yy - 0.55) / 0.45) ** 2))
    lungs = np.exp(-(((np.abs(xx - 0.5) - 0.2) / 0.11) ** 2 + ((yy - 0.5) / 0.25) ** 2))
    img = 0.25 + 0.55 * body - 0.35 * lungs + rng.normal(0, 0.03, (size, size))
    if pneumonia:
        cx = 0.5 + rng.choice([-0.2, 0.2]) + rng.normal(0, 0.03)
        cy = 0.5 + rng.normal(0, 0.08)
        for _ in range(4):
            px, py = cx + rng.normal(0, 0.05), cy + rng.normal(0, 0.06)
            img += 0.35 * np.exp(-(((xx - px) / 0.06) ** 2 + ((yy - py) / 0.06) ** 2))
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def write_dataset(root: Path, per_class: int = 24, test_per_class: int = 8, seed: int = 0,
                  size: int = 128) -> Path:
    """Write ``root/{train,val,test}/{NORMAL,PNEUMONIA}`` and return ``root``."""
    rng = np.random.default_rng(seed)
    counts = {"train": per_class, "val": 2, "test": test_per_class}
    serial = 0
    for split, n in counts.items():
        for label in ("NORMAL", "PNEUMONIA"):
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                serial += 1
                patient = serial // 2  # two images per patient
                if label == "NORMAL":
                    name = f"IM-{patient:04d}-{i % 2 + 1:04d}.png"
                else:
                    name = f"person{patient}_bacteria_{serial}.png"
                Image.fromarray(synthetic_film(rng, label == "PNEUMONIA", size)).save(
                    folder / name)
    return root
