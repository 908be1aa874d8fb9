"""``pneumo scan PATH...``: classify image files and folders, one line per file,
with optional JSON and CSV exports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pneumo.errors import PneumoError, UsageError


def scan_command(args: argparse.Namespace) -> int:
    """``pneumo scan``: classify files and folders, print a line per file, export."""
    from pneumo.model.locate import default_model_path
    from pneumo.model.runner import ModelRunner
    from pneumo.results.export import write_csv, write_json
    from pneumo.results.records import ScanRecord, format_record, summarize
    from pneumo.scanning.pipeline import scan
    from pneumo.scanning.walk import iter_inputs
    from pneumo.util.progress import ProgressBar

    paths = [Path(p) for p in args.paths]
    if next(iter_inputs(paths), None) is None:
        raise UsageError("no image files found in " + ", ".join(str(p) for p in paths))
    model = Path(args.model) if args.model else default_model_path()
    # One inference thread: the decoding workers keep the other cores busy.
    runner = ModelRunner(model, num_threads=1)
    json_stdout = args.json == "-"
    progress = ProgressBar(None, stream=sys.stderr)
    if progress.enabled:
        progress.total = sum(1 for _ in iter_inputs(paths))
    records: list[ScanRecord] = []
    try:
        for record in scan(paths, runner, workers=args.workers, threshold=args.threshold):
            records.append(record)
            if not json_stdout:
                progress.clear()
                print(format_record(record), flush=True)
            progress.advance()
    finally:
        progress.close()
    ids = bool(args.include_identifiers)
    try:
        if args.json:
            write_json(records, args.json, include_identifiers=ids)
        if args.csv:
            write_csv(records, Path(args.csv), include_identifiers=ids)
    except OSError as exc:
        name = exc.filename or args.csv or args.json
        raise PneumoError(f"{name}: cannot write results ({exc.strerror or exc})") from None
    failed = sum(1 for r in records if r.error is not None)
    summary = summarize(records, runner.card.labels)
    threshold = runner.threshold if args.threshold is None else args.threshold
    summary += f" (threshold {threshold:.3f}, model {runner.model_path.name})"
    print(summary, file=sys.stderr if json_stdout else sys.stdout)
    return 1 if failed else 0
