"""Where the shipped models live.

``assets/`` at the top of the repository (beside the ``pneumo`` package)
holds ``model.tflite`` and its ``model_card.json``. ``PNEUMO_ASSETS``
overrides the folder and ``PNEUMO_MODEL`` the default model file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pneumo.errors import ModelNotFoundError

if TYPE_CHECKING:
    from pneumo.model.card import ModelCard

ASSETS_ENV = "PNEUMO_ASSETS"
MODEL_ENV = "PNEUMO_MODEL"
#: File names ``pneumo convert`` writes: the int8 classifier, the float model
#: with the ``explain`` signature, and the Keras source model.
INT8_FILE, FLOAT_FILE, KERAS_FILE = "model.tflite", "model_float.tflite", "model.keras"
DEFAULT_MODEL_NAME = INT8_FILE
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


def explainer_path(model_path: str | Path, card: ModelCard) -> Path | None:
    """The float model with the Grad-CAM ``explain`` signature for a classifier:
    the card's ``models.explain`` file beside ``model_path``, else
    :data:`FLOAT_FILE` when the classifier itself is not that file; ``None``
    when the card says there is none."""
    folder = Path(model_path).parent
    if card.models.explain is not None:
        return folder / card.models.explain
    if card.models.classify is not None:
        return None  # a converted card that lists no explainer
    return folder / FLOAT_FILE


def keras_path(model_path: str | Path, card: ModelCard) -> Path:
    """The Keras source model of a classifier: the card's ``models.keras`` file
    beside ``model_path``, else :data:`KERAS_FILE` there (it may not exist)."""
    return Path(model_path).parent / (card.models.keras or KERAS_FILE)
