"""How a result is shown: row state, colours, banner text, heat-map policy (no Qt).

The app's widgets draw what this module decides. Label names come from the
model card (``card.labels``: negative first, positive second), never from
literals here, so a card with other label names displays correctly.

Policy: the Grad-CAM heat map is drawn for a positive result; for a negative
one it is held back unless the user asks (a map over a negative film points
at something that is not there); files without a result have none.

Reliability: a result that comes with a warning (a check rule fired, see
:mod:`pneumo.checks.findings`, or the gate warned) is *unreliable*; the
worklist marks it with an icon and the word :data:`UNRELIABLE` beside its
label (:func:`pneumo.results.worklist.result_text`), and the banner says why
(:func:`reasons`). What the worklist's columns, filter and count line say is
in :mod:`pneumo.results.worklist`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from pneumo.checks.findings import Rule
from pneumo.checks.gate import TRAINING_AGE_YEARS, age_text
from pneumo.results.records import ScanRecord
from pneumo.util.text import display_path, escape_text

Labels = tuple[str, str]
"""The card's label names: (negative, positive)."""
UNRELIABLE = "unreliable"
"""The word beside the label of a result that comes with a warning."""


class RowState(Enum):
    """Where a file of the worklist stands."""

    PENDING = "pending"
    CANCELLED = "cancelled"
    ERROR = "error"
    NEGATIVE = "negative"
    POSITIVE = "positive"

    @property
    def has_result(self) -> bool:
        """True for a classified file (negative or positive)."""
        return self in (RowState.NEGATIVE, RowState.POSITIVE)


#: Result colours, (text, background), as CSS hex: the worklist, the banner, the pictures.
STATE_COLOURS = {
    RowState.POSITIVE: ("#ffffff", "#b3261e"),
    RowState.NEGATIVE: ("#ffffff", "#2e7d32"),
    RowState.ERROR: ("#000000", "#f9a825"),
}
#: Colours of a result that comes with a warning: washed out, the label's colour as text
#: (the row also has a warning icon and the word "unreliable", not only colour).
UNRELIABLE_COLOURS = {
    RowState.POSITIVE: ("#8c1d18", "#f6dcd9"),
    RowState.NEGATIVE: ("#1e5b22", "#dcebdd"),
}
NEUTRAL_COLOURS = ("#e0e0e0", "#37474f")
"""Colours of a banner without a result."""


def colours_for(state: RowState | None, unreliable: bool = False) -> tuple[str, str]:
    """(text, background) of a result: trusted, unreliable, or neutral without one."""
    if state is None:
        return NEUTRAL_COLOURS
    palette = UNRELIABLE_COLOURS if unreliable else STATE_COLOURS
    return palette.get(state, STATE_COLOURS.get(state, NEUTRAL_COLOURS))


class HeatmapPolicy(Enum):
    """Whether the heat map of a file is drawn."""

    SHOW = "show"
    """Drawn (the user may still switch heat maps off)."""
    ON_REQUEST = "on_request"
    """Held back with a note saying why, unless the user asks for it."""
    NONE = "none"
    """Nothing to explain: no result (pending, cancelled, error, nothing selected)."""


def row_state(record: ScanRecord | None, labels: Labels, cancelled: bool = False) -> RowState:
    """The state of a file: pending/cancelled without a record, else from the record."""
    if record is None:
        return RowState.CANCELLED if cancelled else RowState.PENDING
    if record.error is not None:
        return RowState.ERROR
    return RowState.POSITIVE if record.label == labels[1] else RowState.NEGATIVE


def state_name(state: RowState, labels: Labels) -> str:
    """The state's name: the card's label for a result, else ERROR, PENDING or CANCELLED."""
    if state is RowState.POSITIVE:
        return labels[1]
    if state is RowState.NEGATIVE:
        return labels[0]
    return state.name


def is_unreliable(record: ScanRecord | None) -> bool:
    """True for a result that comes with a warning (see the module docstring)."""
    return record is not None and record.unreliable


