"""Scanning through the result store: answer known files from it, record the rest.

:func:`scan_stored` wraps :func:`pneumo.scanning.pipeline.scan`. Before a file
is decoded, its contents are hashed (sha256) and looked up with the model's
:attr:`~pneumo.results.provenance.ModelIdentity.analysis_key`: a hit is
yielded as the stored record (``from_store=True``, the label re-derived at
this scan's threshold) without decoding the file. Every other record gets its
content and model sha256 and is written to the store as soon as it is made,
so a scan that is killed and run again only classifies the files it had not
finished. :func:`record_scan_start` writes the scan's audit rows.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pneumo.results.provenance import MODEL_CHANGE, SCAN, THRESHOLD_OVERRIDE, ModelIdentity
from pneumo.results.records import ScanRecord
from pneumo.results.store import ResultStore, StoreError
from pneumo.scanning.pipeline import scan
from pneumo.scanning.prepare import Prepared
from pneumo.scanning.walk import SkipHandler

if TYPE_CHECKING:
    from pneumo.model.runner import ModelRunner

__all__ = ["content_sha256", "record_scan_start", "scan_stored"]

_CHUNK = 1 << 20



def content_sha256(path: Path) -> str | None:
    """sha256 (hex) of a regular file's bytes, or ``None`` when it cannot be read
    or is not a regular file (a FIFO or device named like an image would block
    or never end: it is opened without blocking and left to the loader to judge)."""
    digest = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        except OSError:
            return None
    return digest.hexdigest()


def scan_stored(
    paths: Iterable[str | Path],
    runner: ModelRunner,
    store: ResultStore | None,
    *,
    use_cache: bool = True,
    origin: str = "scan",
    threshold: float | None = None,
    workers: int = 2,
    cancel: threading.Event | None = None,
    max_in_flight: int | None = None,
    on_store_error: Callable[[str], None] | None = None,
    on_skip: SkipHandler | None = None,
    on_prepared: Callable[[Prepared], None] | None = None,
) -> Iterator[ScanRecord]:
    """:func:`~pneumo.scanning.pipeline.scan` with the result store.

    ``store`` None still fills in the sha256 fields (nothing is looked up or
    written); ``use_cache`` False classifies every file but still records it.
    A store that fails mid-scan is reported once through ``on_store_error``
    and the scan goes on without it. Files the walk leaves out go to ``on_skip``.
    """
    model = ModelIdentity.of(runner)
    cutoff = model.threshold if threshold is None else threshold
    hashes: dict[Path, str | None] = {}
    live: list[ResultStore | None] = [store]

    def fail(exc: StoreError) -> None:
        live[0] = None
        if on_store_error is not None:
            on_store_error(f"{exc}; the scan goes on without the store")

    def lookup(path: Path) -> ScanRecord | None:
        digest = hashes[path] = content_sha256(path)
        current = live[0]
        if digest is None or current is None or not use_cache:
            return None
        try:
            hit = current.cached(digest, model.analysis_key)
        except StoreError as exc:
            fail(exc)
            return None
        if hit is None or hit.probability is None and hit.error is None:
            return None
        try:
            stored = hit.record()
        except ValueError:
            return None
        label = None if stored.probability is None else model.label_for(stored.probability, cutoff)
        patient_id, patient_name = _identifiers(path, stored)
        return replace(stored, path=path, label=label, from_store=True,
                       patient_id=patient_id, patient_name=patient_name)

    for record in scan(paths, runner, workers=workers, cancel=cancel, threshold=threshold,
                       max_in_flight=max_in_flight, lookup=lookup, on_skip=on_skip,
                       on_prepared=on_prepared):
        digest = hashes.pop(record.path, None)
        if record.from_store:
            yield record
            continue
        record = replace(record, content_sha256=digest, model_sha256=model.sha256)
        current = live[0]
        if current is not None and digest is not None:
            try:
                current.add_result(record, model, threshold=cutoff, origin=origin)
            except StoreError as exc:
                fail(exc)
        yield record


def _identifiers(path: Path, stored: ScanRecord) -> tuple[str | None, str | None]:
    """Patient ID and name from a DICOM file's header (the store keeps neither)."""
    if stored.sop_instance_uid is None and stored.modality is None:
        return None, None
    from pneumo.films.dicom import read_dicom_header

    try:  # bounded: a deflated file is not inflated whole in this process
        ds = read_dicom_header(path)
    except Exception:  # noqa: BLE001 - the stored result stands without them
        return None, None
    return (str(ds.get("PatientID") or "").strip() or None,
            str(ds.get("PatientName") or "").strip() or None)


def record_scan_start(store: ResultStore, model: ModelIdentity, *, what: str,
                      paths: Iterable[str | Path] = (), threshold: float | None = None,
                      origin: str = "scan") -> None:
    """Audit rows for the start of a scan: a model change (when the model
    differs from the last one the store saw), a threshold override (when
    ``threshold`` differs from the card's) and the scan itself."""
    previous = store.last_model()
    if previous is not None and previous != model.sha256:
        store.add_event(MODEL_CHANGE, model_sha256=model.sha256,
                        detail={"from": previous, "to": model.sha256, "model": model.name})
    if threshold is not None and threshold != model.threshold:
        store.add_event(THRESHOLD_OVERRIDE, model_sha256=model.sha256,
                        detail={"threshold": threshold, "card_threshold": model.threshold,
                                "origin": origin})
    store.add_event(what, model_sha256=model.sha256,
                    detail={"paths": [os.path.abspath(p) for p in paths], "model": model.name,
                            "model_file": model.file_name, "origin": origin,
                            "threshold": model.threshold if threshold is None else threshold})


def audit_scan(store: ResultStore, runner: ModelRunner, paths: Iterable[str | Path],
               threshold: float | None, *, origin: str) -> str | None:
    """:func:`record_scan_start` for a scan about to run; the problem, if the
    store fails, as one line (the scan goes on)."""
    try:
        record_scan_start(store, ModelIdentity.of(runner), what=SCAN, paths=paths,
                          threshold=threshold, origin=origin)
    except StoreError as exc:
        return str(exc)
    return None


def audit_threshold_override(store: ResultStore, runner: ModelRunner, threshold: float | None,
                             *, origin: str) -> str | None:
    """A ``threshold override`` audit row (the app's setting changed); the
    problem, if the store fails, as one line."""
    model = ModelIdentity.of(runner)
    try:
        store.add_event(THRESHOLD_OVERRIDE, model_sha256=model.sha256,
                        detail={"threshold": threshold, "card_threshold": model.threshold,
                                "origin": origin})
    except StoreError as exc:
        return str(exc)
    return None
