"""The one exception hierarchy of PneumoScan.

Every error a user can cause derives from :class:`PneumoError`; its message is
meant to be shown as it is (one line, naming the file and the problem). The CLI
turns it into that line and an exit code, never a traceback.
"""

from __future__ import annotations

from pathlib import Path


class PneumoError(Exception):
    """Base class of every user-facing error."""

    exit_code: int = 1


class UsageError(PneumoError):
    """The command line or an argument is wrong."""

    exit_code = 2


class ImageError(PneumoError):
    """An input file could not be turned into an image."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class UnreadableFileError(ImageError):
    """The file is missing, unreadable, empty or truncated."""


class UnsupportedImageError(ImageError):
    """The file is readable but not an image format or content we accept."""


class ModelError(PneumoError):
    """A model file or model card is missing, invalid or tampered with."""


class ModelNotFoundError(ModelError):
    """No model is installed where one was expected."""


class ModelIntegrityError(ModelError):
    """A model file and its card do not vouch for each other: the file is not
    listed, its sha256 differs, it carries no card binding, or the card's
    decision fields were edited since binding."""


class DataError(PneumoError):
    """A training or evaluation data folder is missing or malformed."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message on one line (whitespace collapsed), at most ``limit`` chars."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
