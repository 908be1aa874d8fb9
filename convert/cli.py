"""``pneumo convert MODEL.keras --out DIR --calibration DATA_DIR [options]``: the
command line of the conversion pipeline (:mod:`convert.pipeline`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from convert.pipeline import PARITY_JSON, ConvertOptions, convert_model
from pneumo.errors import UsageError
from pneumo.model.card import CARD_FILENAME
from pneumo.model.locate import FLOAT_FILE, INT8_FILE


def build_parser() -> argparse.ArgumentParser:
    """The ``pneumo convert`` argument parser."""
    p = argparse.ArgumentParser(prog="pneumo convert",
                                description="Convert a trained Keras model to LiteRT: int8 "
                                "classifier plus float32 model with Grad-CAM.")
    p.add_argument("model", type=Path, metavar="MODEL.keras", help="the trained model")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--calibration", type=Path, metavar="DATA_DIR",
                   help="labelled data (needed): int8 calibration from DATA_DIR/train (else "
                   "DATA_DIR), training side of the patient split; validation side re-checks "
                   "the threshold")
    p.add_argument("--calibration-count", type=int, default=300, metavar="N",
                   help="calibration images (300)")
    p.add_argument("--parity-data", type=Path, metavar="DATA_DIR",
                   help="labelled data for parity: DATA_DIR/test if present, else DATA_DIR "
                   "(default: the calibration folder's test/)")
    p.add_argument("--card", type=Path, metavar="FILE",
                   help="training model card (default: beside MODEL.keras)")
    p.add_argument("--io-dtype", choices=("int8", "uint8"), default="int8",
                   help="int8 model input type (default int8: no extra QUANTIZE op)")
    p.add_argument("--int8-probability", action="store_true",
                   help="quantise the final sigmoid too (int8 probability output, 256 levels) "
                   "instead of the default float32 sigmoid after the int8 logit")
    p.add_argument("--no-gate", action="store_true",
                   help="write the models even when int8 fails the parity gate")
    p.add_argument("--threads", type=int, default=2, metavar="N",
                   help="LiteRT threads for parity runs (2)")
    p.add_argument("--workers", type=int, default=2, metavar="N",
                   help="image decoding threads (2)")
    return p


def main(argv: list[str]) -> int:
    """Run ``pneumo convert``; errors are raised as :class:`PneumoError`."""
    args = build_parser().parse_args(argv)
    if args.calibration is None:
        raise UsageError("int8 calibration needs real training images: pass --calibration "
                         "DATA_DIR")
    if args.calibration_count < 1:
        raise UsageError("--calibration-count must be at least 1")
    options = ConvertOptions(model=args.model, out=args.out, calibration=args.calibration,
                             calibration_count=args.calibration_count,
                             parity_data=args.parity_data, card=args.card, gate=not args.no_gate,
                             io_dtype=args.io_dtype, float_sigmoid=not args.int8_probability,
                             num_threads=args.threads,
                             workers=args.workers)
    card = convert_model(options)
    if card.parity is not None:
        print(card.parity.markdown())
    reason = card.int8_threshold.reason if card.int8_threshold is not None else "card threshold"
    print(f"\nint8 threshold: {card.threshold:.4f} ({reason})")
    for name in (INT8_FILE, FLOAT_FILE, CARD_FILENAME, PARITY_JSON):
        print(f"wrote {options.out / name}")
    return 0
