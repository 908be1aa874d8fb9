"""Loading ``.tflite`` files into the LiteRT runtime (``ai_edge_litert``).

One place reads a model's bytes, checks them against the model card and hands
those same bytes to the interpreter, for both the classifier
(:class:`pneumo.model.runner.ModelRunner`) and the Grad-CAM explainer. The
check fails closed (:func:`pneumo.model.binding.check_model_file`): a file the
card does not list, a sha256 mismatch, a file without a card binding, or a
card whose labels, threshold, preprocessing or model roles were edited since
binding is refused with a message naming what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pneumo.errors import ModelError, ModelNotFoundError
from pneumo.model.binding import check_model_file
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
    """Read a ``.tflite`` once, check it against the card (the card beside it by
    default; see the module docstring) and load those same bytes, so the file
    cannot change between check and load. ``verify=False`` skips the check
    (for tools that inspect or produce models, never for results).
    Shared by :class:`ModelRunner` and the Grad-CAM explainer."""
    path = Path(model_path)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ModelNotFoundError(f"{path}: model file not found") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model ({exc.strerror or exc})") from None
    card = card if card is not None else ModelCard.load(path.parent / CARD_FILENAME)
    if verify:
        check_model_file(path, content, card)
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
        self._sha256: str | None = None

    @property
    def sha256(self) -> str:
        """sha256 (hex) of the model bytes actually loaded."""
        if self._sha256 is None:
            import hashlib

            self._sha256 = hashlib.sha256(self._content).hexdigest()
        return self._sha256

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
