"""Fitting the population check (``pneumo fit-population``).

Inside: the training data set's own training side (the card's patient split),
label 0. Outside: a folder of films from another population (the NIH adult
sample's ``train/``), split by patient into a fitting part and a validation
part, label 1. Every film is seen as it is and as random variants
(:func:`pneumo.data.augment.random_variant`: crops, display curves, borders,
burned-in text, blur, rotation), so that the check cannot tell the two apart
by framing, exposure or annotation. The threshold is the ``pass_rate``
quantile of the scores of the unaugmented validation films of the training
data set (never a test split); flag rates on both validation sides, with and
without variants, are recorded in the card as ``measured``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pneumo.checks.population import PopulationModel, feature_rows, fit_logistic

if TYPE_CHECKING:
    from pneumo.data.dataset import Example
    from pneumo.model.gradcam import Explainer


@dataclass(frozen=True)
class FitPlan:
    """How the check is fitted; the defaults are the shipped check's (README)."""

    variants_inside: int = 2
    variants_outside: int = 6
    validation_variants: int = 2
    l2: float = 10.0
    pass_rate: float = 0.99
    outside_val_fraction: float = 0.25
    seed: int = 0
    thumbnail: int = 0


@dataclass(frozen=True)
class Features:
    """Feature rows (N, F) of some films and their variants; ``variant`` 0 is the film
    as it is."""

    rows: np.ndarray
    variant: np.ndarray

    @property
    def originals(self) -> np.ndarray:
        """Rows of the unaugmented films."""
        return self.rows[self.variant == 0]

    @property
    def variants(self) -> np.ndarray:
        """Rows of the augmented variants."""
        return self.rows[self.variant > 0]


def fit_population(inside: Features, outside: Features, inside_val: Features,
                   plan: FitPlan = FitPlan()) -> PopulationModel:
    """Fit on ``inside`` (label 0) against ``outside`` (label 1); threshold at the
    ``plan.pass_rate`` quantile of the scores of ``inside_val``'s originals."""
    x = np.vstack([inside.rows, outside.rows])
    y = np.r_[np.zeros(len(inside.rows)), np.ones(len(outside.rows))]
    mean, scale, weights, bias = fit_logistic(x, y, l2=plan.l2)
    model = PopulationModel(mean, scale, weights, bias, threshold=1.0, thumbnail=plan.thumbnail)
    threshold = float(np.quantile(model.scores(inside_val.originals), plan.pass_rate))
    return replace(model, threshold=threshold)


def flag_rates(model: PopulationModel, features: Features) -> dict[str, float]:
    """Share of originals and of variants whose score is above the threshold."""
    out = {"films": len(features.originals),
           "flagged": float(np.mean(model.scores(features.originals) > model.threshold))}
    if len(features.variants):
        out["variants"] = len(features.variants)
        out["variants_flagged"] = float(
            np.mean(model.scores(features.variants) > model.threshold))
    return out


def outside_split(folder: str | Path, fraction: float, seed: int,
                  labels: Sequence[str]) -> tuple[list[Example], list[Example]]:
    """The outside films' (fitting, validation) parts: ``folder/train`` (or the
    folder itself) split by patient; ``folder/test`` is never read."""
    from pneumo.data.dataset import list_examples, patient_split

    root = Path(folder)
    train_dir = root / "train" if (root / "train").is_dir() else root
    return patient_split(list_examples(train_dir, labels), fraction, seed)


def film_features(explainer: Explainer, examples: Sequence[Example], variants: int,
                  seed: int, thumbnail: int = 0, workers: int = 2) -> Features:
    """Features of each film and of ``variants`` random variants of it
    (:func:`pneumo.model.embedding.iter_embedded`)."""
    from pneumo.model.embedding import iter_embedded

    rows: list[np.ndarray] = []
    kinds: list[int] = []
    for inputs, embeddings in iter_embedded(explainer, [e.path for e in examples], variants,
                                            seed, workers=workers):
        rows.append(feature_rows(embeddings, inputs, thumbnail))
        kinds.extend(range(len(inputs)))
    width = len(rows[0][0]) if rows else 0
    return Features(np.vstack(rows) if rows else np.zeros((0, width)), np.asarray(kinds))


def fit_card_population(assets_dir: str | Path, data_dir: str | Path,
                        outside_dir: str | Path, plan: FitPlan = FitPlan(), *,
                        workers: int = 2, log: Callable[[str], Any] | None = None
                        ) -> PopulationModel:
    """Fit the population check for the models in ``assets_dir`` and write it into
    their card (the model files are not touched); returns it."""
    from pneumo.data.dataset import card_training_split
    from pneumo.errors import DataError
    from pneumo.model.card import CARD_FILENAME, ModelCard
    from pneumo.model.gradcam import Explainer
    from pneumo.model.locate import FLOAT_FILE

    say = log or (lambda _msg: None)
    card_path = Path(assets_dir) / CARD_FILENAME
    card = ModelCard.load(card_path)
    explainer = Explainer(Path(assets_dir) / (card.models.explain or FLOAT_FILE), card)
    inside, inside_val = card_training_split(data_dir, card)
    outside, outside_val = outside_split(outside_dir, plan.outside_val_fraction, plan.seed,
                                         card.labels)
    if min(len(inside), len(inside_val), len(outside), len(outside_val)) < 2:
        raise DataError(f"too few films to fit the population check ({len(inside)} and "
                        f"{len(inside_val)} inside, {len(outside)} and {len(outside_val)} "
                        "outside, for fitting and validation)")
    parts = {}
    for name, examples, variants, seed in (
            ("inside", inside, plan.variants_inside, plan.seed),
            ("outside", outside, plan.variants_outside, plan.seed + 1),
            ("inside_val", inside_val, plan.validation_variants, plan.seed + 2),
            ("outside_val", outside_val, plan.validation_variants, plan.seed + 3)):
        say(f"embedding {len(examples)} {name.replace('_', ' ')} films "
            f"with {variants} variants each")
        parts[name] = film_features(explainer, examples, variants, seed, plan.thumbnail,
                                    workers)
    model = fit_population(parts["inside"], parts["outside"], parts["inside_val"], plan)
    fitted_on = {
        "inside": str(data_dir), "outside": str(outside_dir), "model": explainer.model_path.name,
        "inside_films": len(inside), "outside_films": len(outside),
        "split": (f"inside: card's patient split, seed {card.split.split_seed}; outside: "
                  f"train/ split by patient, {plan.outside_val_fraction:g} for validation, "
                  f"seed {plan.seed}"),
        "variants": {"inside": plan.variants_inside, "outside": plan.variants_outside,
                     "validation": plan.validation_variants},
        "l2": plan.l2, "pass_rate": plan.pass_rate,
        "threshold": f"{plan.pass_rate:g} quantile of the inside validation films' scores",
    }
    measured = {"inside_validation": flag_rates(model, parts["inside_val"]),
                "outside_validation": flag_rates(model, parts["outside_val"])}
    model = replace(model, fitted_on=fitted_on, measured=measured)
    card.with_updates(population=model).save(card_path)
    say(f"wrote {card_path}: population threshold {model.threshold:.3f}")
    return model
