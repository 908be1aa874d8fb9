"""The checks' findings: the rules, the age sources, the record fields, their exports,
and the per-domain counts built from records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pneumo.checks.findings import CheckFindings, Rule, decide, population_warning
from pneumo.checks.gate import check_input, patient_age_years
from pneumo.evaluation.metrics import compute_metrics
from pneumo.evaluation.reliability import domain_table, reliability_of
from pneumo.films.imaging import ImageMetadata, LoadedImage
from pneumo.results.export import read_csv, read_json, write_csv, write_json
from pneumo.results.records import ScanRecord


# -- the rules --------------------------------------------------------------------------
def test_a_known_age_decides_the_population_rule() -> None:
    adult_look = {"population_score": 0.99, "population_threshold": 0.65}
    assert decide(age_years=45.0, **adult_look).rules == (Rule.AGE,)
    assert decide(age_years=3.0, **adult_look).rules == ()
    assert decide(age_years=45.0, population_score=0.01, population_threshold=0.65).rules == (
        Rule.AGE,)
    child = decide(age_years=3.0, **adult_look)
    assert not child.flagged and child.population_score == 0.99 and child.patient_age_years == 3.0


def test_without_an_age_the_image_decides() -> None:
    flagged = decide(population_score=0.9, population_threshold=0.65)
    assert flagged.rules == (Rule.POPULATION,) and flagged.flagged
    assert decide(population_score=0.5, population_threshold=0.65).rules == ()
    assert decide().rules == () and not decide().flagged  # no check ran, no age


def test_ood_fires_whatever_the_age_and_rules_combine_in_order() -> None:
    both = decide(ood_score=30.0, ood_threshold=18.0, population_score=0.9,
                  population_threshold=0.65)
    assert both.rules == (Rule.POPULATION, Rule.OOD)
    assert decide(age_years=3.0, ood_score=30.0, ood_threshold=18.0).rules == (Rule.OOD,)
    assert decide(ood_score=18.0, ood_threshold=18.0).rules == ()  # at the threshold passes


def test_population_warning_is_a_sentence_with_the_figures() -> None:
    text = population_warning(decide(population_score=0.973, population_threshold=0.651))
    assert text is not None
    assert "children aged 1 to 5" in text and "0.97 above 0.65" in text
    assert text.endswith("result unreliable")
    assert population_warning(decide(age_years=40.0, population_score=0.9,
                                     population_threshold=0.65)) is None


# -- where the age comes from ---------------------------------------------------------
def _meta(**fields: object) -> ImageMetadata:
    return ImageMetadata("DICOM", 256, 256, **fields)  # type: ignore[arg-type]


def test_age_from_birth_and_study_dates_when_patient_age_is_absent() -> None:
    assert patient_age_years(_meta(patient_birth_date="19790131",
                                   study_date="20240131")) == pytest.approx(45.0, abs=0.01)
    assert patient_age_years(_meta(patient_age="003Y", patient_birth_date="19790131",
                                   study_date="20240131")) == 3.0  # PatientAge wins
    for birth, study in (("19790131", None), (None, "20240131"), ("2024", "20240131"),
                         ("20250101", "20240131"), ("19791399", "20240131")):
        assert patient_age_years(_meta(patient_birth_date=birth, study_date=study)) is None


def test_gate_warns_about_an_age_from_dates() -> None:
    pixels = np.tile(np.linspace(0, 1, 256, dtype=np.float32), (256, 1))
    meta = _meta(patient_birth_date="19790131", study_date="20240131")
    warnings, refusal = check_input(LoadedImage(Path("x.dcm"), pixels, meta))
    assert refusal is None
    assert warnings == [("patient age 45 years (from birth and study dates) is outside the "
                        "training population (children aged 1 to 5)")]
    child = _meta(patient_birth_date="20210131", study_date="20240131")
    assert check_input(LoadedImage(Path("x.dcm"), pixels, child)) == ([], None)


# -- the record fields and their exports ------------------------------------------------
def _records() -> list[ScanRecord]:
    return [
        ScanRecord(Path("a/adult.png"), "PNEUMONIA", 0.815, warnings=("film does not look",),
                   checks=decide(ood_score=25.5, ood_threshold=18.25, population_score=0.96875,
                                 population_threshold=0.651)),
        ScanRecord(Path("b/child.dcm"), "NORMAL", 0.125, modality="DX", study_date="20240131",
                   checks=decide(age_years=3.0, ood_score=4.0, ood_threshold=18.25,
                                 population_score=0.25, population_threshold=0.651)),
        ScanRecord(Path("c/old.dcm"), "NORMAL", 0.5, warnings=("patient age 45 years",),
                   checks=decide(age_years=45.0)),
        ScanRecord(Path("d/bad.png"), error="=cmd|' /C calc'!A0"),
    ]


def test_records_say_whether_they_are_unreliable() -> None:
    adult, child, old, bad = _records()
    assert adult.unreliable and old.unreliable
    assert not child.unreliable and not bad.unreliable  # an error is not an answer
    assert adult.checks.rules == (Rule.POPULATION, Rule.OOD) and old.checks.rules == (Rule.AGE,)


def test_findings_round_trip_through_json(tmp_path: Path) -> None:
    records = _records()
    write_json(records, tmp_path / "out.json")
    data = json.loads((tmp_path / "out.json").read_text())
    assert data[0]["checks"] == {"ood_score": 25.5, "ood_threshold": 18.25,
                                 "population_score": 0.96875, "population_threshold": 0.651,
                                 "patient_age_years": None, "rules_fired": ["population", "ood"]}
    assert [d["unreliable"] for d in data] == [True, False, True, False]
    assert read_json(tmp_path / "out.json") == records


def test_findings_round_trip_through_csv(tmp_path: Path) -> None:
    records = _records()
    write_csv(records, tmp_path / "out.csv")
    header = (tmp_path / "out.csv").read_text().splitlines()[0].split(",")
    assert header[-6:] == ["ood_score", "ood_threshold", "population_score",
                           "population_threshold", "patient_age_years", "rules_fired"]
    assert "unreliable" in header
    back = read_csv(tmp_path / "out.csv")
    assert back == records  # floats are written exactly (repr), probabilities to 6 decimals
    assert back[0].checks.population_threshold == 0.651


def test_unknown_rule_names_are_refused() -> None:
    with pytest.raises(ValueError):
        CheckFindings.from_dict({"rules_fired": ["age", "horoscope"]})


# -- per-domain counts from records -----------------------------------------------------
def test_reliability_counts_silent_errors_over_all_films() -> None:
    names = ("NORMAL", "PNEUMONIA")
    recs = [
        ScanRecord(Path("1"), "PNEUMONIA", 0.9),  # right, answered
        ScanRecord(Path("2"), "PNEUMONIA", 0.8),  # wrong, answered: silent error
        ScanRecord(Path("3"), "NORMAL", 0.1, warnings=("w",),
                   checks=decide(population_score=0.9, population_threshold=0.5)),  # wrong, flagged
        ScanRecord(Path("4"), "NORMAL", 0.2),  # right, answered
        ScanRecord(Path("5"), error="refused"),
    ]
    truth = {Path("1"): 1, Path("2"): 0, Path("3"): 1, Path("4"): 0, Path("5"): 1}
    rel = reliability_of(recs, truth, names, threshold=0.5)
    assert (rel.films, rel.refused, rel.warned, rel.answered, rel.silent_errors) == (5, 1, 1, 3, 1)
    assert rel.silent_error_rate == pytest.approx(0.2) and rel.flagged_share == pytest.approx(0.4)
    assert rel.rules == {"population": 1}
    assert rel.unflagged is not None and rel.unflagged.n == 3
    assert rel.unflagged.accuracy == pytest.approx(2 / 3)
    table = domain_table([("set/test", compute_metrics(np.array([1, 0, 1, 0]),
                                                       np.array([0.9, 0.8, 0.1, 0.2]), 0.5), rel)])
    assert "| set/test (5) |" in table.splitlines()[0]
    assert "| silent-error rate (wrong with no warning, of all films) | 20.0 % |" in table
    assert "| films answered with no warning | 60.0 % (3) |" in table
