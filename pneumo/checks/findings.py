"""What the reliability checks found for one classified film, as typed fields.

A :class:`CheckFindings` travels in every :class:`~pneumo.results.records.ScanRecord`
(``record.checks``): the out-of-distribution score and its threshold, the
population estimate and its threshold, the patient age when the file gave one,
and which rules fired (:class:`Rule`). :func:`decide` is the one place where the
rules are applied; the warning sentences a user reads are made from the same
findings (:func:`population_warning`, and the gate's age sentence).

The rules:

- ``age``: a patient age (DICOM ``PatientAge``, or ``PatientBirthDate`` with
  ``StudyDate``) outside the training population. A known age decides: a film
  of a 3-year-old is never flagged by its look, one of a 45-year-old always is.
- ``population``: no age known, and the population estimate (the probability,
  judged from the image, that the film is not of a young child like those the
  model learned from) is above its threshold.
- ``ood``: the out-of-distribution score is above its threshold, whatever the age.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pneumo.checks.gate import TRAINING_AGE_YEARS


class Rule(StrEnum):
    """A check rule that fired; its value is what exports write."""

    AGE = "age"
    POPULATION = "population"
    OOD = "ood"


#: Flat export columns of the findings, in order (CSV; JSON nests them under ``checks``).
CHECK_COLUMNS = ("ood_score", "ood_threshold", "population_score", "population_threshold",
                 "patient_age_years", "rules_fired")
_FLOATS = CHECK_COLUMNS[:-1]


@dataclass(frozen=True)
class CheckFindings:
    """The checks of one film; ``None`` where a check did not run or had nothing to read."""

    ood_score: float | None = None
    ood_threshold: float | None = None
    population_score: float | None = None
    population_threshold: float | None = None
    patient_age_years: float | None = None
    rules: tuple[Rule, ...] = ()

    @property
    def flagged(self) -> bool:
        """True when any rule fired: the result should not be trusted."""
        return bool(self.rules)

    def fired(self, rule: Rule) -> bool:
        """True when ``rule`` fired."""
        return rule in self.rules

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``rules_fired`` a list of rule names)."""
        out: dict[str, Any] = {name: getattr(self, name) for name in _FLOATS}
        out["rules_fired"] = [str(rule) for rule in self.rules]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckFindings:
        """Inverse of :meth:`to_dict`; also reads a CSV row (rules joined by ``;``).

        An unknown rule name raises ``ValueError``.
        """
        rules = data.get("rules_fired") or ()
        if isinstance(rules, str):
            rules = [part.strip() for part in rules.split(";") if part.strip()]
        values = {name: _float_or_none(data.get(name)) for name in _FLOATS}
        return cls(**values, rules=tuple(Rule(str(rule)) for rule in rules))

    def to_row(self) -> dict[str, str]:
        """The CSV cells: numbers as text, empty when absent, rules joined by ``;``."""
        row = {name: "" if getattr(self, name) is None else repr(float(getattr(self, name)))
               for name in _FLOATS}
        row["rules_fired"] = ";".join(str(rule) for rule in self.rules)
        return row


def decide(*, age_years: float | None = None, ood_score: float | None = None,
           ood_threshold: float | None = None, population_score: float | None = None,
           population_threshold: float | None = None) -> CheckFindings:
    """Apply the rules (module docstring) to what the checks measured."""
    rules: list[Rule] = []
    low, high = TRAINING_AGE_YEARS
    if age_years is not None:
        if not low <= age_years <= high:
            rules.append(Rule.AGE)
    elif (population_score is not None and population_threshold is not None
          and population_score > population_threshold):
        rules.append(Rule.POPULATION)
    if ood_score is not None and ood_threshold is not None and ood_score > ood_threshold:
        rules.append(Rule.OOD)
    return CheckFindings(ood_score, ood_threshold, population_score, population_threshold,
                         age_years, tuple(rules))


def population_warning(findings: CheckFindings) -> str | None:
    """The sentence for the ``population`` rule, or ``None`` when it did not fire."""
    if not findings.fired(Rule.POPULATION) or findings.population_score is None:
        return None
    low, high = TRAINING_AGE_YEARS
    return (f"film does not look like the training population of children aged {low:g} to "
            f"{high:g} (population score {findings.population_score:.2f} above "
            f"{findings.population_threshold:.2f}; an adult's film?): result unreliable")


def _float_or_none(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return float(value)
