"""``pneumo fit-population``: fit the population check (children like the training
films against another population's films, e.g. adults) into a model folder's
card (the model files are not changed)."""

from __future__ import annotations

import argparse
from pathlib import Path


def fit_population_command(args: argparse.Namespace) -> int:
    """``pneumo fit-population``: fit the check, write it into the card, print the rates."""
    from pneumo.checks.population_fit import FitPlan, fit_card_population

    plan = FitPlan(l2=args.l2, seed=args.seed)
    model = fit_card_population(Path(args.assets), Path(args.data), Path(args.outside), plan,
                                workers=args.workers, log=print)
    inside = model.measured["inside_validation"]
    outside = model.measured["outside_validation"]
    print(f"population threshold {model.threshold:.3f}: validation films flagged "
          f"{100 * inside['flagged']:.1f} % inside ({inside['films']}; variants "
          f"{100 * inside['variants_flagged']:.1f} %), {100 * outside['flagged']:.1f} % "
          f"outside ({outside['films']}; variants {100 * outside['variants_flagged']:.1f} %)")
    return 0
