"""The reliability checks a model card holds, described for people.

``pneumo info`` and the app's Model information dialog both show, for each
check fitted into the card (the out-of-distribution score, the population
check) and for the calibration report: its threshold, what it was fitted on,
and the rates measured on validation (test figures where the card records
them, measured only). :func:`check_summaries` builds them from the card alone;
nothing is recomputed. Cards written before a figure was recorded simply leave
it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pneumo.checks.population import PopulationModel
    from pneumo.model.calibration import CalibrationReport
    from pneumo.model.card import ModelCard
    from pneumo.model.ood import OodModel


@dataclass(frozen=True)
class CheckSummary:
    """One check of a card: ``name``, ``threshold`` (``None`` for calibration), how
    it was ``fitted`` and what ``validation`` measured (sentences), and the
    figures behind them (``rates``, JSON-ready numbers)."""

    name: str
    threshold: float | None
    fitted: str
    validation: str
    rates: Mapping[str, float | int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "threshold": self.threshold, "fitted_on": self.fitted,
                "validation": self.validation, "rates": dict(self.rates)}


def check_summaries(card: ModelCard) -> tuple[CheckSummary, ...]:
    """The card's checks, in the order a scan applies them, then calibration."""
    out = []
    if card.ood is not None:
        out.append(ood_summary(card.ood))
    if card.population is not None:
        out.append(population_summary(card.population))
    if card.calibration is not None:
        out.append(calibration_summary(card.calibration))
    return tuple(out)


def ood_summary(model: OodModel) -> CheckSummary:
    """The out-of-distribution score's summary."""
    fitted, measured = model.fitted_on or {}, model.measured or {}
    variants = fitted.get("variants", 0)
    films = _count(fitted.get("train"), "training-side films")
    how = "no variants" if not variants else f"each also as {variants} random variants"
    val_films = _count(fitted.get("validation"), "validation films")
    text = (f"Mahalanobis distance on the float model's embedding; class means and covariance "
            f"from {films} ({how}) of {fitted.get('data', 'the training data')}; threshold "
            f"at the {model.pass_rate:g} quantile of the {val_films}' distances")
    rates = {k: v for k, v in measured.items() if isinstance(v, (int, float))}
    parts = []
    if "validation_pass_rate" in measured:
        parts.append(f"{_pct(measured['validation_pass_rate'])} of "
                     f"{_count(measured.get('validation_films'), 'validation films')} pass")
    else:
        parts.append(f"{_pct(model.pass_rate)} of validation films pass (by construction)")
    if "validation_variants_pass_rate" in measured:
        parts.append(f"{_pct(measured['validation_variants_pass_rate'])} of their "
                     f"{_count(measured.get('validation_variants'), 'random variants')}")
    if "test_pass_rate" in measured:
        parts.append(f"test: {_pct(measured['test_pass_rate'])} of "
                     f"{_count(measured.get('test_images'), 'films')} (measured only)")
    return CheckSummary("out-of-distribution score", float(model.threshold), text,
                        "; ".join(parts), rates)


def population_summary(model: PopulationModel) -> CheckSummary:
    """The population check's summary."""
    fitted, measured = model.fitted_on, model.measured
    variants = fitted.get("variants") or {}
    text = (f"logistic model on the {model.features}; inside: "
            f"{_count(fitted.get('inside_films'), 'films')} of {fitted.get('inside', '?')}"
            f"{_variants(variants.get('inside'))}; outside: "
            f"{_count(fitted.get('outside_films'), 'films')} of {fitted.get('outside', '?')}"
            f"{_variants(variants.get('outside'))}; threshold at the "
            f"{fitted.get('pass_rate', 0.99):g} quantile of the inside validation films' scores")
    rates: dict[str, float | int] = {}
    parts = []
    for side, label in (("inside_validation", "inside"), ("outside_validation", "outside")):
        figures = measured.get(side)
        if not isinstance(figures, Mapping) or "flagged" not in figures:
            continue
        rates.update({f"{side}_{k}": v for k, v in figures.items()
                      if isinstance(v, (int, float))})
        sentence = (f"{_pct(figures['flagged'])} of {_count(figures.get('films'), label)} "
                    "validation films flagged")
        if "variants_flagged" in figures:
            sentence += (f" ({_pct(figures['variants_flagged'])} of "
                         f"{_count(figures.get('variants'), 'variants')})")
        parts.append(sentence)
    return CheckSummary("population check", float(model.threshold), text,
                        "; ".join(parts) or "no validation figures recorded", rates)


def calibration_summary(report: CalibrationReport) -> CheckSummary:
    """The calibration report's summary (no threshold: it changes no result)."""
    text = (f"{report.model or 'the classifier'}, {report.bins} bins; temperature "
            f"{report.temperature:.2f} fitted on {report.fitted_on}, "
            f"{'applied' if report.applied else 'recorded, not applied'}")
    validation = f"ECE {report.ece_validation:.3f} on validation"
    rates: dict[str, float | int] = {"ece_validation": report.ece_validation,
                                     "temperature": report.temperature}
    if report.ece_test is not None:
        validation += f", {report.ece_test:.3f} on test (measured only)"
        rates["ece_test"] = report.ece_test
    return CheckSummary("calibration", None, text, validation, rates)


def _pct(share: Any) -> str:
    return f"{100 * float(share):.1f} %"


def _count(number: Any, noun: str) -> str:
    return f"{number:,} {noun}" if isinstance(number, int) else noun


def _variants(count: Any) -> str:
    return f" ({count} variants each)" if isinstance(count, int) and count else ""
