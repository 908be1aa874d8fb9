"""The display policy of the core (no Qt): states, banner, heat-map policy, filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from pneumo.model.card import ModelCard
from pneumo.model.preprocess import Preprocessing
from pneumo.results.display import (
    NO_SELECTION,
    HeatmapPolicy,
    RowFilter,
    RowState,
    count_text,
    describe,
    empty_heatmap_note,
    filter_accepts,
    filter_choices,
    held_back_note,
    row_state,
    state_name,
    state_text,
)
from pneumo.results.records import ScanRecord

# Label names other than the shipped ones: nothing may assume NORMAL/PNEUMONIA.
CARD = ModelCard(name="t", architecture="a", preprocessing=Preprocessing(input_size=32),
                 threshold=0.6, labels=("CLEAR", "OPACITY"))
LABELS = CARD.labels


def _result(p: float) -> ScanRecord:
    return ScanRecord(path=Path("f.png"), label=CARD.label_for(p), probability=p)


def test_row_state_follows_the_cards_labels() -> None:
    assert row_state(None, LABELS) is RowState.PENDING
    assert row_state(None, LABELS, cancelled=True) is RowState.CANCELLED
    assert row_state(ScanRecord(Path("x"), error="broken"), LABELS) is RowState.ERROR
    assert row_state(_result(0.9), LABELS) is RowState.POSITIVE
    assert row_state(_result(0.1), LABELS) is RowState.NEGATIVE
    assert state_name(RowState.POSITIVE, LABELS) == "OPACITY"
    assert state_name(RowState.NEGATIVE, LABELS) == "CLEAR"
    assert state_name(RowState.ERROR, LABELS) == "ERROR"
    assert state_text(RowState.PENDING, LABELS) == "pending…"
    assert [s.has_result for s in RowState] == [False, False, False, True, True]


def test_banner_and_heat_map_policy_for_each_state() -> None:
    path = Path("films/a.png")
    positive = describe(path, _result(0.75), LABELS, 0.6)
    assert positive.headline == "OPACITY" and positive.heatmap is HeatmapPolicy.SHOW
    assert positive.detail == "opacity probability 0.750 ≥ threshold 0.600"
    assert positive.explain and positive.held_back_note == ""
    negative = describe(path, _result(0.2), LABELS, 0.6)
    assert negative.headline == "CLEAR" and negative.heatmap is HeatmapPolicy.ON_REQUEST
    assert negative.detail.endswith("0.200 < threshold 0.600")
    assert negative.held_back_note == held_back_note(LABELS) and "CLEAR" in negative.held_back_note
    error = describe(path, ScanRecord(path, error="truncated file"), LABELS, 0.6)
    assert (error.headline, error.detail) == ("ERROR", "a.png: truncated file")
    assert error.heatmap is HeatmapPolicy.NONE and not error.explain
    pending = describe(path, None, LABELS, 0.6)
    assert (pending.headline, pending.detail) == ("a.png", "pending")
    assert pending.heatmap is HeatmapPolicy.NONE and pending.explain  # explained ahead
    assert describe(path, None, LABELS, 0.6, cancelled=True).detail == "cancelled"
    assert NO_SELECTION.state is None and NO_SELECTION.heatmap is HeatmapPolicy.NONE


def test_no_threshold_means_no_comparison_not_a_made_up_one() -> None:
    view = describe(Path("a.png"), _result(0.3), LABELS, None)
    assert view.detail == "opacity probability 0.300"
    assert "0.5" not in view.detail


def test_warnings_travel_to_the_view() -> None:
    record = ScanRecord(Path("a.dcm"), label="OPACITY", probability=0.9, warnings=("lateral",))
    assert describe(Path("a.dcm"), record, LABELS, 0.6).warnings == ("lateral",)


@pytest.mark.parametrize(("choice", "accepted"), [
    (RowFilter.ALL, set(RowState)),
    (RowFilter.POSITIVE, {RowState.POSITIVE}),
    (RowFilter.NEGATIVE, {RowState.NEGATIVE}),
    (RowFilter.ERROR, {RowState.ERROR}),
    (RowFilter.PENDING, {RowState.PENDING, RowState.CANCELLED}),
])
def test_filters_accept_their_states(choice: RowFilter, accepted: set[RowState]) -> None:
    assert {s for s in RowState if filter_accepts(choice, s, False)} == accepted


def test_filter_choices_name_the_labels_and_warnings_filter() -> None:
    texts = [text for text, _ in filter_choices(LABELS)]
    assert texts[:3] == ["All", "OPACITY", "CLEAR"] and "ERROR" in texts
    assert filter_accepts(RowFilter.WARNINGS, RowState.NEGATIVE, True)
    assert not filter_accepts(RowFilter.WARNINGS, RowState.POSITIVE, False)


def test_count_text_and_notes() -> None:
    assert count_text([], LABELS) == "No files"
    assert count_text([RowState.PENDING] * 3, LABELS) == "3 files"
    states = [RowState.POSITIVE, RowState.POSITIVE, RowState.NEGATIVE, RowState.ERROR]
    assert count_text(states, LABELS) == "4 files · 2 opacity · 1 errors"
    assert empty_heatmap_note(LABELS) == "Heat map is empty: no region argues for opacity."
