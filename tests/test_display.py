"""The display policy of the core (no Qt): states, banner, heat-map policy, filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from pneumo.model.card import ModelCard
from pneumo.model.preprocess import Preprocessing
from pneumo.results.display import (
    NO_SELECTION,
    UNRELIABLE,
    HeatmapPolicy,
    RowState,
    describe,
    empty_heatmap_note,
    held_back_note,
    reasons,
    row_state,
    state_name,
)
from pneumo.results.records import ScanRecord
from pneumo.results.worklist import (
    RowFilter,
    count_text,
    filter_accepts,
    filter_choices,
    has_warnings,
    result_text,
    state_text,
)

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


# -- unreliable results: the word, the reasons, the banner, the filter ---------------------
def _flagged(p: float, **checks: float) -> ScanRecord:
    from pneumo.checks.findings import decide

    findings = decide(**checks)
    warnings = ("a sentence from the check",) if findings.flagged else ()
    return ScanRecord(Path("f.png"), label=CARD.label_for(p), probability=p,
                      warnings=warnings, checks=findings)


def test_unreliable_results_say_so_in_the_result_column() -> None:
    adult = _flagged(0.9, population_score=0.97, population_threshold=0.65)
    assert result_text(adult, LABELS) == f"OPACITY · {UNRELIABLE}"
    assert result_text(_result(0.9), LABELS) == "OPACITY"
    assert result_text(None, LABELS) == "pending…"
    assert result_text(ScanRecord(Path("x"), error="broken"), LABELS) == "ERROR"


def test_reasons_name_each_rule_with_its_figures() -> None:
    both = _flagged(0.2, population_score=0.97, population_threshold=0.65, ood_score=25.0,
                    ood_threshold=18.3)
    assert reasons(both) == (
        ("the film does not look like the training children aged 1 to 5 "
        "(population score 0.97 > 0.65)"),
        "unusual image for this model (out-of-distribution score 25.0 > 18.3)",
        "a sentence from the check")
    old = _flagged(0.2, age_years=45.0)
    assert reasons(old)[0] == ("patient age 45 years is outside the training population "
                               "(children aged 1 to 5)")
    lateral = ScanRecord(Path("l.dcm"), label="CLEAR", probability=0.1, warnings=("lateral",))
    assert reasons(lateral) == ("lateral",)  # a gate warning is its own reason
    assert reasons(_result(0.9)) == () and reasons(None) == ()


def test_the_banner_of_an_unreliable_result_says_why() -> None:
    view = describe(Path("a.png"), _flagged(0.9, age_years=45.0), LABELS, 0.6)
    assert view.unreliable and view.headline == f"OPACITY · {UNRELIABLE}"
    assert view.reasons and "45 years" in view.reasons[0]
    trusted = describe(Path("a.png"), _result(0.9), LABELS, 0.6)
    assert not trusted.unreliable and trusted.reasons == () and trusted.headline == "OPACITY"


def test_with_warnings_filter_takes_flagged_rows() -> None:
    assert has_warnings(_flagged(0.9, age_years=45.0))
    assert not has_warnings(_result(0.9)) and not has_warnings(None)
    assert filter_accepts(RowFilter.WARNINGS, RowState.POSITIVE,
                          has_warnings(_flagged(0.9, age_years=45.0)))
