"""Finding the image files under the paths a user gave.

:func:`iter_inputs` walks folders in sorted order and yields each image file
once, plus an :class:`InputProblem` for every path that does not exist or
folder that cannot be read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pneumo.films.formats import IMAGE_EXTENSIONS
from pneumo.films.sniff import is_dicom_file

__all__ = ["IMAGE_EXTENSIONS", "InputProblem", "iter_image_files", "iter_inputs"]


@dataclass(frozen=True)
class InputProblem:
    """A user-given path that does not exist, or a folder that cannot be read."""

    path: Path
    problem: str


def _is_candidate(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS or is_dicom_file(path)


def iter_inputs(paths: Iterable[str | Path]) -> Iterator[Path | InputProblem]:
    """Image files under ``paths``, plus an :class:`InputProblem` per bad path.

    A path given as a file is always taken (the loader then judges it).
    Folders are walked recursively in sorted order; hidden entries (name
    starting with ``.``) are skipped; files are taken when their extension is
    in :data:`IMAGE_EXTENSIONS` or their content is DICOM. Each file is
    yielded once.
    """
    seen: set[str] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            yield from _walk(path, seen)
        elif path.exists():
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                yield path
        else:
            yield InputProblem(path, "no such file or folder")


def _walk(root: Path, seen: set[str]) -> Iterator[Path | InputProblem]:
    key = os.path.realpath(root)
    if key in seen:  # a symlink loop or a folder given twice
        return
    seen.add(key)
    try:
        with os.scandir(root) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield InputProblem(root, f"cannot read folder ({exc.strerror or exc})")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()
            is_file = not is_dir and entry.is_file()
        except OSError:
            continue
        if is_dir:
            yield from _walk(path, seen)
        elif is_file and _is_candidate(path):
            real = os.path.realpath(path)
            if real not in seen:
                seen.add(real)
                yield path


def iter_image_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """The image files of :func:`iter_inputs`, without the problems."""
    for item in iter_inputs(paths):
        if isinstance(item, Path):
            yield item
