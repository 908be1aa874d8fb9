"""Folder walks: any depth, every file met recorded or skipped with a reason;
stale export temporaries of a killed run removed on the next export."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

import pytest

import pneumo.films.sniff as sniff_module
import pneumo.scanning.walk as walk_module
from pneumo.scanning.walk import (
    BROKEN_LINK,
    DUPLICATE,
    HIDDEN,
    NOT_IMAGE,
    NOT_REGULAR,
    InputProblem,
    Skipped,
    describe_skipped,
    iter_inputs,
)
from pneumo.util.atomic import remove_stale_temporaries, write_text_atomic
from tests.hostile import remove_tree


def _walk(*paths: Path) -> tuple[list[Path | InputProblem], list[Skipped]]:
    skipped: list[Skipped] = []
    return list(iter_inputs(paths, skipped.append)), skipped


def test_a_folder_nested_1000_deep_is_walked(tmp_path: Path) -> None:
    bottom = tmp_path / "deep"
    bottom.mkdir()
    for _ in range(1000):
        bottom = bottom / "d"
        bottom.mkdir()
    (bottom / "film.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "top.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # proves the walk does not recurse per level
    try:
        items, skipped = _walk(tmp_path)
    finally:
        sys.setrecursionlimit(limit)
        remove_tree(tmp_path / "deep")
    assert items == [bottom / "film.png", tmp_path / "top.png"] and skipped == []


def test_every_file_met_is_taken_recorded_or_skipped_with_a_reason(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    (tmp_path / "trailing.png ").write_bytes(png)  # taken: trailing spaces are ignored
    (tmp_path / "dotted.jpg.").write_bytes(png)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / ".hidden.png").write_bytes(png)
    (tmp_path / ".git").mkdir()
    os.symlink(tmp_path / "missing.png", tmp_path / "gone.png")
    os.symlink(tmp_path / "missing.txt", tmp_path / "gone.txt")
    os.symlink(tmp_path / "notes.txt", tmp_path / "again.png")  # the same file as notes.txt
    os.mkfifo(tmp_path / "pipe.png")
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path, tmp_path / "sub" / "loop")
    items, skipped = _walk(tmp_path)
    assert items == [
        tmp_path / "again.png",  # named like an image: taken, the loader judges it
        tmp_path / "dotted.jpg.",
        InputProblem(tmp_path / "gone.png", f"{BROKEN_LINK} (its target does not exist)"),
        tmp_path / "pipe.png",  # the loader refuses it: "not a regular file"
        tmp_path / "trailing.png ",
    ]
    assert sorted((s.path.name, s.reason) for s in skipped) == [
        (".git", HIDDEN), (".hidden.png", HIDDEN), ("gone.txt", BROKEN_LINK),
        ("loop", DUPLICATE), ("notes.txt", DUPLICATE), ("pipe", NOT_REGULAR),
    ]
    assert describe_skipped(skipped).startswith("6 skipped: 2 hidden")


def test_unreadable_file_without_extension_is_recorded(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """It might be DICOM: the user is told (a chmod 000 file; root reads anything,
    so opening is refused by a stub)."""
    locked, text = tmp_path / "IM000001", tmp_path / "locked.txt"
    locked.write_bytes(b"\0" * 200)
    text.write_text("x")

    def refuse(path: object, *args: object, **kwargs: object) -> object:
        if Path(str(path)) in (locked, text):
            raise PermissionError(13, "Permission denied")
        return open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(walk_module, "open", refuse, raising=False)
    monkeypatch.setattr(sniff_module, "open", refuse, raising=False)
    items, skipped = _walk(tmp_path)
    assert items == [locked]
    assert skipped == [Skipped(text, NOT_IMAGE)]


def test_scan_summary_counts_what_was_skipped(tmp_path: Path, float_model: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from pneumo.cli import main
    from tests.test_desktop_support import film, write_png

    write_png(tmp_path / "a.png", film(1, False))
    write_png(tmp_path / ".hidden" / "b.png", film(2, False))
    (tmp_path / "readme.md").write_text("x")
    assert main(["scan", str(tmp_path), "--model", str(float_model)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == f"SKIPPED{' ' * 12}{tmp_path / 'readme.md'}: {NOT_IMAGE}"
    assert lines[2].endswith(f"; 2 skipped: 1 hidden (name starts with '.'), 1 {NOT_IMAGE}")


# -- export temporaries ------------------------------------------------------------
def test_stale_export_temporaries_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    target = tmp_path / "results.csv"
    stale = tmp_path / ".results.csv.abcd1234.tmp"
    live = tmp_path / ".results.csv.live0000.tmp"
    other = tmp_path / ".other.csv.abcd1234.tmp"
    for path in (stale, live, other):
        path.write_text("patient data")
    holder = os.open(live, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)  # a writer that is still running
    try:
        write_text_atomic(target, "new\n")
        assert target.read_text() == "new\n"
        assert not stale.exists() and live.exists() and other.exists()
    finally:
        os.close(holder)
    assert remove_stale_temporaries(target) == [live]  # its writer is gone now
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.csv.abcd1234.tmp",
                                                          "results.csv"]
