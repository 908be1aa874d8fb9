"""Showing the selected film: its result at once, then the image and its heat map.

:class:`FilmView` puts the selected row's banner (the session's
:meth:`~desktop.session.Session.describe`, the core's display policy) on the
image panel, then runs one view job at a time in a worker
(:func:`desktop.workers.view_events`; a new selection cancels the previous
one): the film is decoded in the decoder pool and painted (a film slow to
decode first as a reduced preview), its DICOM tags listed, then its Grad-CAM
map drawn or the reason there is none. The heat map of a film a scan has yet
to label is prepared once the label is in (it is not shown before), so that
the scan's decoding of the film comes first.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from desktop.events import DisplayImage, OverlayReady, ViewProblem
from desktop.generator_worker import GeneratorWorker
from desktop.image_panel import ImagePanel
from desktop.session import Session
from desktop.tags_panel import TagsPanel
from desktop.workers import view_events
from desktop.worklist_model import WorklistRow
from pneumo.results.display import RowState, empty_heatmap_note, unavailable_note

ViewEvent = DisplayImage | OverlayReady | ViewProblem


class FilmView(QObject):
    """See the module docstring."""

    overlay_shown = Signal(object)
    """A heat map for this path was attached to the viewer."""
    settled = Signal(object)
    """The view job for this path finished (image, overlay or problem shown)."""

    def __init__(self, session: Session, panel: ImagePanel, tags: TagsPanel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.panel = panel
        self.tags = tags
        self.path: Path | None = None
        """The file the current view job shows."""
        self._job: GeneratorWorker[ViewEvent] | None = None
        self._old_jobs: list[GeneratorWorker[ViewEvent]] = []
        self._labelled = threading.Event()

    def select(self, row: WorklistRow | None, reload: bool = True) -> None:
        """Show ``row``'s result; with ``reload``, load its film and heat map again
        (without, only the banner is redrawn: a new threshold, a record arrived)."""
        view = self.session.describe(row)
        self.panel.show_result(view, keep_image=not reload)
        labelled = view.state is not RowState.PENDING
        if reload:
            self.tags.set_metadata(None)
            self.show(view.path, explain=view.explain, labelled=labelled)
        elif labelled:
            self._labelled.set()

    def show(self, path: Path | None, explain: bool = True, labelled: bool = True) -> None:
        """Load ``path`` for display (and its heat map); cancels the previous view.
        Until ``labelled`` (a scan has yet to label the film, see :meth:`select`),
        the heat map waits, so that the scan's decoding of the film goes first."""
        if self._job is not None:
            self._job.cancel()
            self._old_jobs.append(self._job)
        self._old_jobs = [w for w in self._old_jobs if not w.done.is_set()]
        self._job = None
        self.path = path
        if path is None:
            return
        card = self.session.card if explain else None
        explainers, recent = self.session.explainers, self.session.heat_inputs
        self._labelled = done = threading.Event()
        if labelled:
            done.set()
        worker: GeneratorWorker[ViewEvent] = GeneratorWorker(
            lambda cancel: view_events(path, card, explainers, cancel=cancel, labelled=done,
                                       recent=recent))
        worker.signals.yielded.connect(self._event)
        worker.signals.errored.connect(self.session.failed)
        worker.signals.finished.connect(lambda _c, p=path, w=worker: self._finished(p, w))
        self._job = worker
        worker.start()

    def busy(self) -> bool:
        """True while the current view job runs."""
        return self._job is not None

    def cancel(self) -> None:
        """Stop the current and any earlier view job."""
        for worker in (self._job, *self._old_jobs):
            if worker is not None:
                worker.cancel()

    def _event(self, event: ViewEvent) -> None:
        if self._job is None or event.path != self.path:
            return
        if isinstance(event, DisplayImage):
            if event.full_size is None and self.panel.viewer.showing_preview_of(
                    event.levels.shape):
                self.panel.sharpen_image(event.levels, event.auto_window, event.pyramid)
            else:
                self.panel.show_image(event.levels, event.auto_window, event.pyramid,
                                      event.full_size)
            self.tags.set_metadata(event.metadata)
        elif isinstance(event, OverlayReady):
            labels = self.session.worklist.labels
            self.panel.show_overlay(event.rgba,
                                    empty_heatmap_note(labels) if event.peak <= 0 else None)
            self.overlay_shown.emit(event.path)
        elif event.stage == "image":
            self.panel.show_image_problem(event.message)
        else:
            self.panel.show_overlay(None, unavailable_note(event.message))

    def _finished(self, path: Path, worker: GeneratorWorker[ViewEvent]) -> None:
        if worker is self._job:
            self._job = None
            self.settled.emit(path)
