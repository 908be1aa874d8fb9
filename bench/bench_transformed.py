"""How often each check flags films that another site would write differently.

``python bench/bench_transformed.py [--models DIR] [--validation DATA]
[--outside-validation DATA] [--json FILE] [FOLDER...]``

Each film of each labelled FOLDER (default: the Kermany and NIH test splits)
is seen as it is and once under each transform of :mod:`pneumo.data.augment`
(and once under a random mix of them), seeded by the film's position and the
transform, so two runs print the same table. For each, the share flagged by
the out-of-distribution rule (distance above its threshold), by the
population rule (score above its threshold; the films carry no age) and by
either, the checks exactly as the card holds them; and the silent-error rate:
films the int8 classifier gets wrong at its threshold with neither rule
firing, over all films. Choose nothing on a test split with it: to choose,
``--validation DATA`` measures the validation side of the card's patient
split of ``DATA`` instead.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
ROWS = {"none": "none", "crop": "crop (65-100 % of each side)", "gamma": "gamma 0.5-2",
        "window": "window (clip to percentiles)", "border": "border / padding 0-15 %",
        "text": "burned-in text", "resample": "blur and noise",
        "rotate": "rotation up to 8 degrees", "mix": "a random mix of the above"}


def transformed_inputs(path: Path, index: int, spec: Any, seed: int) -> list[np.ndarray]:
    """Model inputs of the film at ``path`` under each transform of :data:`ROWS`."""
    from pneumo.data.augment import TRANSFORMS, random_variant
    from pneumo.films.imaging import load_image
    from pneumo.model.preprocess import preprocess

    pixels = np.asarray(load_image(path).pixels, dtype=np.float32)
    out = []
    for k, name in enumerate(ROWS):
        rng = np.random.default_rng([seed, index, k])
        film = pixels if name == "none" else (
            random_variant(pixels, rng) if name == "mix" else TRANSFORMS[name](pixels, rng))
        out.append(preprocess(film, spec))
    return out


def flag_table(models: Path, examples: list[Any], seed: int = 0, workers: int = 2
               ) -> dict[str, dict[str, float]]:
    """{transform: {"ood", "population", "either": share flagged, "silent": silent-error
    rate, "right_unflagged": answered right with no warning, "sensitivity", "films"}}
    for labelled ``examples``."""
    from pneumo.data.dataset import labels_of
    from pneumo.model.card import CARD_FILENAME, ModelCard
    from pneumo.model.gradcam import Explainer
    from pneumo.model.locate import FLOAT_FILE, INT8_FILE
    from pneumo.model.runner import ModelRunner

    card = ModelCard.load(models / CARD_FILENAME)
    if card.ood is None or card.population is None:
        raise SystemExit("the card needs both an OOD and a population check")
    explainer = Explainer(models / (card.models.explain or FLOAT_FILE), card)
    classifier = ModelRunner(models / (card.models.classify or INT8_FILE), card)
    paths, labels = [e.path for e in examples], labels_of(examples)
    rows, probabilities = [], []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(paths), 32):  # in chunks: 9 inputs a film add up
            stacks = pool.map(lambda i: transformed_inputs(paths[i], i, card.preprocessing,
                                                           seed),
                              range(start, min(len(paths), start + 32)))
            for stack in stacks:
                rows.append([explainer.explain(x).embedding for x in stack])
                probabilities.append(classifier.predict_batch(np.stack(stack)))
    positive = np.asarray(probabilities) >= classifier.threshold
    embeddings, wrong = np.asarray(rows), positive != labels[:, None].astype(bool)
    table = {}
    for k, name in enumerate(ROWS):
        ood = card.ood.distances(embeddings[:, k]) > card.ood.threshold
        population = card.population.scores(embeddings[:, k]) > card.population.threshold
        flagged = ood | population
        table[name] = {"ood": float(ood.mean()), "population": float(population.mean()),
                       "either": float(flagged.mean()),
                       "silent": float((wrong[:, k] & ~flagged).mean()),
                       "right_unflagged": float((~wrong[:, k] & ~flagged).mean()),
                       "sensitivity": float(positive[labels == 1, k].mean())
                       if (labels == 1).any() else float("nan"),
                       "films": len(paths)}
    return table


def main() -> int:
    """Print one Markdown table, four columns per folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="labelled folders (default: "
                        "the Kermany and NIH test splits, unless --validation is given)")
    parser.add_argument("--models", type=Path, default=REPO / "assets")
    parser.add_argument("--validation", type=Path, metavar="DATA",
                        help="the validation side of the card's patient split of DATA")
    parser.add_argument("--outside-validation", type=Path, metavar="DATA",
                        help="the population check's validation patients of DATA (train/ "
                        "split by patient as fit-population splits it)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    from pneumo.checks.population_fit import FitPlan, outside_split
    from pneumo.data.dataset import card_training_split, list_examples
    from pneumo.model.card import CARD_FILENAME, ModelCard

    card = ModelCard.load(args.models / CARD_FILENAME)
    sources = {f"{f.parent.name}/{f.name}": list_examples(f, card.labels) for f in args.folders}
    if args.validation is not None:
        sources[f"{args.validation.name} validation"] = card_training_split(
            args.validation, card)[1]
    if args.outside_validation is not None:
        plan = FitPlan()
        sources[f"{args.outside_validation.name} validation"] = outside_split(
            args.outside_validation, plan.outside_val_fraction, plan.seed, card.labels)[1]
    if not sources:
        sources = {f"{f.parent.name}/{f.name}": list_examples(f, card.labels) for f in (
            DATA / "chest_xray" / "test", DATA / "nih_cxr8_sample" / "test")}
    tables = {name: flag_table(args.models, examples, args.seed)
              for name, examples in sources.items()}
    heads = [f"{name} ({next(iter(t.values()))['films']}): {c}"
             for name, t in tables.items()
             for c in ("OOD", "population", "either", "silent errors")]
    print("| transform | " + " | ".join(heads) + " |")
    print("|---|" + "---:|" * len(heads))
    for name, label in ROWS.items():
        cells = [f"{100 * t[name][c]:.1f} %" for t in tables.values()
                 for c in ("ood", "population", "either", "silent")]
        print(f"| {label} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(tables, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
