"""``pneumo evaluate DATA_DIR... [--model FILE] [--json FILE|-]``: metrics of a model
on labelled folders (:func:`pneumo.evaluation.evaluate.evaluate`), with what the
scan's checks did on each; several folders also give one table, a column each."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pneumo.commands.parsers import threshold_value, workers_value
from pneumo.errors import ModelNotFoundError
from pneumo.evaluation.evaluate import Evaluation, KerasLoader, default_model, evaluate
from pneumo.evaluation.reliability import domain_table


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``pneumo evaluate``."""
    p = argparse.ArgumentParser(prog="pneumo evaluate", description=(
        "Evaluate a model on folders of NORMAL/ and PNEUMONIA/ images (or data set roots "
        "with test/). A .tflite model runs through the scan, with its input gate and "
        "checks: the share of films flagged, the silent-error rate (wrong with no warning, "
        "of all films) and metrics on the unflagged films are reported too. With several "
        "folders a table compares them."))
    p.add_argument("data_dirs", type=Path, nargs="+", metavar="DATA_DIR",
                   help="a folder of NORMAL/ and PNEUMONIA/, or a data set root with test/")
    p.add_argument("--model", type=Path, default=None, metavar="FILE",
                   help="a .tflite or .keras model (default: $PNEUMO_MODEL, else the shipped "
                   "one; .keras needs TensorFlow)")
    p.add_argument("--json", default=None, metavar="FILE|-",
                   help="write metrics as JSON ('-': stdout)")
    p.add_argument("--threshold", type=threshold_value, default=None, metavar="T",
                   help="decision threshold from 0 to 1 instead of the model card's")
    p.add_argument("--plots", type=Path, default=None, metavar="DIR",
                   help="write ROC and confusion-matrix PNGs (needs matplotlib; one folder)")
    p.add_argument("--workers", type=workers_value, default=2, metavar="N",
                   help="decoding workers (2)")
    return p


def main(argv: list[str], keras_loader: KerasLoader | None = None) -> int:
    """Run ``pneumo evaluate``; returns the exit code."""
    args = build_parser().parse_args(argv)
    model = args.model or default_model()
    if not model.is_file():
        raise ModelNotFoundError(f"{model}: model file not found")
    results = [evaluate(d, model, keras_loader=keras_loader, threshold=args.threshold,
                        workers=args.workers) for d in args.data_dirs]
    data = results[0].to_dict() if len(results) == 1 else {
        "domains": [r.to_dict() for r in results]}
    if args.json == "-":
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for result in results:
            _print(result)
        checked = [(_name(r.data), r.metrics, r.reliability) for r in results
                   if r.reliability is not None]
        if len(results) > 1 and checked:
            print()
            print(domain_table(checked))
        if args.json:
            from pneumo.util.atomic import write_text_atomic

            write_text_atomic(Path(args.json), json.dumps(data, indent=2) + "\n")
    if args.plots:
        from pneumo.evaluation import plots

        result = results[0]
        args.plots.mkdir(parents=True, exist_ok=True)
        plots.plot_roc(result.labels, result.probabilities, result.metrics,
                       args.plots / "roc.png")
        plots.plot_confusion(result.metrics, args.plots / "confusion.png")
    return 0


def _name(folder: Path) -> str:
    return f"{folder.parent.name}/{folder.name}" if folder.parent.name else folder.name


def _print(result: Evaluation) -> None:
    m = result.metrics
    print(f"{result.model} ({result.kind}) on {result.data}: n={m.n}")
    shown = [result.metrics]
    if result.metrics_at_half.threshold != result.metrics.threshold:
        shown.append(result.metrics_at_half)  # the seed notebooks' 0.5, for comparison
    for at in shown:
        print(f"  threshold {at.threshold:.4f}: accuracy {at.accuracy:.4f}  AUC {at.auc:.4f}  "
              f"sensitivity {at.sensitivity:.4f}  specificity {at.specificity:.4f}  "
              f"precision {at.precision:.4f}  F1 {at.f1:.4f}  "
              f"TP {at.tp} FP {at.fp} TN {at.tn} FN {at.fn}")
    rel = result.reliability
    if rel is None:
        print("  checks: not run (a Keras model is evaluated on the classifier alone)")
        return
    rules = ", ".join(f"{k} {v}" for k, v in rel.rules.items()) or "none"
    print(f"  checks: {rel.films} films, {rel.refused} refused, {rel.warned} warned "
          f"(rules fired: {rules}); answered with no warning {100 * rel.answered_share:.1f} %; "
          f"silent errors {rel.silent_errors} ({100 * rel.silent_error_rate:.1f} % of all films)")
    u = rel.unflagged
    if u is not None:
        print(f"  unflagged films (n={u.n}): accuracy {u.accuracy:.4f}  AUC {u.auc:.4f}  "
              f"sensitivity {u.sensitivity:.4f}  specificity {u.specificity:.4f}")
