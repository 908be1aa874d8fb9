"""The checks that need the model: out-of-distribution score and population check.

Both read the float model's 192-d embedding, so :class:`ModelChecks` runs the
``explain`` signature once per classified film and scores it twice (the
population check's own cost is a dot product). :func:`check_film` turns what
was measured, and the patient age the file gave, into
:class:`~pneumo.checks.findings.CheckFindings` and the warning sentences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pneumo.checks.findings import CheckFindings, Rule, decide, population_warning
from pneumo.checks.gate import patient_age_years
from pneumo.films.imaging import ImageMetadata

OOD_CHECK = "out-of-distribution check"
POPULATION_CHECK = "population check"

if TYPE_CHECKING:
    from pneumo.checks.population import PopulationModel
    from pneumo.model.card import ModelCard
    from pneumo.model.gradcam import Explainer
    from pneumo.model.ood import OodModel
    from pneumo.model.runner import ModelRunner


def card_checks(card: ModelCard) -> tuple[str, ...]:
    """The names of the checks in ``card``, all of which the float explain model feeds."""
    return tuple(name for name, present in ((OOD_CHECK, card.ood is not None),
                                            (POPULATION_CHECK, card.population is not None))
                 if present)


@dataclass(frozen=True)
class Measured:
    """The scores of one film (``None``: that check is not in the card)."""

    ood_score: float | None
    population_score: float | None


@dataclass(frozen=True)
class ModelChecks:
    """The fitted checks of a card and the explainer that feeds them.

    When the card has checks but the float explain model is missing or refused,
    ``explainer`` is ``None`` and every film gets one warning per check saying
    it is unavailable and why (:meth:`unavailable_warnings`): never silently off.
    Not thread-safe (the explainer is not): one per inference thread.
    """

    explainer: Explainer | None
    ood: OodModel | None
    population: PopulationModel | None
    unavailable: str | None = None

    @classmethod
    def for_runner(cls, runner: ModelRunner) -> ModelChecks | None:
        """The checks of ``runner``'s card; ``None`` when the card has neither an
        OOD nor a population model."""
        from pneumo.errors import ModelError, one_line
        from pneumo.model.locate import explain_model_problem, explainer_path

        card = runner.card
        if card.ood is None and card.population is None:
            return None
        problem = explain_model_problem(runner.model_path, card)
        path = explainer_path(runner.model_path, card)
        if problem is not None or path is None:
            why = " ".join((problem or "no explain model").split())
            return cls(None, card.ood, card.population, why)
        from pneumo.model.gradcam import Explainer

        try:
            return cls(Explainer(path, card, num_threads=runner.num_threads), card.ood, card.population)
        except ModelError as exc:  # vouched for above, but it may still fail to load
            return cls(None, card.ood, card.population, one_line(exc))

    def unavailable_warnings(self) -> tuple[str, ...]:
        """One warning per check of the card when there is no explainer, else ``()``."""
        if self.explainer is not None:
            return ()
        why = self.unavailable or "no explain model"
        out = []
        if self.ood is not None:
            out.append(f"{OOD_CHECK} unavailable ({why}): unusual images are not flagged")
        if self.population is not None:
            out.append(f"{POPULATION_CHECK} unavailable ({why}): films unlike the training "
                       "population are not flagged")
        return tuple(out)

    def measure(self, model_input: np.ndarray) -> Measured:
        """One explain inference, then both scores (an explainer is needed)."""
        if self.explainer is None:
            raise RuntimeError(self.unavailable or "no explain model")
        embedding = self.explainer.explain(model_input).embedding
        return Measured(
            None if self.ood is None else self.ood.distance(embedding),
            None if self.population is None else self.population.score(embedding, model_input))


def check_film(checks: ModelChecks | None, model_input: np.ndarray,
               metadata: ImageMetadata | None) -> tuple[CheckFindings, tuple[str, ...]]:
    """The findings for one classified film and the warnings they add (the age
    sentence is the input gate's, so it is not repeated here)."""
    age = None if metadata is None else patient_age_years(metadata)
    if checks is None:
        return decide(age_years=age), ()
    if checks.explainer is None:
        return decide(age_years=age), checks.unavailable_warnings()
    try:
        measured = checks.measure(model_input)
    except Exception as exc:  # noqa: BLE001 - a failed check must not lose the result
        return decide(age_years=age), (
            f"reliability checks failed ({type(exc).__name__}: {exc}): result unreliable",)
    findings = decide(
        age_years=age, ood_score=measured.ood_score,
        ood_threshold=None if checks.ood is None else checks.ood.threshold,
        population_score=measured.population_score,
        population_threshold=None if checks.population is None else checks.population.threshold)
    warnings: list[str] = []
    sentence = population_warning(findings)
    if sentence is not None:
        warnings.append(sentence)
    if findings.fired(Rule.OOD) and checks.ood is not None and findings.ood_score is not None:
        warnings.append(checks.ood.warning(findings.ood_score))
    return findings, tuple(warnings)
