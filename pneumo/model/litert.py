"""Loading ``.tflite`` files into the LiteRT runtime (``ai_edge_litert``).

One place reads a model's bytes, checks them against the model card's sha256
and hands those same bytes to the interpreter, for both the classifier
(:class:`pneumo.model.runner.ModelRunner`) and the Grad-CAM explainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pneumo.errors import ModelError, ModelIntegrityError, ModelNotFoundError
from pneumo.model.card import CARD_FILENAME, ModelCard


@dataclass(frozen=True)
class OpenedModel:
    """A model file's bytes, checked against its card and loaded into LiteRT."""

    path: Path
    card: ModelCard
    content: bytes
    interpreter: Any


def open_model(
    model_path: str | Path,
    card: ModelCard | None = None,
    *,
    num_threads: int = 2,
    verify: bool = True,
) -> OpenedModel:
    """Read a ``.tflite`` once, check its sha256 against the card (the card
    beside it by default) and load those same bytes, so the file cannot change
    between check and load. Shared by :class:`ModelRunner` and the Grad-CAM
    explainer."""
    path = Path(model_path)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ModelNotFoundError(f"{path}: model file not found") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model ({exc.strerror or exc})") from None
    card = card if card is not None else ModelCard.load(path.parent / CARD_FILENAME)
    if verify:
        _verify_sha256(path, content, card)
    return OpenedModel(path, card, content, load_interpreter(path, content, num_threads))


class LiteRTModel:
    """Base of the classifier and the explainer: an opened model file, its
    card and the interpreter that holds the file's bytes."""

    def __init__(
        self,
        model_path: str | Path,
        card: ModelCard | None = None,
        *,
        num_threads: int = 2,
        verify: bool = True,
    ) -> None:
        loaded = open_model(model_path, card, num_threads=num_threads, verify=verify)
        self._num_threads = num_threads
        self._path, self._card = loaded.path, loaded.card
        self._content = loaded.content  # the interpreter does not copy its buffer
        self._interpreter = loaded.interpreter

    @property
    def card(self) -> ModelCard:
        """The model card the file was checked against."""
        return self._card

    @property
    def num_threads(self) -> int:
        """Threads the interpreter runs on."""
        return self._num_threads

    @property
    def model_path(self) -> Path:
        """The model file."""
        return self._path

    @property
    def input_size(self) -> int:
        """Side ``S`` of the square (S, S, 1) model input."""
        return self._card.preprocessing.input_size


def _verify_sha256(path: Path, content: bytes, card: ModelCard) -> None:
    import hashlib

    expected = card.files.get(path.name)
    if expected is not None and hashlib.sha256(content).hexdigest() != expected.lower():
        raise ModelIntegrityError(
            f"{path}: sha256 does not match its model card; the file was changed or corrupted"
        )


def load_interpreter(path: Path, content: bytes, num_threads: int) -> Any:
    """A LiteRT interpreter with tensors allocated, or a :class:`ModelError`
    naming ``path``."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_content=content, num_threads=max(1, int(num_threads)))
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: not a loadable LiteRT model ({detail})") from None
    return interpreter
