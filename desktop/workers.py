"""The app's background jobs: plain generators (no Qt, testable alone) yielding
events, each run off the GUI thread by a
:class:`~desktop.generator_worker.GeneratorWorker`.

* :func:`scan_events` - find files, then classify them with the core
  :func:`pneumo.scanning.stored.scan_stored` (through the result store when one
  is given): yields ``list[Path]`` batches, a :class:`WalkReport`, then records.
* :func:`view_events` - load one file for display, then explain it: yields a
  :class:`DisplayImage`, then a :class:`OverlayReady` or :class:`ViewProblem`.
* :func:`load_model_events` - load a model runner off the GUI thread: yields
  the :class:`~pneumo.model.runner.ModelRunner` and an :class:`ExplainStatus`,
  or a :class:`ModelFailed`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from desktop.events import (
    DisplayImage,
    ExplainStatus,
    ModelFailed,
    OverlayReady,
    ViewProblem,
    WalkReport,
)
from pneumo.errors import PneumoError
from pneumo.results.records import ScanRecord
from pneumo.scanning.display import DisplayFilm, HeatInput, RecentHeatInputs
from pneumo.scanning.prepare import Prepared

if TYPE_CHECKING:
    from pneumo.model.card import ModelCard
    from pneumo.model.gradcam import Explanation
    from pneumo.model.runner import ModelRunner
    from pneumo.results.store import ResultStore
    from pneumo.scanning.walk import Skipped

FILE_BATCH = 200
"""Files announced per ``list[Path]`` event while a scan enumerates folders."""


class ExplainerLike(Protocol):
    """What the viewer needs from :class:`pneumo.model.gradcam.Explainer`."""

    def explain(self, model_input: np.ndarray) -> Explanation:
        """The heat map (h, w) in [0, 1], its raw peak, and the probability."""
        ...


# -- scanning --------------------------------------------------------------------
def scan_events(
    paths: Iterable[str | Path],
    runner: ModelRunner | None,
    *,
    cancel: threading.Event,
    threshold: float | None = None,
    no_model_reason: str = "no model loaded",
    workers: int = 2,
    store: ResultStore | None = None,
    on_prepared: Callable[[Prepared], None] | None = None,
) -> Iterator[list[Path] | ScanRecord | WalkReport]:
    """Find the image files under ``paths``, then classify them in order.

    Yields batches of file paths as folders are walked (for pending rows),
    error records for missing paths, a :class:`WalkReport` once the walk is
    done (files left out, and why), then one record per file from
    :func:`pneumo.scanning.stored.scan_stored` (answered from and recorded in
    ``store`` when given). With ``runner=None`` every file gets an error record
    saying ``no_model_reason``.
    """
    from pneumo.scanning.walk import InputProblem, iter_inputs

    given = tuple(Path(p) for p in paths)
    files: list[Path] = []
    batch: list[Path] = []
    skipped: list[Skipped] = []
    problems = 0
    for item in iter_inputs(given, skipped.append):
        if cancel.is_set():
            return
        if isinstance(item, InputProblem):
            if batch:  # keep rows in input order
                yield batch
                batch = []
            problems += 1
            yield ScanRecord(path=item.path, error=item.problem)
            continue
        files.append(item)
        batch.append(item)
        if len(batch) >= FILE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
    yield WalkReport(given, len(files) + problems, tuple(skipped))
    if runner is None:
        for path in files:
            if cancel.is_set():
                return
            yield ScanRecord(path=path, error=f"not classified: {no_model_reason}")
        return
    from pneumo.scanning.stored import scan_stored

    yield from scan_stored(files, runner, store, origin="app", workers=workers, cancel=cancel,
                           threshold=threshold, on_prepared=on_prepared)


def load_model_events(
    model_path: Path, *, cancel: threading.Event
) -> Iterator[ModelRunner | ModelFailed | ExplainStatus]:
    """Yield a loaded :class:`pneumo.model.runner.ModelRunner` then whether its
    explain model can be used, or why the runner failed."""
    from pneumo.model.locate import explain_model_problem
    from pneumo.model.runner import ModelRunner

    try:
        runner = ModelRunner(model_path)
    except PneumoError as exc:
        yield ModelFailed(str(exc))
        return
    yield runner
    yield ExplainStatus(explain_model_problem(runner.model_path, runner.card))


# -- viewing ---------------------------------------------------------------------
class ExplainerHolder:
    """Creates the explainer on first use (in a worker) and serialises its use."""

    def __init__(self, factory: Callable[[], ExplainerLike] | None,
                 error: str | None = None) -> None:
        self._factory = factory
        self._explainer: ExplainerLike | None = None
        self._error: str | None = error or (None if factory else "no explainer model")
        self.lock = threading.Lock()

    def get(self) -> ExplainerLike | None:
        """The explainer, or None (see :attr:`error`); call with :attr:`lock` held."""
        if self._explainer is None and self._error is None and self._factory is not None:
            try:
                self._explainer = self._factory()
            except PneumoError as exc:
                self._error = str(exc)
            except Exception as exc:  # noqa: BLE001 - shown as "overlay unavailable"
                self._error = f"{type(exc).__name__}: {exc}"
        return self._explainer

    @property
    def error(self) -> str | None:
        """Why no explainer is available, if so."""
        return self._error


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


def view_events(
    path: Path,
    card: ModelCard | None,
    explainers: ExplainerHolder,
    *,
    cancel: threading.Event,
    labelled: threading.Event | None = None,
    recent: RecentHeatInputs | None = None,
) -> Iterator[DisplayImage | OverlayReady | ViewProblem]:
    """Load ``path`` for display, then (with a card) compute its Grad-CAM map.

    The file is decoded in the decoder pool's worker processes, ahead of any
    scan's files (:mod:`pneumo.scanning.display`): a decoder that crashes on
    it gives a :class:`ViewProblem`, and the app goes on. A film slow to
    decode is first shown as a quick reduced preview (a :class:`DisplayImage`
    with ``full_size``), then as itself; a preview that fails is left out.
    The heat map's input is the one a scan kept in ``recent``, or else is
    prepared by the other worker while the film is painted; while
    ``labelled`` is given and not set (a scan has yet to label this film, and
    no heat map is shown before), it is looked for only once it is set, so
    that the scan's decoding of the film goes first and is not repeated.
    """
    from pneumo.scanning.display import load_for_display, load_preview_for_display, model_input
    from pneumo.scanning.pool import shared_pool

    pool = shared_pool()
    ready = labelled is None or labelled.is_set()
    kept = recent.get(path) if recent is not None and ready else None
    jobs: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
        (load_preview_for_display, (path,)), (load_for_display, (path,))]
    if card is not None and ready and kept is None:
        jobs.append((model_input, (path, card.preprocessing)))
    previewed, shown, *rest = pool.submit_all_first(*jobs)
    explained = rest[0] if rest else None
    preview = _answer(previewed, cancel, unless=shown)
    if isinstance(preview, DisplayFilm) and preview.levels is not None \
            and preview.metadata is not None:
        yield DisplayImage(path, preview.metadata, preview.levels, preview.auto_window,
                           preview.pyramid, preview.full_size)
    film = _answer(shown, cancel)
    if film is None or cancel.is_set():
        if explained is not None:
            explained.cancel()
        return
    if not isinstance(film, DisplayFilm) or film.problem or film.levels is None \
            or film.metadata is None:
        if explained is not None:
            explained.cancel()
        problem = film.problem if isinstance(film, DisplayFilm) else str(film)
        yield ViewProblem(path, "image", problem or "cannot be shown")
        return
    yield DisplayImage(path, film.metadata, film.levels, film.auto_window, film.pyramid)
    if card is None:
        return
    if explained is None and kept is None:
        while labelled is not None and not labelled.is_set():
            if cancel.wait(0.05):
                return
        kept = recent.get(path) if recent is not None else None
        if kept is None:
            explained = pool.submit_first(model_input, path, card.preprocessing)
    x = kept if kept is not None else _answer(explained, cancel)
    if not isinstance(x, HeatInput):
        if x is not None:
            yield ViewProblem(path, "overlay", str(x))
        return
    with explainers.lock:
        if cancel.is_set():
            return
        explainer = explainers.get()
        if explainer is None:
            yield ViewProblem(path, "overlay", explainers.error or "no explainer")
            return
        try:
            explanation = explainer.explain(x.model_input)
        except PneumoError as exc:
            yield ViewProblem(path, "overlay", str(exc))
            return
    from pneumo.model.gradcam import heatmap_on_film

    # The heat map is smooth: drawn at the pyramid's smallest size and scaled up.
    shape = (film.pyramid[-1] if film.pyramid else film.levels).shape[:2]
    heat = heatmap_on_film(np.asarray(explanation.heatmap), shape,
                           x.box.scaled(x.shape, shape))
    yield OverlayReady(path, heat, heat_rgba(heat), float(explanation.probability),
                       float(explanation.peak))


def _answer(future: Any, cancel: threading.Event, unless: Any = None) -> Any:
    """A pool job's value (None if cancelled first, or if the job ``unless`` is done
    first); a crash becomes its message (a str)."""
    from concurrent.futures import TimeoutError as FutureTimeout

    from pneumo.scanning.pool import JobFailed, WorkerCrashed

    while not cancel.is_set() and not (unless is not None and unless.done()):
        try:
            return future.result(timeout=0.05).value
        except FutureTimeout:
            continue
        except (WorkerCrashed, JobFailed) as exc:
            return str(exc)
    future.cancel()
    return None


def heat_rgba(heat: np.ndarray) -> np.ndarray:
    """(H, W, 4) ``uint8`` colouring of a [0, 1] heat map; alpha grows with heat.

    Colours come from :func:`pneumo.model.gradcam.colorize_heatmap` (jet); weak
    activations are transparent so that the film stays readable. The overall
    opacity is applied by the viewer, so the slider needs no recomputation.
    """
    from pneumo.model.gradcam import colorize_heatmap

    rgba = np.ascontiguousarray(colorize_heatmap(heat, 1.0))
    alpha = np.clip((heat.astype(np.float32) - 0.15) / 0.45, 0.0, 1.0)
    rgba[..., 3] = (alpha * 255.0 + 0.5).astype(np.uint8)
    return rgba
