"""``pneumo info`` and ``pneumo fit-ood``: the commands that read or amend the
shipped model card (``pneumo scan`` and stage dispatch live in :mod:`pneumo.cli`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pneumo import __version__


def info_command(args: argparse.Namespace) -> int:
    """``pneumo info``: the shipped models, their kinds, thresholds and test metrics."""
    import json

    from pneumo.modelcard import CARD_FILENAME, ModelCard
    from pneumo.paths import HOW_TO_GET_A_MODEL, assets_dir, describe_model, shipped_models

    folder = assets_dir()
    card_path = folder / CARD_FILENAME
    card = ModelCard.load(card_path) if card_path.is_file() else None
    infos = [describe_model(p, card) for p in shipped_models(folder)]
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], indent=2))
        return 0
    print(f"pneumo {__version__}; models in {folder}")
    if not infos:
        print(f"  none: {HOW_TO_GET_A_MODEL}")
    for i in infos:
        line = f"  {i.path.name}: {i.kind}, {i.size_bytes / 1e6:.1f} MB"
        if i.input_size:
            line += f", input {i.input_size}x{i.input_size}"
        if i.threshold is not None:
            line += f", threshold {i.threshold:.3f}"
        line += {True: ", sha256 ok", False: ", SHA256 MISMATCH", None: ""}[i.sha256_ok]
        print(line)
        if i.test_metrics:
            m = i.test_metrics
            print(
                f"    test: accuracy {m['accuracy']:.3f}, AUC {m['auc']:.3f}, "
                f"sensitivity {m['sensitivity']:.3f}, "
                f"specificity {m['specificity']:.3f} (n={m['n']})"
            )
        if i.error:
            print(f"    error: {i.error}")
    return 0


def fit_ood_command(args: argparse.Namespace) -> int:
    """``pneumo fit-ood``: fit the OOD model and calibration report into a card."""
    from pneumo.ood import fit_card_ood

    result = fit_card_ood(Path(args.assets), Path(args.data), limit=args.limit,
                          workers=args.workers, log=print)
    ood, cal = result["ood"], result["calibration"]
    line = f"OOD threshold {ood['threshold']:.2f} (validation pass rate {ood['pass_rate']:.2f})"
    if "measured" in ood:
        line += f"; test pass rate {ood['measured']['test_pass_rate']:.3f}"
    print(line)
    text = f"ECE validation {cal['ece_validation']:.4f}"
    if "ece_test" in cal:
        text += f", test {cal['ece_test']:.4f}"
    print(text + f"; temperature {cal['temperature']:.3f} (recorded, not applied)")
    return 0
