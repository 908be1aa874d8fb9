"""Atomic file writes: a reader sees the old file or the new one, never half.

The data goes to a hidden temporary file beside the target
(``.NAME.XXXXXXXX.tmp``), which is renamed over the target. A writer killed
mid-write (SIGKILL, power loss) leaves that temporary file behind, with
whatever patient data it held: each writer holds an exclusive ``flock`` on its
temporary file, and the next write of the same target removes every such file
whose lock is free (its writer is gone), never one that a live writer holds.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, no clean-up of stale files
    fcntl = None  # type: ignore[assignment]


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    Stale temporary files of earlier, killed writes of ``path`` are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = _locked_temporary(path)
    try:
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            os.replace(tmp, path)  # still locked: no clean-up can take it first
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _locked_temporary(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path``, locked; retried if another writer's
    clean-up removed it before the lock was taken."""
    while True:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        if fcntl is None:
            return fd, tmp
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink > 0:
            return fd, tmp
        os.close(fd)


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files that killed writes of ``path`` left; return them.

    Only files named like this module's temporaries of ``path`` whose lock can
    be taken (no live writer holds it) are removed.
    """
    if fcntl is None:
        return []
    pattern = re.compile(re.escape(f".{path.name}.") + r"[A-Za-z0-9_]{8}\.tmp")
    removed: list[Path] = []
    try:
        names = [n for n in os.listdir(path.parent) if pattern.fullmatch(n)]
    except OSError:
        return removed
    for name in names:
        stale = path.parent / name
        try:
            fd = os.open(stale, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(stale)
            removed.append(stale)
        except OSError:
            pass  # a live writer holds it (or it went away)
        finally:
            os.close(fd)
    return removed


def _mode_for(path: Path) -> int:
    """The replaced file's permissions, else what a plain ``open`` would give
    (mkstemp's 0600 would make exports unreadable to colleagues)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    # os.umask() can only be read by setting it, which races with other threads.
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_new_file_atomic(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically unless ``path`` exists; never replaces.

    Returns False (writing nothing) when ``path`` already exists. The bytes go
    to a temporary file first, which is then hard-linked to ``path`` (fails if
    it exists, so two writers cannot both win); where hard links are not
    supported it is renamed after an existence check.
    """
    path = Path(path)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # no hard links on this file system
            if path.exists():
                return False
            os.replace(tmp, path)
        return True
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
