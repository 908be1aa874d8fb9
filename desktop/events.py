"""The events background jobs yield to the GUI thread (plain frozen dataclasses, no Qt)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pneumo.films.imaging import ImageMetadata

if TYPE_CHECKING:
    from pneumo.scanning.walk import Skipped


@dataclass(frozen=True)
class ModelFailed:
    """The model could not be loaded; ``message`` says why."""

    message: str


@dataclass(frozen=True)
class ExplainStatus:
    """Whether the float explain model (heat maps, OOD check) can be used;
    ``problem`` says why not (``None``: it can)."""

    problem: str | None


@dataclass(frozen=True)
class WalkReport:
    """What walking the opened paths found: files to scan and files left out."""

    paths: tuple[Path, ...]
    files: int
    skipped: tuple[Skipped, ...]


@dataclass(frozen=True)
class DisplayImage:
    """A film to draw: ``uint16`` display levels, halved copies (smallest last),
    auto window and metadata. A quick preview has ``full_size``, the (rows,
    columns) of the film it stands for; the film itself follows."""

    path: Path
    metadata: ImageMetadata
    levels: np.ndarray
    auto_window: tuple[float, float]
    pyramid: tuple[np.ndarray, ...] = ()
    full_size: tuple[int, int] | None = None


@dataclass(frozen=True)
class OverlayReady:
    """A Grad-CAM heat map resized to the image, in [0, 1], and its RGBA colouring."""

    path: Path
    heatmap: np.ndarray
    rgba: np.ndarray
    probability: float
    peak: float = 1.0
    """Raw Grad-CAM maximum; 0 means no region argues for the positive label."""


@dataclass(frozen=True)
class ViewProblem:
    """Why a file could not be shown (``stage`` "image") or explained ("overlay")."""

    path: Path
    stage: str
    message: str
