"""Where received objects are kept: ``DIR/<StudyInstanceUID>/<SOPInstanceUID>.dcm``.

Each object is written to a temporary file, flushed to disk and then linked
into place, so a reader (or a restart after a kill) sees a whole file or
none. A temporary file left by a killed listener is removed at the next start
(:meth:`Inbox.clean_stale`). When the free space would fall under the
reserve, or the disk fills while writing, :class:`DiskFull` is raised and
nothing is left behind.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from pneumo.util.atomic import write_new_file_atomic

__all__ = ["DiskFull", "Inbox"]

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_TEMP = re.compile(r"^\..+\.tmp$")


class DiskFull(OSError):
    """Not enough free space to keep a received object."""


class Inbox:
    """The folder of received objects."""

    def __init__(self, root: str | Path, *, reserve_bytes: int = 64 << 20) -> None:
        self.root = Path(root)
        self.reserve_bytes = reserve_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def clean_stale(self) -> int:
        """Remove temporary files a killed listener left; returns how many."""
        removed = 0
        for folder, _, names in os.walk(self.root):
            for name in names:
                if _TEMP.match(name):
                    try:
                        os.unlink(os.path.join(folder, name))
                        removed += 1
                    except FileNotFoundError:
                        pass
        return removed

    def save(self, data: bytes, study_uid: str | None, sop_uid: str | None) -> Path:
        """Keep ``data`` (a DICOM file's bytes); returns its path.

        The same bytes received again keep the existing file; different bytes
        under the same SOP Instance UID get a new name (``<uid>-2.dcm``).
        """
        folder = self.root / _safe(study_uid, "unknown-study")
        name = _safe(sop_uid, "unknown-instance")
        free = shutil.disk_usage(self.root).free
        if free - len(data) < self.reserve_bytes:
            raise DiskFull(errno.ENOSPC, f"only {free >> 20} MiB free in {self.root}")
        for n in range(1, 1000):
            target = folder / (f"{name}.dcm" if n == 1 else f"{name}-{n}.dcm")
            if target.exists():
                if _same(target, data):
                    return target
                continue
            try:
                if write_new_file_atomic(target, data):
                    return target
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise DiskFull(exc.errno, f"disk full writing {target}") from None
                raise
        raise OSError(errno.EEXIST, f"too many versions of {name} in {folder}")

    def files(self) -> Iterator[Path]:
        """Every kept object, in name order."""
        for folder, dirs, names in os.walk(self.root):
            dirs.sort()
            for name in sorted(names):
                if name.endswith(".dcm") and not name.startswith("."):
                    yield Path(folder) / name


def _safe(uid: str | None, fallback: str) -> str:
    text = (uid or "").strip().rstrip("\0")
    return text if _UID.match(text) and len(text) <= 64 else fallback


def _same(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False
