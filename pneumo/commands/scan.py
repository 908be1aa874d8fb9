"""``pneumo scan PATH...``: classify image files and folders, one line per file,
with optional JSON and CSV exports, DICOM results (``--dicom-out``) and the
result store (answers unchanged files from it and records every result)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pneumo.errors import PneumoError, UsageError

if TYPE_CHECKING:
    from pneumo.results.dicom_out import DicomExporter
    from pneumo.results.records import ScanRecord
    from pneumo.results.store import ResultStore


def warn(message: str) -> None:
    """One ``pneumo: warning: ...`` line on standard error."""
    print(f"pneumo: warning: {' '.join(message.split())}", file=sys.stderr, flush=True)


def open_store_or_warn(args: argparse.Namespace) -> ResultStore | None:
    """The store the options ask for (``--store``, ``--no-store``), or None.

    A store kept aside (corrupt, newer) is one warning; one that cannot be
    opened at all is a warning too, and the command goes on without it.
    """
    if getattr(args, "no_store", False):
        return None
    from pneumo.results.store import StoreError, open_store

    try:
        return open_store(getattr(args, "store", None), notify=warn)
    except StoreError as exc:
        warn(f"{exc}; going on without the results store")
        return None


def scan_command(args: argparse.Namespace) -> int:
    """``pneumo scan``: classify files and folders, print a line per file, export."""
    from pneumo.model.locate import default_model_path
    from pneumo.model.runner import ModelRunner
    from pneumo.results.provenance import ModelIdentity
    from pneumo.results.records import format_record, summarize
    from pneumo.scanning.stored import audit_scan, scan_stored
    from pneumo.scanning.walk import iter_inputs
    from pneumo.util.progress import ProgressBar

    paths = [Path(p) for p in args.paths]
    if next(iter_inputs(paths), None) is None:
        raise UsageError("no image files found in " + ", ".join(str(p) for p in paths))
    model = Path(args.model) if args.model else default_model_path()
    runner = ModelRunner(model)
    identity = ModelIdentity.of(runner)
    store = open_store_or_warn(args)
    if store is not None:
        problem = audit_scan(store, runner, paths, args.threshold, origin="scan")
        if problem:
            warn(problem)
    exporter = _exporter(args, runner, store)
    json_stdout = args.json == "-"
    progress = ProgressBar(None, stream=sys.stderr)
    if progress.enabled:
        progress.total = sum(1 for _ in iter_inputs(paths))
    records: list[ScanRecord] = []
    dicom = _DicomTally()
    try:
        for record in scan_stored(paths, runner, store, use_cache=not args.no_cache,
                                  threshold=args.threshold, workers=args.workers,
                                  on_store_error=warn):
            records.append(record)
            progress.clear()
            if not json_stdout:
                print(format_record(record), flush=True)
            if exporter is not None:
                dicom.add(exporter, record, args.threshold)
            progress.advance()
    finally:
        progress.close()
    _write_exports(args, records, store, identity.sha256)
    failed = sum(1 for r in records if r.error is not None)
    summary = summarize(records, runner.card.labels)
    threshold = runner.threshold if args.threshold is None else args.threshold
    summary += f" (threshold {threshold:.3f}, model {runner.model_path.name}"
    answered = sum(1 for r in records if r.from_store)
    summary += f"; {answered} answered from the results store)" if answered else ")"
    print(summary, file=sys.stderr if json_stdout else sys.stdout)
    if exporter is not None:
        print(dicom.summary(exporter.out_dir), file=sys.stderr if json_stdout else sys.stdout)
    if store is not None:
        store.close()
    return 1 if failed else 0


def _exporter(args: argparse.Namespace, runner: object, store: ResultStore | None
              ) -> DicomExporter | None:
    if not getattr(args, "dicom_out", None):
        return None
    from pneumo.model.runner import ModelRunner
    from pneumo.results.dicom_out import DicomExporter

    out = Path(args.dicom_out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: --dicom-out must be a folder")
    assert isinstance(runner, ModelRunner)
    return DicomExporter(out, runner, store)


class _DicomTally:
    """Counts DICOM results written and skipped; skips are warned about."""

    def __init__(self) -> None:
        self.films = self.files = self.skipped = 0

    def add(self, exporter: DicomExporter, record: ScanRecord, threshold: float | None) -> None:
        if record.error is not None:
            return  # the error line already says why
        outcome = exporter.export(record, threshold)
        if outcome.skipped is not None:
            self.skipped += 1
            warn(outcome.describe())
        else:
            self.films += 1
            self.files += len(outcome.files)

    def summary(self, out_dir: Path) -> str:
        text = f"DICOM results: {self.files} files for {self.films} films in {out_dir}"
        return text + (f"; {self.skipped} films skipped" if self.skipped else "")


def _write_exports(args: argparse.Namespace, records: list[ScanRecord],
                   store: ResultStore | None, model_sha256: str) -> None:
    from pneumo.results.export import write_csv, write_json
    from pneumo.results.provenance import EXPORT
    from pneumo.results.store import StoreError

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
    if store is None:
        return
    try:
        for kind, file in done:
            store.add_event(EXPORT, path=file, model_sha256=model_sha256,
                            detail={"kind": kind, "file": str(Path(file).resolve()),
                                    "records": len(records), "identifiers": ids})
    except StoreError as exc:
        warn(str(exc))
