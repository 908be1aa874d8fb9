"""The app's state without widgets: model, worklist and scans.

:class:`Session` owns the :class:`~pneumo.model.runner.ModelRunner` (loaded in a
worker), the :class:`~desktop.worklist_model.WorklistModel` and one scan at a
time (later requests queue up); the film on screen is
:class:`~desktop.film_view.FilmView`'s. All inference runs in workers; the
session only routes their events to its signals, which the main window
connects to widgets.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from desktop.events import ExplainStatus, ModelFailed, WalkReport
from desktop.generator_worker import GeneratorWorker
from desktop.workers import (
    ExplainerHolder,
    ExplainerLike,
    default_explainer_factory,
    load_model_events,
    scan_events,
)
from desktop.worklist_model import WorklistModel, WorklistRow
from pneumo.results.display import NO_SELECTION, ResultView, describe
from pneumo.results.notes import walk_note
from pneumo.results.records import ScanRecord
from pneumo.scanning.display import RecentHeatInputs

if TYPE_CHECKING:
    from pneumo.model.card import ModelCard
    from pneumo.model.runner import ModelRunner
    from pneumo.results.store import ResultStore

ExplainerFactory = Callable[[Path, "ModelCard"], Callable[[], ExplainerLike]]
"""Builds, for a model file and its card, a factory of the Grad-CAM explainer."""
ScanEvent = list[Path] | ScanRecord | WalkReport
ModelEvent: TypeAlias = "ModelRunner | ModelFailed | ExplainStatus"


class Session(QObject):
    """See the module docstring."""

    model_loaded = Signal()
    scan_started = Signal()
    progress = Signal(int, int)
    record_arrived = Signal(object)
    scan_finished = Signal(bool)
    walk_reported = Signal(str)
    """What the last walk left out, or that it found no image files ("" if nothing)."""
    failed = Signal(str)

    def __init__(
        self,
        model_path: Path | None,
        model_error: str | None = None,
        *,
        explainer_factory: ExplainerFactory | None = None,
        threshold_override: float | None = None,
        store: ResultStore | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        """The result store scans are answered from and recorded in (None: off)."""
        self.worklist = WorklistModel(self)
        self.model_path = model_path
        self.model_error = model_error
        self.runner: ModelRunner | None = None
        self.threshold_override = threshold_override
        self._explainer_factory = explainer_factory or default_explainer_factory
        self._explainers = ExplainerHolder(None)
        self.heat_inputs = RecentHeatInputs()
        """The model inputs of the films scanned last: heat maps without a second decode."""
        self.explain_problem: str | None = None
        """Why the float explain model (heat maps, OOD check) cannot be used."""
        self.scan_errors: list[str] = []
        self._loader: GeneratorWorker[ModelEvent] | None = None
        self._scan: GeneratorWorker[ScanEvent] | None = None
        self._queue: deque[list[Path]] = deque()
        self._done = 0
        self._total = 0

    # -- model -----------------------------------------------------------------------
    @property
    def card(self) -> ModelCard | None:
        """The loaded model's card, or None."""
        return self.runner.card if self.runner is not None else None

    @property
    def explainers(self) -> ExplainerHolder:
        """The Grad-CAM explainer of the loaded model (built on first use), or why
        there is none."""
        return self._explainers

    @property
    def model_loading(self) -> bool:
        """True until the model load attempt has finished."""
        return self._loader is not None

    @property
    def card_threshold(self) -> float | None:
        """The model card's threshold for the loaded model file (None without model)."""
        if self.runner is None:
            return None
        return self.runner.card.threshold_for(self.runner.model_path)

    @property
    def threshold(self) -> float | None:
        """The threshold in use: the override, else the card's (None without model)."""
        if self.threshold_override is not None and self.runner is not None:
            return self.threshold_override
        return self.card_threshold

    def override_differs(self) -> bool:
        """True when a threshold override differs from the model card's."""
        card_t = self.card_threshold
        return (
            card_t is not None
            and self.threshold_override is not None
            and abs(self.threshold_override - card_t) > 1e-9
        )

    def describe(self, row: WorklistRow | None) -> ResultView:
        """What the result banner says about ``row`` at the threshold in use."""
        if row is None:
            return NO_SELECTION
        return describe(row.path, row.record, row.labels, self.threshold, row.cancelled)

    def load_model(self) -> None:
        """Load the runner in a worker; :attr:`model_loaded` follows."""
        if self.model_path is None:
            QTimer.singleShot(0, self.model_loaded.emit)  # always asynchronous
            return
        path = self.model_path
        self._loader = GeneratorWorker(lambda cancel: load_model_events(path, cancel=cancel))
        self._loader.signals.yielded.connect(self._model_event)
        self._loader.signals.errored.connect(self._model_failed)
        self._loader.signals.finished.connect(self._model_finished)
        self._loader.start()

    def _model_event(self, event: ModelEvent) -> None:
        if isinstance(event, ModelFailed):
            self._model_failed(event.message)
            return
        if isinstance(event, ExplainStatus):
            self.explain_problem = event.problem
            if event.problem is not None:
                self._explainers = ExplainerHolder(None, error=event.problem)
            return
        self.runner = event
        self.heat_inputs = RecentHeatInputs()  # inputs made for another model's card
        self.worklist.set_labels(event.card.labels)
        self._explainers = ExplainerHolder(
            self._explainer_factory(Path(event.model_path), event.card)
        )

    def _model_failed(self, message: str) -> None:
        self.model_error = message

    def _model_finished(self, _cancelled: bool) -> None:
        self._loader = None
        self.model_loaded.emit()
        self._start_next()

    def problems(self) -> list[str]:
        """What went wrong with the models or a scan, one line each (empty: nothing)."""
        out = [f"no model loaded: {self.model_error}"] if self.runner is None and \
            self.model_error else []
        if self.explain_problem is not None:
            out.append(f"explain model unavailable: {self.explain_problem}")
        return out + [f"scan failed: {e}" for e in self.scan_errors]

    def set_threshold_override(self, value: float | None) -> None:
        """Use ``value`` instead of the card's threshold (None: the card's); relabels."""
        self.threshold_override = value
        if self.card is not None:
            self.worklist.relabel(self.card, self.threshold)
        if self.store is not None and self.runner is not None and self.override_differs():
            from pneumo.scanning.stored import audit_threshold_override

            problem = audit_threshold_override(self.store, self.runner, value, origin="app")
            if problem:
                self.failed.emit(problem)

    # -- scanning --------------------------------------------------------------------
    def busy(self) -> bool:
        """True while a scan runs, is queued, or waits for the model."""
        return self._scan is not None or bool(self._queue)

    def open_paths(self, paths: Iterable[str | Path]) -> None:
        """Scan files and folders (after the current scan, if one runs)."""
        items = [Path(p) for p in paths]
        if items:
            self._queue.append(items)
            self._start_next()

    def cancel(self) -> None:
        """Stop the running scan and drop queued ones."""
        self._queue.clear()
        if self._scan is not None:
            self._scan.cancel()

    def _start_next(self) -> None:
        if self._scan is not None or self._loader is not None or not self._queue:
            return
        paths = self._queue.popleft()
        self._done = self._total = 0
        runner, threshold, store = self.runner, self.threshold_override, self.store
        reason = self.model_error or "no model loaded"
        if store is not None and runner is not None:
            from pneumo.scanning.stored import audit_scan

            problem = audit_scan(store, runner, paths, threshold, origin="app")
            if problem:
                self.failed.emit(problem)
        worker: GeneratorWorker[ScanEvent] = GeneratorWorker(
            lambda cancel: scan_events(paths, runner, cancel=cancel, threshold=threshold,
                                       no_model_reason=reason, store=store,
                                       on_prepared=self.heat_inputs.add))
        worker.signals.yielded.connect(self._scan_event)
        worker.signals.errored.connect(self._scan_failed)
        worker.signals.finished.connect(self._scan_finished)
        self._scan = worker
        self.scan_started.emit()
        worker.start()

    def _scan_event(self, event: ScanEvent) -> None:
        if self._scan is None or self._scan.cancel_event.is_set():
            return
        if isinstance(event, WalkReport):
            self.walk_reported.emit(walk_note(event.paths, event.files, event.skipped))
            return
        if isinstance(event, ScanRecord):
            if self.worklist.row_of(event.path) is None:
                self._total += 1
            self.worklist.set_record(event)
            self._done += 1
            self.record_arrived.emit(event)
        else:
            self.worklist.add_pending(event)
            self._total += len(event)
        self.progress.emit(self._done, self._total)

    def _scan_failed(self, message: str) -> None:
        """A scan stopped on an unexpected error: its files must not stay pending."""
        self.scan_errors.append(message)
        self.worklist.mark_failed(f"not classified: the scan stopped ({message})")
        self.failed.emit(message)

    def _scan_finished(self, cancelled: bool) -> None:
        self._scan = None
        if cancelled:
            self.worklist.mark_cancelled()
        self.scan_finished.emit(cancelled)
        self._start_next()

    # -- teardown --------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel the scans and wait for every worker; True when all stopped."""
        self.cancel()
        return bool(QThreadPool.globalInstance().waitForDone(timeout_ms))
