"""Write a result back as DICOM: an SR and a Secondary Capture per classified film.

:class:`DicomExporter` turns a classified DICOM :class:`ScanRecord` into
``SR_<uid>.dcm`` (:mod:`pneumo.results.dicom_sr`) and ``SC_<uid>.dcm``
(:mod:`pneumo.results.dicom_sc`) in its output folder. The objects join the
source's study; their UIDs are derived from the source image, its contents,
the analysis and the threshold, so exporting the same result twice gives the
same objects (the second time nothing is rewritten). Files are written
atomically and never replace an existing file, a source included. A PNG or
JPEG input has no study to join: it is skipped with the reason. Each object
written is an ``export`` row in the audit trail when a store is given.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataset import Dataset

from pneumo.errors import one_line
from pneumo.films.dicom import read_dicom_header
from pneumo.films.sniff import is_dicom_file
from pneumo.results.dicom_sr import Finding, build_sr
from pneumo.results.provenance import EXPORT, ModelIdentity
from pneumo.results.records import ScanRecord
from pneumo.util.atomic import write_new_file_atomic

if TYPE_CHECKING:
    from pneumo.model.gradcam import Explainer
    from pneumo.model.runner import ModelRunner
    from pneumo.results.store import ResultStore

__all__ = ["EXPORT", "DicomExport", "DicomExporter", "export_all"]

_KINDS = ("SR", "SC")


@dataclass(frozen=True)
class DicomExport:
    """What exporting one record did: the files (written now, or already
    there from an identical earlier export), or why nothing was written."""

    source: Path
    files: tuple[Path, ...] = ()
    existed: tuple[Path, ...] = ()
    skipped: str | None = None

    def describe(self) -> str:
        """One line for the user."""
        if self.skipped is not None:
            return f"{self.source}: no DICOM result written: {self.skipped}"
        names = ", ".join(p.name for p in self.files)
        note = f" ({len(self.existed)} already there)" if self.existed else ""
        return f"{self.source}: DICOM result {names}{note}"


class DicomExporter:
    """Writes the SR and SC of classified DICOM films into ``out_dir``.

    Not thread-safe (it holds one Grad-CAM explainer): one exporter per thread.
    """

    def __init__(self, out_dir: str | Path, runner: ModelRunner,
                 store: ResultStore | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.model = ModelIdentity.of(runner)
        self._runner = runner
        self._store = store
        self._explainer: Explainer | None = None
        self._explainer_tried = False

    def export(self, record: ScanRecord, threshold: float | None = None) -> DicomExport:
        """Write the SR and SC for ``record`` (judged at ``threshold``, default
        the card's); a record that cannot have them is skipped with the reason."""
        source_path = Path(record.path)
        if record.error is not None or record.probability is None:
            return DicomExport(source_path, skipped="the film was not classified")
        if not is_dicom_file(source_path):
            return DicomExport(source_path, skipped="not DICOM, so there is no study to join "
                               "(the result stays in the CSV/JSON exports)")
        try:  # bounded, like the scan: long values stay on disk, nothing inflates whole
            source = read_dicom_header(source_path)
        except Exception as exc:  # noqa: BLE001 - a file that changed since the scan
            return DicomExport(source_path, skipped=f"cannot read it again ({one_line(exc)})")
        missing = [k for k in ("StudyInstanceUID", "SOPInstanceUID", "SOPClassUID")
                   if not source.get(k)]
        if missing:
            return DicomExport(source_path, skipped=f"the DICOM file has no {missing[0]}: "
                               "there is no study to join")
        cutoff = self.model.threshold if threshold is None else float(threshold)
        finding = Finding(float(record.probability), cutoff, self.model)
        try:
            objects = self._objects(source, source_path, record, finding)
            return self._write(source_path, source, objects)
        except OSError as exc:
            return DicomExport(source_path, skipped=f"cannot write to {self.out_dir} "
                               f"({exc.strerror or exc})")
        except Exception as exc:  # noqa: BLE001 - one bad header must not stop a scan
            return DicomExport(source_path, skipped=f"cannot build the DICOM objects "
                               f"({one_line(exc)})")

    def _objects(self, source: Dataset, path: Path, record: ScanRecord,
                 finding: Finding) -> dict[str, Dataset]:
        from pneumo.results.dicom_sc import build_sc, render_result

        uids = {kind: self._uids(source, record, finding, kind) for kind in _KINDS}
        sr = build_sr(source, finding, series_uid=uids["SR"][0], sop_uid=uids["SR"][1])
        film, heatmap = self._film_and_heatmap(path)
        rgb = render_result(film, heatmap, finding)
        sc = build_sc(source, rgb, series_uid=uids["SC"][0], sop_uid=uids["SC"][1],
                      software_version=finding.model.software_version)
        return {"SR": sr, "SC": sc}

    def _uids(self, source: Dataset, record: ScanRecord, finding: Finding,
              kind: str) -> tuple[str, str]:
        """(series, instance) UIDs, the same for the same result."""
        from pydicom.uid import generate_uid

        key = finding.model.analysis_key
        series = generate_uid(entropy_srcs=[str(source.StudyInstanceUID), key, kind])
        instance = generate_uid(entropy_srcs=[str(source.SOPInstanceUID),
                                              record.content_sha256 or "", key,
                                              f"{finding.threshold:.9f}", kind])
        return str(series), str(instance)

    def _film_and_heatmap(self, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
        from pneumo.films.imaging import load_image

        image = load_image(path)
        explainer = self._get_explainer()
        if explainer is None:
            return image.pixels, None
        from pneumo.model.gradcam import heatmap_on_film
        from pneumo.model.preprocess import input_box

        box = input_box(image, self._runner.card.preprocessing)
        return image.pixels, heatmap_on_film(explainer.explain_image(image).heatmap,
                                             image.pixels.shape, box)

    def _get_explainer(self) -> Explainer | None:
        if not self._explainer_tried:
            from pneumo.model.gradcam import Explainer
            from pneumo.model.locate import explainer_path

            self._explainer_tried = True
            path = explainer_path(self._runner.model_path, self._runner.card)
            if path is not None and path.is_file():
                self._explainer = Explainer(path, self._runner.card)
        return self._explainer

    def _write(self, source_path: Path, source: Dataset,
               objects: dict[str, Dataset]) -> DicomExport:
        written: list[Path] = []
        existed: list[Path] = []
        source_real = source_path.resolve()
        for kind, ds in objects.items():
            target = self.out_dir / f"{kind}_{ds.SOPInstanceUID}.dcm"
            if target.resolve() == source_real:
                raise OSError(f"{target} is the source file")
            buffer = io.BytesIO()
            ds.save_as(buffer, enforce_file_format=True)
            if write_new_file_atomic(target, buffer.getvalue()):
                written.append(target)
                self._audit(source_path, source, kind, ds, target)
            else:
                existed.append(target)
        return DicomExport(source_path, files=tuple(written + existed), existed=tuple(existed))

    def _audit(self, source_path: Path, source: Dataset, kind: str, ds: Dataset,
               target: Path) -> None:
        from pneumo.results.store import StoreError

        if self._store is None:
            return
        try:
            self._add_event(source_path, source, kind, ds, target)
        except StoreError:
            pass  # the file is written; a failing store is reported by the scan

    def _add_event(self, source_path: Path, source: Dataset, kind: str, ds: Dataset,
                   target: Path) -> None:
        assert self._store is not None
        self._store.add_event(EXPORT, path=source_path, model_sha256=self.model.sha256, detail={
            "kind": "DICOM SR" if kind == "SR" else "DICOM Secondary Capture",
            "file": str(target), "sop_instance_uid": str(ds.SOPInstanceUID),
            "study_instance_uid": str(source.StudyInstanceUID),
        })


def export_all(records: Iterable[ScanRecord], exporter: DicomExporter,
               threshold: float | None = None,
               cancel: threading.Event | None = None) -> Iterator[DicomExport]:
    """Export each record in turn (the app's "Export to DICOM"); stops when
    ``cancel`` is set. Records that were not classified are passed over."""
    for record in records:
        if cancel is not None and cancel.is_set():
            return
        if record.error is None and record.probability is not None:
            yield exporter.export(record, threshold)
