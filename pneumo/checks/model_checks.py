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

if TYPE_CHECKING:
    from pneumo.checks.population import PopulationModel
    from pneumo.model.gradcam import Explainer
    from pneumo.model.ood import OodModel
    from pneumo.model.runner import ModelRunner


@dataclass(frozen=True)
class Measured:
    """The scores of one film (``None``: that check is not in the card)."""

    ood_score: float | None
    population_score: float | None


@dataclass(frozen=True)
class ModelChecks:
    """The fitted checks of a card and the explainer that feeds them.

    Not thread-safe (the explainer is not): one per inference thread.
    """

    explainer: Explainer
    ood: OodModel | None
    population: PopulationModel | None

    @classmethod
    def for_runner(cls, runner: ModelRunner) -> ModelChecks | None:
        """The checks of ``runner``'s card; ``None`` when the card has neither an
        OOD nor a population model, or the float explain model is not beside
        the classifier."""
        from pneumo.model.locate import explainer_path

        card = runner.card
        if card.ood is None and card.population is None:
            return None
        path = explainer_path(runner.model_path, card)
        if path is None or not path.is_file():
            return None
        from pneumo.model.gradcam import Explainer

        return cls(Explainer(path, card, num_threads=runner.num_threads), card.ood,
                   card.population)

    def measure(self, model_input: np.ndarray) -> Measured:
        """One explain inference, then both scores."""
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
