"""``pneumo scan PATH...``: classify image files and folders, one line per file,
with optional JSON and CSV exports, DICOM results (``--dicom-out``) and the
result store (answers unchanged files from it and records every result)."""

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
    from pneumo.commands.outputs import (
        DicomTally,
        audit_exports,
        dicom_exporter,
        open_store_or_warn,
        warn,
    )
    from pneumo.model.locate import default_model_path
    from pneumo.model.runner import ModelRunner
    from pneumo.results.export import write_csv, write_json
    from pneumo.results.records import ScanRecord, format_record, format_skipped, summarize
    from pneumo.scanning.stored import audit_scan, scan_stored
    from pneumo.scanning.walk import HIDDEN, Skipped, describe_skipped, iter_inputs
    from pneumo.util.text import display_path

    paths = [Path(p) for p in args.paths]
    skipped: list[Skipped] = []
    if next(iter_inputs(paths), None) is None:
        for _ in iter_inputs(paths, skipped.append):
            pass
        why = describe_skipped(skipped)
        raise UsageError("no image files found in " + ", ".join(display_path(p) for p in paths)
                         + (f" ({why})" if why else ""))
    model = Path(args.model) if args.model else default_model_path()
    # One inference thread: the decoding workers keep the other cores busy.
    runner = ModelRunner(model, num_threads=1)
    store = open_store_or_warn(args)
    if store is not None:
        problem = audit_scan(store, runner, paths, args.threshold, origin="scan")
        if problem:
            warn(problem)
    exporter = dicom_exporter(args, runner, store)
    json_stdout = args.json == "-"
    progress = progress_bar(paths)

    def note(message: str) -> None:
        _print_line(message, progress, warning=True)

    dicom = DicomTally(exporter, note) if exporter is not None else None
    records: list[ScanRecord] = []
    try:
        for record in scan_stored(paths, runner, store, use_cache=not args.no_cache,
                                  threshold=args.threshold, workers=args.workers,
                                  on_store_error=note, on_skip=skipped.append):
            records.append(record)
            if not json_stdout:
                _print_line(format_record(record), progress)
            if dicom is not None:
                dicom.add(record, args.threshold)
            if progress is not None:
                progress.update()
    finally:
        if progress is not None:
            progress.close()
    for item in skipped:
        if item.reason != HIDDEN:  # hidden files are only counted
            print(format_skipped(item), file=sys.stderr if json_stdout else sys.stdout)
    ids = bool(args.include_identifiers)
    done: list[tuple[str, str]] = []
    try:
        if args.json:
            write_json(records, args.json, include_identifiers=ids)
            if args.json != "-":
                done.append(("JSON", args.json))
        if args.csv:
            write_csv(records, Path(args.csv), include_identifiers=ids)
            done.append(("CSV", args.csv))
    except OSError as exc:
        name = exc.filename or args.csv or args.json
        raise PneumoError(f"{name}: cannot write results ({exc.strerror or exc})") from None
    audit_exports(store, done, len(records), runner.sha256, ids)
    failed = sum(1 for r in records if r.error is not None)
    summary = summarize(records, runner.card.labels)
    threshold = runner.threshold if args.threshold is None else args.threshold
    summary += f" (threshold {threshold:.3f}, model {runner.model_path.name}"
    answered = sum(1 for r in records if r.from_store)
    summary += f"; {answered} answered from the results store)" if answered else ")"
    if skipped:
        summary += "; " + describe_skipped(skipped)
    out = sys.stderr if json_stdout else sys.stdout
    print(summary, file=out)
    if dicom is not None:
        print(dicom.summary(), file=out)
    if store is not None:
        store.close()
    return 1 if failed else 0


def _print_line(line: str, progress: tqdm[None] | None, warning: bool = False) -> None:
    """Print a result line to standard output (a warning to standard error),
    above the progress bar if there is one."""
    if warning:
        from pneumo.util.text import warning_line

        line = warning_line(line)
    stream = sys.stderr if warning else sys.stdout
    if progress is None:
        print(line, file=stream, flush=True)
        return
    with progress.external_write_mode(file=stream):
        print(line, file=stream, flush=True)