def reasons(record: ScanRecord | None) -> tuple[str, ...]:
    """Why a result is unreliable, one short phrase per fired rule (with its
    figures), then any other warning as it is; ``()`` for a trusted result."""
    if not is_unreliable(record) or record is None:
        return ()
    found = record.checks
    out: list[str] = []
    low, high = TRAINING_AGE_YEARS
    if found.fired(Rule.AGE) and found.patient_age_years is not None:
        out.append(f"patient age {age_text(found.patient_age_years)} is outside the training "
                   f"population (children aged {low:g} to {high:g})")
    if found.fired(Rule.POPULATION):
        out.append(f"the film does not look like the training children aged {low:g} to "
                   f"{high:g} (population score {found.population_score:.2f} > "
                   f"{found.population_threshold:.2f})")
    if found.fired(Rule.OOD):
        out.append(f"unusual image for this model (out-of-distribution score "
                   f"{found.ood_score:.1f} > {found.ood_threshold:.1f})")
    covered = ("patient age", "film does not look like", "unusual image for this model")
    fired = bool(found.rules)
    out += [w for w in record.warnings if not (fired and w.startswith(covered))]
    return tuple(out)


def heatmap_policy(state: RowState | None) -> HeatmapPolicy:
    """See the module docstring."""
    if state is RowState.POSITIVE:
        return HeatmapPolicy.SHOW
    if state is RowState.NEGATIVE:
        return HeatmapPolicy.ON_REQUEST
    return HeatmapPolicy.NONE


def held_back_note(labels: Labels) -> str:
    """Why a negative result's heat map is not drawn."""
    return f"Heat map hidden for {labels[0]} results: it would mislead."


def on_request_note(labels: Labels) -> str:
    """Said where a held-back heat map is drawn all the same (``pneumo explain``)."""
    return (f"Heat map drawn on request for a {labels[0]} result: "
            "it points at nothing the model found and may mislead.")


def empty_heatmap_note(labels: Labels) -> str:
    """Shown when Grad-CAM found nothing (its raw maximum is not above 0)."""
    return f"Heat map is empty: no region argues for {labels[1].lower()}."


def unavailable_note(problem: str) -> str:
    """Shown when the heat map could not be computed."""
    return f"Heat map unavailable: {problem}"


@dataclass(frozen=True)
class ResultView:
    """What the result banner says about one file, and its heat-map policy.

    The banner is ``headline`` (emphasised) then ``detail``; ``notes`` are
    the path and the record's warnings. ``explain`` says whether to compute
    the heat map at all (not for files that could not be classified).
    ``unreliable`` results carry ``reasons`` (:func:`reasons`), which the banner
    shows under the headline.
    """

    state: RowState | None
    headline: str
    detail: str
    heatmap: HeatmapPolicy
    held_back_note: str = ""
    path: Path | None = None
    warnings: tuple[str, ...] = ()
    explain: bool = False
    unreliable: bool = False
    reasons: tuple[str, ...] = ()


NO_SELECTION = ResultView(None, "", "No file selected.", HeatmapPolicy.NONE)


def describe(
    path: Path,
    record: ScanRecord | None,
    labels: Labels,
    threshold: float | None,
    cancelled: bool = False,
) -> ResultView:
    """The banner and heat-map policy for a file and its record (None: not yet)."""
    state = row_state(record, labels, cancelled)
    policy = heatmap_policy(state)
    note = held_back_note(labels) if policy is HeatmapPolicy.ON_REQUEST else ""
    name = display_path(path.name)
    if record is None:
        headline, detail = name, state.value
    elif record.error is not None:
        headline, detail = "ERROR", f"{name}: {escape_text(record.error)}"
    else:
        p = float(record.probability or 0.0)
        headline = state_name(state, labels)
        detail = f"{labels[1].lower()} probability {p:.3f}"
        if threshold is not None:
            detail += f" {'≥' if p >= threshold else '<'} threshold {threshold:.3f}"
    warnings = tuple(escape_text(w) for w in record.warnings) if record is not None else ()
    unreliable = is_unreliable(record)
    if unreliable:
        headline = f"{headline} · {UNRELIABLE}"
    return ResultView(state, headline, detail, policy, note, path, warnings,
                      explain=state is not RowState.ERROR, unreliable=unreliable,
                      reasons=reasons(record))
