"""``pneumo train DATA_DIR --out RUN_DIR [options]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from pneumo.model.preprocess import CONTRASTS
from train.models import ARCHITECTURES
from train.pipeline import AUGMENTATIONS


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``pneumo train``."""
    p = argparse.ArgumentParser(prog="pneumo train", description=(
        "Train a pneumonia classifier on a Kermany-layout folder (train/ val/ test/ with "
        "NORMAL/ and PNEUMONIA/) or a folder of two class subfolders. Validation is split "
        "from train/ by patient; the threshold is chosen on validation, never on test."))
    p.add_argument("data_dir", type=Path)
    p.add_argument("--out", type=Path, required=True, help="run directory to write")
    p.add_argument("--arch", default="pneumonet", choices=sorted(ARCHITECTURES))
    p.add_argument("--input-size", type=int, default=None, help="default: the architecture's")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=60,
                   help="early-stopping patience in epochs (the default never stops a 60-epoch run early)")
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--seed", type=int, default=0, help="weights, shuffling and augmentation")
    p.add_argument("--split-seed", type=int, default=0,
                   help="the patient-level validation split (keep it fixed across runs "
                        "that will be compared or combined)")
    p.add_argument("--hflip", action="store_true", help="also augment with horizontal flips")
    p.add_argument("--contrast", default="equalize", choices=CONTRASTS,
                   help="per-image contrast normalisation in the shared preprocessing")
    p.add_argument("--trim", action="store_true",
                   help="crop uniform margins of each film in the shared preprocessing "
                        "(recorded in the card, so every stage does the same)")
    p.add_argument("--augment", default="standard", choices=AUGMENTATIONS,
                   help="'strong' adds random blur and sharpening; 'wide' widens rotation, shift and zoom")
    p.add_argument("--framing-variants", type=int, default=0, metavar="N",
                   help="also show each training film as one of N seeded framing variants "
                        "(crops, borders, burned-in text on the raw film, before the shared "
                        "preprocessing) half the time; 0 turns it off")
    p.add_argument("--ema", type=float, default=0.0, metavar="MOMENTUM",
                   help="validate, checkpoint and ship an exponential moving average of the "
                        "weights (for example 0.99); 0 turns it off")
    p.add_argument("--min-sensitivity", type=float, default=0.95,
                   help="threshold rule: best specificity at this validation sensitivity")
    p.add_argument("--strategy", default="default", choices=["default", "mirrored", "multiworker"])
    p.add_argument("--mixed-precision", action="store_true", help="train in mixed_bfloat16")
    p.add_argument("--weights", default=None, help="local ImageNet .h5 for transfer backbones")
    p.add_argument("--workers", type=int, default=2, help="decoding threads")
    return p


def main(argv: list[str]) -> int:
    """Run ``pneumo train``; returns the exit code."""
    args = build_parser().parse_args(argv)
    from train.fit import TrainConfig, print_run_summary, train

    config = TrainConfig(
        architecture=args.arch, input_size=args.input_size, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.lr, patience=args.patience,
        val_fraction=args.val_fraction, seed=args.seed, split_seed=args.split_seed,
        hflip=args.hflip, augment=args.augment, ema=args.ema,
        framing_variants=args.framing_variants,
        contrast=args.contrast, trim=args.trim,
        min_sensitivity=args.min_sensitivity, strategy=args.strategy,
        mixed_precision=args.mixed_precision, weights=args.weights, workers=args.workers,
    )
    card = train(args.data_dir, args.out, config)
    print_run_summary(card, args.out)
    return 0
