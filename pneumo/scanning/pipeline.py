"""Scan files and folders of X-rays: find images, classify them, report each.

:func:`scan` decodes and preprocesses images on a small thread pool while the
calling thread runs inference, yielding one :class:`ScanRecord` per file in
input order. A file that cannot be read, or that the input gate refuses,
becomes an error record and the scan goes on.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pneumo.checks.gate import check_input
from pneumo.checks.model_checks import check_film
from pneumo.errors import ImageError, PneumoError
from pneumo.films.imaging import ImageMetadata, load_image
from pneumo.model.preprocess import Preprocessing, preprocess
from pneumo.results.records import ScanRecord
from pneumo.scanning.walk import InputProblem, SkipHandler, iter_inputs

if TYPE_CHECKING:
    from pneumo.checks.model_checks import ModelChecks
    from pneumo.model.runner import ModelRunner

__all__ = ["ScanRecord", "scan"]

_POLL_S = 0.05


@dataclass(frozen=True)
class _Prepared:
    """What a worker hands to the inference thread (never the full image)."""

    path: Path
    metadata: ImageMetadata | None
    model_input: np.ndarray | None
    warnings: tuple[str, ...]
    error: str | None


def _prepare(path: Path, spec: Preprocessing) -> _Prepared:
    """Decode, gate and preprocess one file; every failure becomes ``error``."""
    metadata: ImageMetadata | None = None
    warnings: tuple[str, ...] = ()
    try:
        image = load_image(path)
        metadata, warnings = image.metadata, tuple(image.warnings)
        gate_warnings, refusal = check_input(image)
        warnings += tuple(gate_warnings)
        if refusal is not None:
            return _Prepared(path, metadata, None, warnings, refusal)
        return _Prepared(path, metadata, preprocess(image, spec), warnings, None)
    except ImageError as exc:
        return _Prepared(path, metadata, None, warnings, exc.problem)
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop a scan
        return _Prepared(path, metadata, None, warnings, _unexpected(exc))


def _unexpected(exc: BaseException) -> str:
    return f"unexpected error: {type(exc).__name__}: {exc}"


def scan(
    paths: Iterable[str | Path],
    runner: ModelRunner,
    *,
    workers: int = 2,
    cancel: threading.Event | None = None,
    threshold: float | None = None,
    max_in_flight: int | None = None,
    on_skip: SkipHandler | None = None,
    lookup: Callable[[Path], ScanRecord | None] | None = None,
) -> Iterator[ScanRecord]:
    """Classify every image under ``paths``, yielding records in input order.

    Decoding and preprocessing run on ``workers`` threads; inference runs in
    the thread consuming this generator (so ``runner`` is used by one thread
    only). At most ``max_in_flight`` files (default ``4 * workers``) are
    decoded ahead, so memory stays bounded however large the folder. Setting
    ``cancel`` stops the scan promptly: no further records are yielded.
    ``threshold`` overrides the model card's decision threshold. Files the
    walk leaves out (hidden, not images) go to ``on_skip`` with the reason.

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
    """
    workers = max(1, int(workers))
    limit = max(1, max_in_flight if max_in_flight is not None else 4 * workers)
    spec = runner.card.preprocessing
    pending: deque[ScanRecord | Future[_Prepared]] = deque()
    items = iter_inputs(paths, on_skip)
    exhausted = False
    from pneumo.checks.model_checks import ModelChecks

    checks = ModelChecks.for_runner(runner)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pneumo-decode")
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
                                   else pool.submit(_prepare, item, spec))
            if not pending or _cancelled(cancel):
                return
            head = pending.popleft()
            if isinstance(head, ScanRecord):
                yield head
                continue
            while not head.done():
                if _cancelled(cancel):
                    return
                wait_futures([head], timeout=_POLL_S)
            record = _classify(head.result(), runner, threshold, checks)
            if _cancelled(cancel):
                return
            yield record
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _cancelled(cancel: threading.Event | None) -> bool:
    return cancel is not None and cancel.is_set()


def _classify(
    prep: _Prepared, runner: ModelRunner, threshold: float | None,
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
            prep.path, prep.metadata, error=_unexpected(exc), warnings=prep.warnings
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
