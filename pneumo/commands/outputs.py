"""What ``pneumo scan`` and ``pneumo listen`` share besides classifying: the
result store as the options ask for it, DICOM results, audit rows of exports,
and warnings on standard error."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pneumo.errors import UsageError
from pneumo.util.text import warning_line

if TYPE_CHECKING:
    from pneumo.model.runner import ModelRunner
    from pneumo.results.dicom_out import DicomExporter
    from pneumo.results.records import ScanRecord
    from pneumo.results.store import ResultStore


def warn(message: str) -> None:
    """One ``pneumo: warning: ...`` line on standard error."""
    print(warning_line(message), file=sys.stderr, flush=True)


def open_store_or_warn(args: argparse.Namespace,
                       note: Callable[[str], None] = warn) -> ResultStore | None:
    """The store the options ask for (``--store``, ``--no-store``), or None.

    A store kept aside (corrupt, newer) is one warning; one that cannot be
    opened at all is a warning too, and the command goes on without it.
    """
    if getattr(args, "no_store", False):
        return None
    from pneumo.results.store import StoreError, open_store

    try:
        return open_store(getattr(args, "store", None), notify=note)
    except StoreError as exc:
        note(f"{exc}; going on without the results store")
        return None


def dicom_exporter(args: argparse.Namespace, runner: ModelRunner,
                   store: ResultStore | None) -> DicomExporter | None:
    """The exporter ``--dicom-out DIR`` asks for, or None."""
    if not getattr(args, "dicom_out", None):
        return None
    from pneumo.results.dicom_out import DicomExporter

    out = Path(args.dicom_out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: --dicom-out must be a folder")
    return DicomExporter(out, runner, store)


class DicomTally:
    """Exports each record's DICOM results, counting files written and films
    skipped (each skip is one warning through ``note``)."""

    def __init__(self, exporter: DicomExporter, note: Callable[[str], None] = warn) -> None:
        self.exporter = exporter
        self._note = note
        self.films = self.files = self.skipped = 0

    def add(self, record: ScanRecord, threshold: float | None) -> None:
        """Export ``record`` (a failed file is passed over: its line says why)."""
        if record.error is not None:
            return
        outcome = self.exporter.export(record, threshold)
        if outcome.skipped is not None:
            self.skipped += 1
            self._note(outcome.describe())
        else:
            self.films += 1
            self.files += len(outcome.files)

    def summary(self) -> str:
        """``DICOM results: 4 files for 2 films in DIR; 1 film skipped``."""
        text = (f"DICOM results: {_count(self.files, 'file')} for {_count(self.films, 'film')} "
                f"in {self.exporter.out_dir}")
        return text + (f"; {_count(self.skipped, 'film')} skipped" if self.skipped else "")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def audit_exports(store: ResultStore | None, done: list[tuple[str, str]], records: int,
                  model_sha256: str, include_identifiers: bool) -> None:
    """An ``export`` audit row per file written (``(kind, path)`` pairs)."""
    if store is None:
        return
    from pneumo.results.provenance import EXPORT
    from pneumo.results.store import StoreError

    try:
        for kind, file in done:
            store.add_event(EXPORT, path=file, model_sha256=model_sha256,
                            detail={"kind": kind, "file": str(Path(file).resolve()),
                                    "records": records, "identifiers": include_identifiers})
    except StoreError as exc:
        warn(str(exc))
