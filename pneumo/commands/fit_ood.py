"""``pneumo fit-ood``: fit the out-of-distribution check and measure calibration,
written into a model folder's card (the model files are not changed)."""

from __future__ import annotations

import argparse
from pathlib import Path


def fit_ood_command(args: argparse.Namespace) -> int:
    """``pneumo fit-ood``: fit the OOD model and calibration report into a card."""
    from pneumo.model.ood import fit_card_ood

    ood, cal = fit_card_ood(Path(args.assets), Path(args.data), limit=args.limit,
                            workers=args.workers, log=print)
    line = f"OOD threshold {ood.threshold:.2f} (validation pass rate {ood.pass_rate:.2f})"
    if ood.measured is not None:
        line += f"; test pass rate {ood.measured['test_pass_rate']:.3f}"
    print(line)
    text = f"ECE validation {cal.ece_validation:.4f}"
    if cal.ece_test is not None:
        text += f", test {cal.ece_test:.4f}"
    print(text + f"; temperature {cal.temperature:.3f} (recorded, not applied)")
    return 0
