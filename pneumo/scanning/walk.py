"""Finding the image files under the paths a user gave.

:func:`iter_inputs` walks folders in sorted order (iteratively: any depth) and
yields each image file once, plus an :class:`InputProblem` for every path that
cannot be taken (missing, a folder that cannot be read, a broken link that
looks like an image). Every other file met is reported to ``on_skip`` as a
:class:`Skipped` with its reason, so that a scan can say what it left out.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pneumo.films.formats import IMAGE_EXTENSIONS
from pneumo.films.sniff import is_dicom_file

__all__ = [
    "IMAGE_EXTENSIONS",
    "InputProblem",
    "Skipped",
    "describe_skipped",
    "iter_image_files",
    "iter_inputs",
]

HIDDEN = "hidden (name starts with '.')"
NOT_IMAGE = "not an image file (by name or content)"
NOT_REGULAR = "not a regular file"
BROKEN_LINK = "broken symbolic link"
DUPLICATE = "already listed (a link, or a path given twice)"


@dataclass(frozen=True)
class InputProblem:
    """A path that should have been scanned but cannot be: it gets an error record."""

    path: Path
    problem: str


@dataclass(frozen=True)
class Skipped:
    """A file or folder met in a walk and deliberately not scanned, and why."""

    path: Path
    reason: str


SkipHandler = Callable[[Skipped], None]


def _suffix(name: str) -> str:
    """The extension, ignoring trailing spaces and dots (``"a.png "`` is a PNG)."""
    return os.path.splitext(name.rstrip(" .\t"))[1].lower()


def _key(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


def iter_inputs(
    paths: Iterable[str | Path], on_skip: SkipHandler | None = None
) -> Iterator[Path | InputProblem]:
    """Image files under ``paths``, plus an :class:`InputProblem` per bad path.

    A path given as a file is always taken (the loader then judges it).
    Folders are walked in sorted order, depth first, without recursion.
    Taken: files whose extension is in :data:`IMAGE_EXTENSIONS` (trailing
    spaces and dots ignored) or whose content is DICOM; files without an
    extension that cannot be read (the loader then says why). A broken link,
    or a file that cannot be examined, whose name looks like an image or has
    no extension becomes an :class:`InputProblem`. Everything else (hidden
    entries, other files, special files, the same file or folder met again)
    goes to ``on_skip``. Each file is yielded once.
    """
    skip = on_skip if on_skip is not None else _ignore
    seen: set[tuple[int, int]] = set()
    for given in paths:
        path = Path(given)
        try:
            info = path.stat()
        except OSError as exc:
            if path.is_symlink():
                yield InputProblem(path, f"{BROKEN_LINK} (its target does not exist)")
            elif isinstance(exc, FileNotFoundError):
                yield InputProblem(path, "no such file or folder")
            else:
                yield InputProblem(path, f"cannot be examined ({exc.strerror or exc})")
            continue
        if _key(info) in seen:
            skip(Skipped(path, DUPLICATE))
        elif stat.S_ISDIR(info.st_mode):
            yield from _walk(path, seen, skip)
        else:
            seen.add(_key(info))
            yield path


def _ignore(_skipped: Skipped) -> None:
    return None


def _walk(root: Path, seen: set[tuple[int, int]], skip: SkipHandler
          ) -> Iterator[Path | InputProblem]:
    """Depth-first, sorted, with an explicit stack of open folder listings."""
    stack: list[Iterator[os.DirEntry[str]]] = []
    problem = _enter(root, seen, stack, skip)
    if problem is not None:
        yield problem
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        path = Path(entry.path)
        if entry.name.startswith("."):
            skip(Skipped(path, HIDDEN))
            continue
        try:
            is_dir = entry.is_dir()
        except OSError as exc:
            yield from _unexaminable(path, entry.name, exc, skip)
            continue
        if is_dir:
            problem = _enter(path, seen, stack, skip)
            if problem is not None:
                yield problem
            continue
        item = _take_file(entry, path, seen, skip)
        if item is not None:
            yield item


def _enter(folder: Path, seen: set[tuple[int, int]],
           stack: list[Iterator[os.DirEntry[str]]], skip: SkipHandler) -> InputProblem | None:
    """Push ``folder``'s sorted listing onto ``stack`` (once per folder)."""
    try:
        key = _key(folder.stat())
        if key in seen:  # a symlink loop or a folder given twice
            skip(Skipped(folder, DUPLICATE))
            return None
        seen.add(key)
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        return InputProblem(folder, f"cannot read folder ({exc.strerror or exc})")
    stack.append(iter(entries))
    return None


def _take_file(entry: os.DirEntry[str], path: Path, seen: set[tuple[int, int]],
               skip: SkipHandler) -> Path | InputProblem | None:
    """``path`` when it is to be scanned, an :class:`InputProblem`, or ``None`` (skipped)."""
    suffix = _suffix(entry.name)
    looks_like_image = suffix in IMAGE_EXTENSIONS or not suffix
    try:
        info = entry.stat()
    except FileNotFoundError:
        if entry.is_symlink():
            if looks_like_image:
                return InputProblem(path, f"{BROKEN_LINK} (its target does not exist)")
            skip(Skipped(path, BROKEN_LINK))
            return None
        return None  # deleted while walking
    except OSError as exc:
        if looks_like_image:
            return InputProblem(path, f"cannot be examined ({exc.strerror or exc})")
        skip(Skipped(path, NOT_IMAGE))
        return None
    if _key(info) in seen:
        skip(Skipped(path, DUPLICATE))
        return None
    if not stat.S_ISREG(info.st_mode):
        if suffix in IMAGE_EXTENSIONS:
            seen.add(_key(info))
            return path  # the loader refuses it with the reason
        skip(Skipped(path, NOT_REGULAR))
        return None
    if suffix in IMAGE_EXTENSIONS or is_dicom_file(path) or (not suffix and _unreadable(path)):
        seen.add(_key(info))
        return path
    skip(Skipped(path, NOT_IMAGE))
    return None


def _unexaminable(path: Path, name: str, exc: OSError, skip: SkipHandler
                  ) -> Iterator[InputProblem]:
    suffix = _suffix(name)
    if suffix in IMAGE_EXTENSIONS or not suffix:
        yield InputProblem(path, f"cannot be examined ({exc.strerror or exc})")
    else:
        skip(Skipped(path, NOT_IMAGE))


def _unreadable(path: Path) -> bool:
    """True when the file cannot be opened: it might be DICOM, so the user is told."""
    try:
        with open(path, "rb"):
            return False
    except OSError:
        return True


def describe_skipped(skipped: Iterable[Skipped]) -> str:
    """``"4 skipped: 3 hidden (name starts with '.'), 1 not a regular file"``, or ``""``."""
    counts = Counter(s.reason for s in skipped)
    if not counts:
        return ""
    total = sum(counts.values())
    parts = ", ".join(f"{n} {reason}" for reason, n in counts.most_common())
    return f"{total} skipped: {parts}"


def iter_image_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """The image files of :func:`iter_inputs`, without the problems."""
    for item in iter_inputs(paths):
        if isinstance(item, Path):
            yield item
