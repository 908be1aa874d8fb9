"""Atomic writes: readable results, old file kept when a write fails."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pneumo.util.atomic import write_bytes_atomic, write_text_atomic


def test_new_file_gets_ordinary_permissions(tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    write_text_atomic(out, "a,b\n")
    assert out.read_text() == "a,b\n"
    assert stat.S_IMODE(out.stat().st_mode) & 0o044 == 0o044  # others can read it


def test_replacing_keeps_the_old_permissions(tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    out.write_text("old")
    out.chmod(0o600)
    write_text_atomic(out, "new")
    assert out.read_text() == "new"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "results.csv"
    out.write_text("old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("pneumo.util.atomic.os.replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomic(out, b"new")
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]
