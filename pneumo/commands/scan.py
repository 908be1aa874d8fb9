"""``pneumo scan PATH...``: classify image files and folders, one line per file,
with optional JSON and CSV exports."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pneumo.errors import PneumoError, UsageError

if TYPE_CHECKING:
    from tqdm import tqdm


def progress_bar(paths: Sequence[Path]) -> tqdm[None] | None:
    """A tqdm bar on standard error while it is a terminal, else None.

    Piped or redirected output stays clean, and costs neither the count of
    the files nor the import of tqdm.
    """
    isatty = getattr(sys.stderr, "isatty", None)
    if not (callable(isatty) and isatty()):
        return None
    from tqdm import tqdm

    from pneumo.scanning.walk import iter_inputs

    total = sum(1 for _ in iter_inputs(paths))
    return tqdm(total=total, file=sys.stderr, unit="file", leave=False, dynamic_ncols=True)


def scan_command(args: argparse.Namespace) -> int:
    """``pneumo scan``: classify files and folders, print a line per file, export."""
    from pneumo.model.locate import default_model_path
    from pneumo.model.runner import ModelRunner
    from pneumo.results.export import write_csv, write_json
    from pneumo.results.records import ScanRecord, format_record, summarize
    from pneumo.scanning.pipeline import scan
    from pneumo.scanning.walk import iter_inputs

    paths = [Path(p) for p in args.paths]
    if next(iter_inputs(paths), None) is None:
        raise UsageError("no image files found in " + ", ".join(str(p) for p in paths))
    model = Path(args.model) if args.model else default_model_path()
    # One inference thread: the decoding workers keep the other cores busy.
    runner = ModelRunner(model, num_threads=1)
    json_stdout = args.json == "-"
    progress = progress_bar(paths)
    records: list[ScanRecord] = []
    try:
        for record in scan(paths, runner, workers=args.workers, threshold=args.threshold):
            records.append(record)
            if not json_stdout:
                _print_line(format_record(record), progress)
            if progress is not None:
                progress.update()
    finally:
        if progress is not None:
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


def _print_line(line: str, progress: tqdm[None] | None) -> None:
    """Print a result line to standard output, above the progress bar if there is one."""
    if progress is None:
        print(line, flush=True)
        return
    with progress.external_write_mode(file=sys.stdout):
        print(line, flush=True)
