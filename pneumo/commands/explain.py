"""``pneumo explain FILE``: a picture of one film's result and its Grad-CAM heat map.

Without ``--layers``: the film with the float LiteRT model's Grad-CAM blended in
and the result (label, probability, threshold) burnt into a caption, written
atomically to ``--out`` (default ``<stem>_explain.png`` in the current folder);
no TensorFlow. The result is the scan's (:func:`pneumo.scanning.pipeline.scan`:
the same input gate, classifier and warnings), so the picture and ``pneumo scan``
never disagree.

With ``--layers``: the seed notebook's animation, one frame per convolution layer
of the Keras model (``--gif``, default ``<stem>_layers.gif``). The Grad-CAM of
each layer needs TensorFlow (the ``train`` extra); the dispatcher passes it in as
``layer_cams`` so that this module never imports a stage.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pneumo.errors import ImageError, ModelNotFoundError, UsageError
from pneumo.results.picture import Caption, render, save_gif, save_png, shrink
from pneumo.util.text import display_path, escape_text

if TYPE_CHECKING:
    from pneumo.model.margins import Box
    from pneumo.model.runner import ModelRunner
    from pneumo.results.records import ScanRecord

LayerCams = Callable[[Path, np.ndarray], Sequence[tuple[str, np.ndarray]]]
"""(Keras model file, preprocessed input) -> (layer name, raw Grad-CAM) per conv layer."""


def explain_command(args: argparse.Namespace, layer_cams: LayerCams | None = None) -> int:
    """Run ``pneumo explain``; returns the exit code."""
    from pneumo.films.imaging import load_image
    from pneumo.model.gradcam import heatmap_on_film
    from pneumo.model.locate import default_model_path
    from pneumo.model.preprocess import input_box, preprocess
    from pneumo.model.runner import ModelRunner

    source = Path(args.file)
    if not source.is_file():
        raise UsageError(f"{source}: not a file" if source.exists() else f"{source}: no such file")
    layers = bool(args.layers or args.gif)
    if layers and layer_cams is None:
        raise UsageError("pneumo explain --layers is not available here")
    png = _target(args.out, source, "_explain.png") if args.out or not layers else None
    gif = _target(args.gif, source, "_layers.gif") if layers else None
    runner = ModelRunner(Path(args.model) if args.model else default_model_path())
    record = _classify(source, runner)
    image = load_image(source)
    model_input = preprocess(image, runner.card.preprocessing)
    box = input_box(image, runner.card.preprocessing)
    if png is not None:
        heatmap, notes = _float_heatmap(runner, model_input)
        heatmap = heatmap_on_film(heatmap, image.pixels.shape, box)
        save_png(render(image.pixels, heatmap, _caption(record, runner, notes)), png)
        print(f"wrote {display_path(png)}")
    if gif is not None and layer_cams is not None:
        _write_gif(gif, image.pixels, box, model_input, record, runner, layer_cams)
        print(f"wrote {display_path(gif)}")
    return 0


def _target(given: str | None, source: Path, suffix: str) -> Path:
    """The output path: ``given``, else ``<stem><suffix>`` here; never the source."""
    out = Path(given) if given else Path.cwd() / f"{source.stem}{suffix}"
    if out.exists() and out.resolve() == source.resolve():
        raise UsageError(f"{out}: is the input file; choose another output (--out/--gif)")
    return out


def _classify(source: Path, runner: ModelRunner) -> ScanRecord:
    """The scan's record for ``source``; a file the scan cannot classify raises."""
    from pneumo.scanning.pipeline import scan

    record = next(scan([source], runner, workers=1))
    if record.error is not None:
        raise ImageError(source, record.error)
    return record


def _float_heatmap(runner: ModelRunner, model_input: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Grad-CAM of the float model beside the classifier, and a note if it is empty."""
    from pneumo.model.gradcam import Explainer
    from pneumo.model.locate import explainer_path
    from pneumo.results.display import empty_heatmap_note

    path = explainer_path(runner.model_path, runner.card)
    if path is None or not path.is_file():
        raise ModelNotFoundError(f"{path or runner.model_path}: no float model with the "
                                 "Grad-CAM 'explain' signature (run 'pneumo convert')")
    explanation = Explainer(path, runner.card).explain(model_input)
    notes = [empty_heatmap_note(runner.card.labels)] if explanation.peak <= 0 else []
    return explanation.heatmap, notes


def _caption(record: ScanRecord, runner: ModelRunner, notes: Sequence[str],
             first: str | None = None) -> Caption:
    """The caption: the scan's result, then ``first``, warnings and notes."""
    from pneumo.results.display import HeatmapPolicy, describe, on_request_note

    card = runner.card
    view = describe(record.path, record, card.labels, runner.threshold)
    lines = [first] if first else []
    lines += [f"⚠ {escape_text(w)}" for w in record.warnings] + list(notes)
    if view.heatmap is HeatmapPolicy.ON_REQUEST:
        lines.append(on_request_note(card.labels))
    lines.append(f"{display_path(record.path.name)} · model {card.name} ({runner.model_path.name}) · "
                 "Grad-CAM for the positive class")
    return Caption(view, tuple(lines))


def _write_gif(path: Path, pixels: np.ndarray, box: Box, model_input: np.ndarray,
               record: ScanRecord, runner: ModelRunner, layer_cams: LayerCams) -> None:
    """One frame per convolution layer of the Keras model beside the classifier."""
    from pneumo.model.gradcam import heatmap_on_film, normalise_heatmap
    from pneumo.model.locate import keras_path

    keras_file = keras_path(runner.model_path, runner.card)
    if not keras_file.is_file():
        raise ModelNotFoundError(f"{keras_file}: --layers needs the Keras model beside "
                                 f"{runner.model_path.name}")
    cams = layer_cams(keras_file, model_input)
    small = shrink(pixels)
    small_box = box.scaled(pixels.shape, small.shape)
    frames = []
    for i, (name, cam) in enumerate(cams, start=1):
        heat = heatmap_on_film(normalise_heatmap(cam), small.shape, small_box)
        notes = [] if heat.any() else ["Heat map is empty at this layer."]
        caption = _caption(record, runner, notes, first=f"layer {i}/{len(cams)}: {name}")
        frames.append(render(small, heat, caption))
    save_gif(frames, path)
