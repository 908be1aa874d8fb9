"""Where the shipped models live.

``assets/`` at the top of the repository (beside the ``pneumo`` package)
holds ``model.tflite`` and its ``model_card.json``. ``PNEUMO_ASSETS``
overrides the folder and ``PNEUMO_MODEL`` the default model file.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pneumo.errors import ModelError, ModelNotFoundError
from pneumo.modelcard import ModelCard, sha256_file

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
    return Path(__file__).resolve().parent.parent / "assets"


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


@dataclass(frozen=True)
class ModelInfo:
    """What ``pneumo info`` reports about one shipped model file.

    ``kind`` is ``"int8"`` or ``"float"`` for ``.tflite`` (from the input
    dtype), ``"keras"`` for ``.keras`` and ``"invalid"`` when the file cannot
    be loaded (then ``error`` says why). ``sha256_ok`` is ``None`` when the
    card does not list the file.
    """

    path: Path
    kind: str
    size_bytes: int
    sha256: str
    sha256_ok: bool | None
    input_size: int | None
    threshold: float | None
    test_metrics: dict[str, Any] | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def _test_metrics_of(name: str, kind: str, card: ModelCard | None) -> dict[str, Any] | None:
    """This file's own test metrics at its own threshold, when the card has them.

    The training card measured the Keras model; the conversion's parity report
    measured each LiteRT file (the int8 one also at its re-derived threshold).
    """
    if card is None:
        return None
    parity = card.extra.get("parity", {})
    by_kind = {
        "keras": card.metrics["test"].to_dict() if "test" in card.metrics else None,
        "float": parity.get("metrics", {}).get("tflite_float"),
        "int8": parity.get("tflite_int8_at_rederived_threshold")
        or parity.get("metrics", {}).get("tflite_int8"),
    }
    if name == card.extra.get("keras_model", "model.keras"):
        kind = "keras"
    metrics = by_kind.get(kind)
    return dict(metrics) if isinstance(metrics, dict) else None


def describe_model(path: Path, card: ModelCard | None) -> ModelInfo:
    """Inspect one model file (LiteRT only; Keras files are not loaded)."""
    from pneumo.runner import tflite_input_spec

    sha = sha256_file(path)
    expected = card.files.get(path.name) if card is not None else None
    kind, size, error = "keras", card.input_size if card is not None else None, None
    if path.suffix.lower() == ".tflite":
        try:
            dtype, shape = tflite_input_spec(path)
            kind = "int8" if dtype.kind in "iu" else "float"
            size = shape[1] if len(shape) == 4 else None
        except ModelError as exc:
            kind, size, error = "invalid", None, str(exc)
    test = _test_metrics_of(path.name, kind, card)
    return ModelInfo(
        path=path,
        kind=kind,
        size_bytes=path.stat().st_size,
        sha256=sha,
        sha256_ok=None if expected is None else expected.lower() == sha,
        input_size=size,
        threshold=card.threshold_for(path) if card is not None else None,
        test_metrics=test,
        error=error,
    )
