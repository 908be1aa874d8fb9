"""``pneumo fit-ood``: fit the out-of-distribution check and measure calibration,
written into a model folder's card (the model files are not changed)."""

from __future__ import annotations

import argparse
from pathlib import Path


def fit_ood_command(args: argparse.Namespace) -> int:
    """``pneumo fit-ood``: fit the OOD model and calibration report into a card."""
    from pneumo.model.ood_fit import OodPlan, fit_card_ood

    plan = OodPlan(variants=args.variants, seed=args.seed, limit=args.limit)
    ood, cal = fit_card_ood(Path(args.assets), Path(args.data), plan, workers=args.workers,
                            log=print)
    measured = ood.measured or {}
    line = f"OOD threshold {ood.threshold:.2f} ({ood.pass_rate:g} quantile of validation films)"
    rates = [f"{name} {100 * measured[key]:.1f} %" for name, key in (
        ("validation films", "validation_pass_rate"),
        ("their variants", "validation_variants_pass_rate"),
        ("test films", "test_pass_rate")) if measured.get(key) is not None]
    if rates:
        line += "; passing: " + ", ".join(rates)
    print(line)
    text = f"ECE validation {cal.ece_validation:.4f}"
    if cal.ece_test is not None:
        text += f", test {cal.ece_test:.4f}"
    print(text + f"; temperature {cal.temperature:.3f} (recorded, not applied)")
    return 0
