"""Where the shipped models live.

``assets/`` at the top of the repository holds ``model.tflite``, its
``model_card.json`` and the sample films. It is installed as the package
:data:`ASSETS_PACKAGE` (``setup.py`` maps that package onto ``assets/``), so a
wheel or a non-editable ``pip install .`` carries the models and finds them
through :mod:`importlib.resources`; a source checkout (``PYTHONPATH`` or an
editable install) uses its own ``assets/``. ``PNEUMO_ASSETS`` overrides the
folder and ``PNEUMO_MODEL`` the default model file; ``--model`` overrides both.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from pneumo.errors import ModelNotFoundError

if TYPE_CHECKING:
    from pneumo.model.card import ModelCard

ASSETS_ENV = "PNEUMO_ASSETS"
#: The installed package whose folder is ``assets/`` (see ``setup.py``).
ASSETS_PACKAGE = "pneumo_assets"
MODEL_ENV = "PNEUMO_MODEL"
#: File names ``pneumo convert`` writes: the int8 classifier, the float model
#: with the ``explain`` signature, and the Keras source model.
INT8_FILE, FLOAT_FILE, KERAS_FILE = "model.tflite", "model_float.tflite", "model.keras"
DEFAULT_MODEL_NAME = INT8_FILE
#: Model file kinds listed by ``pneumo info``.
MODEL_SUFFIXES = (".tflite", ".keras")
HOW_TO_GET_A_MODEL = "run `pneumo train` then `pneumo convert`, or pass --model"


def assets_dir() -> Path:
    """``$PNEUMO_ASSETS``; else the ``assets/`` of the source checkout this
    ``pneumo`` runs from; else the installed :data:`ASSETS_PACKAGE`.

    The checkout comes first so that a checkout on ``PYTHONPATH`` never picks
    up the models of another installed copy. When neither exists the
    checkout's path is returned, for error messages that name it.
    """
    env = os.environ.get(ASSETS_ENV)
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "assets").is_dir():
        return checkout / "assets"
    installed = installed_assets_dir()
    return installed if installed is not None else checkout / "assets"


def installed_assets_dir() -> Path | None:
    """The folder of the installed :data:`ASSETS_PACKAGE`, or ``None``.

    Only a package on the file system counts (a wheel install, an editable
    install's mapping, a PyInstaller bundle): LiteRT opens models by path.
    """
    try:
        root = resources.files(ASSETS_PACKAGE)
    except ModuleNotFoundError:
        return None
    return root if isinstance(root, Path) and root.is_dir() else None


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


def explain_model_problem(model_path: str | Path, card: ModelCard) -> str | None:
    """Why the float explain model of a classifier cannot be used, or ``None``.

    Checks what can be checked without loading it: that the card names one,
    that it exists, and that the card vouches for it (listed, sha256, card
    binding; :func:`pneumo.model.binding.check_model_file`). The heat maps and
    the out-of-distribution check both depend on it.
    """
    from pneumo.model.binding import binding_status

    path = explainer_path(model_path, card)
    if path is None:
        return "the model card names no explain model"
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return f"{path.name} not found beside {Path(model_path).name}"
    except OSError as exc:
        return f"{path}: cannot read model ({exc.strerror or exc})"
    return binding_status(path, content, card)
