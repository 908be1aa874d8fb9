"""The app's state without widgets: model, worklist, scans and the view job.

:class:`Session` owns the :class:`~pneumo.model.runner.ModelRunner` (loaded in a
worker), the :class:`~desktop.worklist_model.WorklistModel`, one scan at a
time (later requests queue up) and one view job at a time (a new selection
cancels the previous one). All inference runs in workers; the session only
routes their events to its signals, which the main window connects to widgets.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from desktop.workers import (
    DisplayImage,
    ExplainerHolder,
    ExplainerLike,
    GeneratorWorker,
    ModelFailed,
    OverlayReady,
    ViewProblem,
    load_model_events,
    scan_events,
    view_events,
)
from desktop.worklist_model import WorklistModel, WorklistRow
from pneumo.results.display import NO_SELECTION, ResultView, describe
from pneumo.results.records import ScanRecord

if TYPE_CHECKING:
    from pneumo.model.card import ModelCard
    from pneumo.model.runner import ModelRunner

ExplainerFactory = Callable[[Path, "ModelCard"], Callable[[], ExplainerLike]]
"""Builds, for a model file and its card, a factory of the Grad-CAM explainer."""
ViewEvent = DisplayImage | OverlayReady | ViewProblem
ScanEvent = list[Path] | ScanRecord


def default_explainer_factory(model_path: Path, card: ModelCard) -> Callable[[], ExplainerLike]:
    """A factory building :class:`pneumo.model.gradcam.Explainer` for the float model
    the card names beside the classifier."""

    def build() -> ExplainerLike:
        from pneumo.errors import ModelNotFoundError
        from pneumo.model.gradcam import Explainer
        from pneumo.model.locate import explainer_path

        path = explainer_path(model_path, card)
        if path is None:
            raise ModelNotFoundError(f"{model_path}: its model card names no explain model")
        explainer: ExplainerLike = Explainer(path, card=card)
        return explainer

    return build


class Session(QObject):
    """See the module docstring."""

    model_loaded = Signal()
    scan_started = Signal()
    progress = Signal(int, int)
    record_arrived = Signal(object)
    scan_finished = Signal(bool)
    view_image = Signal(object)
    view_overlay = Signal(object)
    view_problem = Signal(object)
    view_settled = Signal(object)
    failed = Signal(str)

    def __init__(
        self,
        model_path: Path | None,
        model_error: str | None = None,
        *,
        explainer_factory: ExplainerFactory | None = None,
        threshold_override: float | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.worklist = WorklistModel(self)
        self.model_path = model_path
        self.model_error = model_error
        self.runner: ModelRunner | None = None
        self.threshold_override = threshold_override
        self._explainer_factory = explainer_factory or default_explainer_factory
        self._explainers = ExplainerHolder(None)
        self._loader: GeneratorWorker[ModelRunner | ModelFailed] | None = None
        self._scan: GeneratorWorker[ScanEvent] | None = None
        self._queue: deque[list[Path]] = deque()
        self._view: GeneratorWorker[ViewEvent] | None = None
        self._old_views: list[GeneratorWorker[ViewEvent]] = []
        self._done = 0
        self._total = 0
        self.view_path: Path | None = None

    # -- model -----------------------------------------------------------------------
    @property
    def card(self) -> ModelCard | None:
        """The loaded model's card, or None."""
        return self.runner.card if self.runner is not None else None

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

    def _model_event(self, event: ModelRunner | ModelFailed) -> None:
        if isinstance(event, ModelFailed):
            self._model_failed(event.message)
            return
        self.runner = event
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

    def set_threshold_override(self, value: float | None) -> None:
        """Use ``value`` instead of the card's threshold (None: the card's); relabels."""
        self.threshold_override = value
        if self.card is not None:
            self.worklist.relabel(self.card, self.threshold)

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
        runner, threshold = self.runner, self.threshold_override
        reason = self.model_error or "no model loaded"
        worker: GeneratorWorker[ScanEvent] = GeneratorWorker(
            lambda cancel: scan_events(paths, runner, cancel=cancel, threshold=threshold,
                                       no_model_reason=reason))
        worker.signals.yielded.connect(self._scan_event)
        worker.signals.errored.connect(self.failed)
        worker.signals.finished.connect(self._scan_finished)
        self._scan = worker
        self.scan_started.emit()
        worker.start()

    def _scan_event(self, event: ScanEvent) -> None:
        if self._scan is None or self._scan.cancel_event.is_set():
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

    def _scan_finished(self, cancelled: bool) -> None:
        self._scan = None
        if cancelled:
            self.worklist.mark_cancelled()
        self.scan_finished.emit(cancelled)
        self._start_next()

    # -- viewing ---------------------------------------------------------------------
    def show(self, path: Path | None, explain: bool = True) -> None:
        """Load ``path`` for display (and its heat map); cancels the previous view."""
        if self._view is not None:
            self._view.cancel()
            self._old_views.append(self._view)
        self._old_views = [w for w in self._old_views if not w.done.is_set()]
        self._view = None
        self.view_path = path
        if path is None:
            return
        card, explainers = (self.card if explain else None), self._explainers
        worker: GeneratorWorker[ViewEvent] = GeneratorWorker(
            lambda cancel: view_events(path, card, explainers, cancel=cancel))
        worker.signals.yielded.connect(self._view_event)
        worker.signals.errored.connect(self.failed)
        worker.signals.finished.connect(lambda _c, p=path, w=worker: self._view_finished(p, w))
        self._view = worker
        worker.start()

    def _view_event(self, event: ViewEvent) -> None:
        if self._view is None or event.path != self.view_path:
            return
        if isinstance(event, DisplayImage):
            self.view_image.emit(event)
        elif isinstance(event, OverlayReady):
            self.view_overlay.emit(event)
        else:
            self.view_problem.emit(event)

    def _view_finished(self, path: Path, worker: GeneratorWorker[ViewEvent]) -> None:
        if worker is self._view:
            self._view = None
            self.view_settled.emit(path)

    def view_busy(self) -> bool:
        """True while the current view job runs."""
        return self._view is not None

    # -- teardown --------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel everything and wait for the workers; True when all stopped."""
        self.cancel()
        for worker in (self._scan, self._view, *self._old_views):
            if worker is not None:
                worker.cancel()
        return bool(QThreadPool.globalInstance().waitForDone(timeout_ms))
