"""What the app says about a walk and about an unusable explain model (no Qt)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pneumo.scanning.walk import Skipped, describe_skipped
from pneumo.util.text import display_path, escape_text

if TYPE_CHECKING:
    from pneumo.model.card import ModelCard


def walk_note(paths: Iterable[Path], files: int, skipped: Iterable[Skipped]) -> str:
    """What a walk found, for the worklist: ``"No image files in X (2 skipped: ...)"``
    when there was nothing to scan, else the skipped files' count (or ``""``)."""
    why = describe_skipped(skipped)
    if files == 0:
        where = ", ".join(display_path(p) for p in paths)
        return f"No image files in {where}" + (f" ({why})" if why else "")
    return why.capitalize() if why else ""


def explain_problem_note(problem: str, card: ModelCard | None = None) -> str:
    """The warning bar when the float explain model cannot be used: each check
    of ``card`` it feeds (:func:`~pneumo.checks.model_checks.card_checks`) and the
    heat maps are unavailable, and why."""
    from pneumo.checks.model_checks import card_checks

    checks = card_checks(card) if card is not None else ()
    items = [f"{check} unavailable" for check in checks] + ["heat maps unavailable"]
    text = "; ".join(items)
    return f"{text[0].upper()}{text[1:]} — {escape_text(problem)}"
