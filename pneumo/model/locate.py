"""Where the shipped models live.

``assets/`` at the top of the repository (beside the ``pneumo`` package)
holds ``model.tflite`` and its ``model_card.json``. ``PNEUMO_ASSETS``
overrides the folder and ``PNEUMO_MODEL`` the default model file.
"""

from __future__ import annotations

import os
from pathlib import Path

from pneumo.errors import ModelNotFoundError

ASSETS_ENV = "PNEUMO_ASSETS"
MODEL_ENV = "PNEUMO_MODEL"
DEFAULT_MODEL_NAME = "model.tflite"
#: Model file kinds listed by ``pneumo info``.
MODEL_SUFFIXES = (".tflite", ".keras")
HOW_TO_GET_A_MODEL = "run `pneumo train` then `pneumo convert`, or pass --model"


def assets_dir() -> Path:
    """``$PNEUMO_ASSETS``, else the repository's top-level ``assets/`` folder."""
    env = os.environ.get(ASSETS_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "assets"


def default_model_path() -> Path:
    """``$PNEUMO_MODEL``, else ``assets/model.tflite``; it must exist.

    Raises :class:`ModelNotFoundError` saying how to get a model when absent.
    """
    env = os.environ.get(MODEL_ENV)
    path = Path(env) if env else assets_dir() / DEFAULT_MODEL_NAME
    if not path.is_file():
        origin = f" (from ${MODEL_ENV})" if env else ""
        raise ModelNotFoundError(f"no model at {path}{origin}: {HOW_TO_GET_A_MODEL}")
    return path


def shipped_models(folder: Path | None = None) -> list[Path]:
    """Model files (``.tflite``, ``.keras``) in ``folder`` (default the assets), sorted."""
    root = assets_dir() if folder is None else Path(folder)
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in MODEL_SUFFIXES
    )
