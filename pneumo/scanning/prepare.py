"""One file to one model input: decode, gate, preprocess (runs in a decoding worker).

:func:`prepare` is the job a decoding worker (:mod:`pneumo.scanning.pool`)
runs for each file of a scan. It never raises: every failure becomes the
``error`` of the :class:`Prepared` it returns, which is small (the 224 px model
input, never the full image) and travels back to the scanning process.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pneumo.checks.gate import check_input
from pneumo.errors import ImageError
from pneumo.films.imaging import ImageMetadata, load_image
from pneumo.model.margins import Box
from pneumo.model.preprocess import Preprocessing, preprocess_with_box


@dataclass(frozen=True)
class Prepared:
    """What a decoding worker hands back for one file.

    ``warnings`` are the loader's and the gate's; ``messages`` is what the
    decoding libraries printed or warned while this file was decoded (see
    :func:`pneumo.scanning.worker.run_job`), so that it can be reported with
    the file instead of as anonymous noise on standard error.
    """

    path: Path
    metadata: ImageMetadata | None
    model_input: np.ndarray | None
    warnings: tuple[str, ...]
    error: str | None
    messages: tuple[str, ...] = ()
    box: Box | None = None
    """Where on the film ``model_input`` was made from (the heat map's place)."""

    def with_messages(self, messages: tuple[str, ...]) -> Prepared:
        """The same result with the decoder's ``messages`` attached."""
        return replace(self, messages=self.messages + tuple(messages)) if messages else self

    @classmethod
    def failed(cls, path: Path, error: str) -> Prepared:
        """A file that produced nothing but ``error``."""
        return cls(Path(path), None, None, (), error)


def prepare(path: Path, spec: Preprocessing) -> Prepared:
    """Decode, gate and preprocess one file; every failure becomes ``error``."""
    metadata: ImageMetadata | None = None
    warnings: tuple[str, ...] = ()
    try:
        image = load_image(path)
        metadata, warnings = image.metadata, tuple(image.warnings)
        gate_warnings, refusal = check_input(image)
        warnings += tuple(gate_warnings)
        if refusal is not None:
            return Prepared(path, metadata, None, warnings, refusal)
        model_input, box = preprocess_with_box(image, spec)
        return Prepared(path, metadata, model_input, warnings, None, box=box)
    except ImageError as exc:
        return Prepared(path, metadata, None, warnings, exc.problem)
    except MemoryError:
        return Prepared(path, metadata, None, warnings, "not enough memory to decode this file")
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop a scan
        return Prepared(path, metadata, None, warnings, unexpected(exc))


def unexpected(exc: BaseException) -> str:
    """The error text for an exception nobody expected."""
    return f"unexpected error: {type(exc).__name__}: {exc}"
