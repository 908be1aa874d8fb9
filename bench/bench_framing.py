"""Compare model folders on framed validation films, by the rule in the README
("Framed differently"), on validation only.

``python bench/bench_framing.py --data KERMANY --outside NIH [--json FILE] NAME=DIR ...``

For each model folder (int8 classifier, float explain model, card with OOD and
population checks): the Kermany validation films (the card's patient split) and
the population check's NIH validation patients, as they are and once per
transform (:mod:`bench_transformed`); the score, the mean share of Kermany
validation films answered right with no warning over the rows none, crop,
border, text and random mix; the guardrails V1-V3 (films as they are, NIH in
every row, the synthetic non-film sets of ``tests/test_ood.py`` made from every
24th validation film) and V4 (int8 validation sensitivity); and how many
training and validation films the card's preprocessing trims. No test split is
read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]
SCORED = ("none", "crop", "border", "text", "mix")
SYNTHETIC = ("drawings", "uniform noise", "gaussian noise", "inverted films", "rotated films",
             "noisy films", "CT and MR")


def synthetic_flags(models: Path, val: list[Any]) -> dict[str, float]:
    """Share of each synthetic non-film set (from every 24th validation film) flagged
    by the card's OOD rule."""
    from pneumo.data.dataset import load_model_inputs
    from pneumo.model.card import CARD_FILENAME, ModelCard
    from pneumo.model.gradcam import Explainer
    from pneumo.model.locate import FLOAT_FILE
    from pneumo.model.ood import embed
    from tests.test_ood import _synthetic_ood_inputs

    card = ModelCard.load(models / CARD_FILENAME)
    assert card.ood is not None
    explainer = Explainer(models / (card.models.explain or FLOAT_FILE), card)
    films = load_model_inputs([e.path for e in val][::24], card.preprocessing)
    sets = _synthetic_ood_inputs(films, card.preprocessing)
    return {name: float(np.mean(card.ood.distances(embed(explainer, sets[name]))
                                > card.ood.threshold)) for name in SYNTHETIC}


def trimmed_share(models: Path, examples: list[Any]) -> float:
    """Share of ``examples`` whose film the card's preprocessing trims."""
    from pneumo.films.imaging import load_image
    from pneumo.model.card import CARD_FILENAME, ModelCard
    from pneumo.model.margins import margin_box

    if not ModelCard.load(models / CARD_FILENAME).preprocessing.trim:
        return 0.0
    changed = 0
    for e in examples:
        pixels = np.asarray(load_image(e.path).pixels, np.float32)
        changed += not margin_box(pixels).is_whole(pixels.shape)
    return changed / len(examples)


def measure(models: Path, data: Path, outside: Path) -> dict[str, Any]:
    """Every figure the rule reads, for one model folder."""
    from bench_transformed import flag_table

    from pneumo.checks.population_fit import FitPlan, outside_split
    from pneumo.data.dataset import card_training_split
    from pneumo.model.card import CARD_FILENAME, ModelCard

    card = ModelCard.load(models / CARD_FILENAME)
    train, val = card_training_split(data, card)
    plan = FitPlan()
    nih_val = outside_split(outside, plan.outside_val_fraction, plan.seed, card.labels)[1]
    kermany = flag_table(models, val)
    nih = flag_table(models, nih_val)
    score = float(np.mean([kermany[row]["right_unflagged"] for row in SCORED]))
    return {"score": score, "kermany_validation": kermany, "nih_validation": nih,
            "synthetic": synthetic_flags(models, val),
            "trimmed": {"train": trimmed_share(models, train),
                        "validation": trimmed_share(models, val)}}


def guardrails(m: dict[str, Any], baseline_silent: float) -> dict[str, bool]:
    """V1-V4 of the rule, each True when met."""
    k, n = m["kermany_validation"], m["nih_validation"]
    return {
        "V1": k["none"]["silent"] <= baseline_silent + 0.01 and k["none"]["either"] <= 0.05,
        "V2": all(row["either"] >= 0.90 and row["silent"] <= 0.05 for row in n.values()),
        "V3": all(v >= 0.95 for v in m["synthetic"].values()),
        "V4": k["none"]["sensitivity"] >= 0.95,
    }


def main() -> int:
    """Print one table row per model folder, in the order given (the first is the baseline)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="NAME=DIR")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--outside", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    for item in args.models:
        name, _, folder = item.partition("=")
        results[name] = measure(Path(folder), args.data, args.outside)
        print(f"measured {name}", file=sys.stderr, flush=True)
    baseline = next(iter(results.values()))["kermany_validation"]["none"]["silent"]
    print("| candidate | score | " + " | ".join(f"right, {r}" for r in SCORED)
          + " | silent, none | flagged, none | flagged, border | NIH flagged (min) "
          "| NIH silent (max) | synthetic flagged (min) | sensitivity | trimmed train / val "
          "| V1 V2 V3 V4 |")
    print("|---|" + "---:|" * (len(SCORED) + 10))
    for name, m in results.items():
        k, n = m["kermany_validation"], m["nih_validation"]
        met = guardrails(m, baseline)
        m["guardrails"] = met
        cells = [f"{100 * m['score']:.1f} %"] + [f"{100 * k[r]['right_unflagged']:.1f} %"
                                                  for r in SCORED]
        cells += [f"{100 * k['none']['silent']:.1f} %", f"{100 * k['none']['either']:.1f} %",
                  f"{100 * k['border']['either']:.1f} %",
                  f"{100 * min(r['either'] for r in n.values()):.1f} %",
                  f"{100 * max(r['silent'] for r in n.values()):.1f} %",
                  f"{100 * min(m['synthetic'].values()):.0f} %",
                  f"{k['none']['sensitivity']:.3f}",
                  f"{100 * m['trimmed']['train']:.1f} % / {100 * m['trimmed']['validation']:.1f} %",
                  " ".join("yes" if v else "NO" for v in met.values())]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
