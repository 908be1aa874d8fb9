"""Scan files and folders of X-rays: find images, classify them, report each.

:func:`scan` decodes and preprocesses images in decoding worker processes
(:mod:`pneumo.scanning.pool`) while the calling thread runs inference,
yielding one :class:`ScanRecord` per file in input order. A file that cannot
be read, that the input gate refuses, or whose decoder crashes, becomes an
error record and the scan goes on.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Future
from concurrent.futures import wait as wait_futures
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pneumo.checks.model_checks import check_film
from pneumo.errors import PneumoError
from pneumo.results.records import ScanRecord
from pneumo.scanning.pool import JobFailed, Outcome, WorkerCrashed, shared_pool
from pneumo.scanning.prepare import Prepared, prepare, unexpected
from pneumo.scanning.walk import InputProblem, SkipHandler, iter_inputs
from pneumo.util.text import WARNING_PREFIX, warning_line

if TYPE_CHECKING:
    from pneumo.checks.model_checks import ModelChecks
    from pneumo.model.runner import ModelRunner

__all__ = ["ScanRecord", "scan"]

_POLL_S = 0.05


class Pool(Protocol):
    """What :func:`scan` needs of a decoder pool (:class:`~pneumo.scanning.pool.DecoderPool`)."""

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Outcome]: ...


def scan(
    paths: Iterable[str | Path],
    runner: ModelRunner,
    *,
    workers: int = 2,
    cancel: threading.Event | None = None,
    threshold: float | None = None,
    max_in_flight: int | None = None,
    pool: Pool | None = None,
    job: Callable[..., Prepared] = prepare,
    on_skip: SkipHandler | None = None,
    lookup: Callable[[Path], ScanRecord | None] | None = None,
    on_prepared: Callable[[Prepared], None] | None = None,
) -> Iterator[ScanRecord]:
    """Classify every image under ``paths``, yielding records in input order.

    Decoding and preprocessing (``job``, :func:`~pneumo.scanning.prepare.prepare`)
    run in ``pool``, by default the process-wide pool of ``workers`` decoding
    processes (:func:`~pneumo.scanning.pool.shared_pool`); a file whose
    decoder crashes gets the error "decoder crashed (...)". Inference runs in
    the thread consuming this generator (so ``runner`` is used by one thread
    only). At most ``max_in_flight`` files (default ``4 * workers``) are
    decoded ahead, so memory stays bounded however large the folder. Setting
    ``cancel`` stops the scan promptly: no further records are yielded, and
    files not yet started are dropped. ``threshold`` overrides the model
    card's decision threshold. Files the walk leaves out (hidden, not images)
    go to ``on_skip`` with the reason.

    Every classified record carries the reliability checks' findings
    (``record.checks``). When the card holds an out-of-distribution or a
    population model and the float explain model is beside the classifier,
    each classified image also gets its embedding (one more inference, in this
    same thread), both scores, and a warning when a rule fires; a known
    patient age decides the population rule (:mod:`pneumo.checks.findings`).

    ``lookup`` (called in this thread, in input order, before a file is handed
    to a worker) may answer a file with a finished record, which is then
    yielded in its place without decoding the file (the result store's cache,
    :func:`pneumo.scanning.stored.scan_stored`).

    ``on_prepared`` sees each decoded file's :class:`Prepared` (its model input)
    in this thread before it is classified: the app keeps the last few for the
    heat map of the film it shows, so that film is not decoded again.
    """
    workers = max(1, int(workers))
    limit = max(1, max_in_flight if max_in_flight is not None else 4 * workers)
    spec = runner.card.preprocessing
    pending: deque[ScanRecord | tuple[Path, Future[Outcome]]] = deque()
    items = iter_inputs(paths, on_skip)
    exhausted = False
    from pneumo.checks.model_checks import ModelChecks

    checks = ModelChecks.for_runner(runner)
    if pool is None:
        pool = shared_pool(workers)
    try:
        while True:
            while not exhausted and len(pending) < limit and not _cancelled(cancel):
                item = next(items, None)
                if item is None:
                    exhausted = True
                elif isinstance(item, InputProblem):
                    pending.append(ScanRecord(path=item.path, error=item.problem))
                else:
                    known = lookup(item) if lookup is not None else None
                    pending.append(known if known is not None
                                   else (item, pool.submit(job, item, spec)))
            if not pending or _cancelled(cancel):
                return
            head = pending.popleft()
            if isinstance(head, ScanRecord):
                yield head
                continue
            path, future = head
            while not future.done():
                if _cancelled(cancel):
                    return
                wait_futures([future], timeout=_POLL_S)
            prepared = _prepared(path, future)
            if on_prepared is not None:
                on_prepared(prepared)
            record = _classify(prepared, runner, threshold, checks)
            if _cancelled(cancel):
                return
            yield record
    finally:
        for entry in pending:
            if not isinstance(entry, ScanRecord):
                entry[1].cancel()


def _prepared(path: Path, future: Future[Outcome]) -> Prepared:
    """The job's result; a crashed or failed job becomes an error for its file."""
    try:
        outcome = future.result()
    except WorkerCrashed as exc:
        return Prepared.failed(path, str(exc))
    except CancelledError:
        return Prepared.failed(path, "cancelled")
    except JobFailed as exc:
        return Prepared.failed(path, f"unexpected error: {exc}")
    except Exception as exc:  # noqa: BLE001 - the job raised (it should not) or could not run
        return Prepared.failed(path, unexpected(exc))
    prepared = outcome.value
    if not isinstance(prepared, Prepared):
        return Prepared.failed(path, f"unexpected result from the decoder: {prepared!r:.100}")
    report_messages(path, outcome.messages)
    return prepared.with_messages(outcome.messages)


def report_messages(path: Path, messages: tuple[str, ...]) -> None:
    """Print what the decoding libraries said about ``path`` in its worker, on this
    process's standard error, one line each, naming the file (a line the worker
    already named, :mod:`pneumo.films.library_warnings`, is printed as it is)."""
    for message in messages:
        line = message if message.startswith(WARNING_PREFIX) else warning_line(message, path)
        print(line, file=sys.stderr, flush=True)


def _cancelled(cancel: threading.Event | None) -> bool:
    return cancel is not None and cancel.is_set()


def _classify(
    prep: Prepared, runner: ModelRunner, threshold: float | None,
    checks: ModelChecks | None = None,
) -> ScanRecord:
    if prep.error is not None or prep.model_input is None:
        return ScanRecord.from_metadata(
            prep.path, prep.metadata, error=prep.error, warnings=prep.warnings
        )
    try:
        probability = runner.predict(prep.model_input)
    except PneumoError as exc:
        return ScanRecord.from_metadata(
            prep.path, prep.metadata, error=str(exc), warnings=prep.warnings
        )
    except Exception as exc:  # noqa: BLE001
        return ScanRecord.from_metadata(
            prep.path, prep.metadata, error=unexpected(exc), warnings=prep.warnings
        )
    cutoff = runner.threshold if threshold is None else threshold
    findings, warnings = check_film(checks, prep.model_input, prep.metadata)
    return ScanRecord.from_metadata(
        prep.path,
        prep.metadata,
        label=runner.card.label_for(probability, cutoff),
        probability=probability,
        warnings=prep.warnings + warnings,
        checks=findings,
    )
