"""Benchmark the shipped models: size and latency, LiteRT against Keras.

``python bench/bench_models.py [--models DIR] [--keras FILE] [--runs N]``

For every ``*.tflite`` in DIR (default ``assets/``): file size, and median and
90th-percentile latency of one image with 1 and 2 threads for ``classify``
(:class:`pneumo.model.runner.ModelRunner`) and, where the file has an ``explain``
signature, ``explain`` (:class:`pneumo.model.gradcam.Explainer`). In the same run,
the Keras model (``--keras``, default ``DIR/model.keras`` when present, else
the card's source model) as the baseline: ``model.predict`` and a direct
``model(x)`` call on one image. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Timing:
    """Latency of one task on one image, in milliseconds."""

    model: str
    size_mb: float
    task: str
    threads: str
    median_ms: float
    p90_ms: float


def measure(fn: Callable[[], Any], runs: int, warmup: int) -> tuple[float, float]:
    """(median, p90) wall time of ``fn()`` in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times), float(np.percentile(times, 90))


def _card_for(model: Path) -> Any:
    from pneumo.model.card import CARD_FILENAME, ModelCard
    from pneumo.model.preprocess import Preprocessing

    card_path = model.parent / CARD_FILENAME
    if card_path.is_file():
        return ModelCard.load(card_path)
    from ai_edge_litert.interpreter import Interpreter

    size = int(Interpreter(model_path=str(model)).get_input_details()[0]["shape"][1])
    return ModelCard(name=model.stem, architecture="unknown",
                     preprocessing=Preprocessing(input_size=size))


def bench_tflite(model: Path, runs: int, warmup: int) -> list[Timing]:
    """Classify (and explain) timings of one flatbuffer with 1 and 2 threads."""
    from pneumo.errors import ModelError
    from pneumo.model.gradcam import Explainer
    from pneumo.model.runner import ModelRunner

    card = _card_for(model)
    size_mb = model.stat().st_size / 1e6
    x = np.random.default_rng(0).random((card.input_size, card.input_size, 1), dtype=np.float32)
    rows = []
    for threads in (1, 2):
        runner = ModelRunner(model, card, num_threads=threads)
        rows.append(Timing(model.name, size_mb, "classify", str(threads),
                           *measure(partial(runner.predict, x), runs, warmup)))
        try:
            explainer = Explainer(model, card, num_threads=threads)
        except ModelError:
            continue  # no explain signature (the int8 classifier)
        rows.append(Timing(model.name, size_mb, "explain", str(threads),
                           *measure(partial(explainer.explain, x), runs, warmup)))
    return rows


def bench_keras(path: Path, runs: int, warmup: int) -> list[Timing]:
    """``model.predict`` and ``model(x)`` on one image (TensorFlow's default threads)."""
    import keras

    model = keras.models.load_model(path, compile=False)
    size = int(model.inputs[0].shape[1])
    x = np.random.default_rng(0).random((1, size, size, 1), dtype=np.float32)
    size_mb = path.stat().st_size / 1e6
    return [
        Timing(path.name, size_mb, "keras predict", "TF default",
               *measure(lambda: model.predict(x, verbose=0), runs, warmup)),
        Timing(path.name, size_mb, "keras model(x)", "TF default",
               *measure(lambda: model(x, training=False), runs, warmup)),
    ]


def table(rows: list[Timing]) -> str:
    """A Markdown table of the timings."""
    lines = ["| model | size (MB) | task | threads | median (ms) | p90 (ms) |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r.model} | {r.size_mb:.2f} | {r.task} | {r.threads} | {r.median_ms:.2f} | "
              f"{r.p90_ms:.2f} |" for r in rows]
    return "\n".join(lines)


def _keras_path(models: Path, given: Path | None) -> Path | None:
    if given is not None:
        return given
    if (models / "model.keras").is_file():
        return models / "model.keras"
    from pneumo.model.card import CARD_FILENAME, ModelCard

    if (models / CARD_FILENAME).is_file():
        source = (ModelCard.load(models / CARD_FILENAME).conversion or {}).get("source_model")
        if source and Path(source).is_file():
            return Path(source)
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(prog="bench_models.py", description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, default=Path("assets"),
                        help="folder of .tflite files (default assets/)")
    parser.add_argument("--keras", type=Path, help="Keras baseline model (.keras)")
    parser.add_argument("--runs", type=int, default=50, help="timed runs per row")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs first")
    parser.add_argument("--no-keras", action="store_true", help="skip the Keras baseline")
    args = parser.parse_args(argv)
    files = sorted(args.models.glob("*.tflite"))
    if not files:
        print(f"no .tflite files in {args.models}", file=sys.stderr)
        return 2
    rows: list[Timing] = []
    for path in files:
        rows += bench_tflite(path, args.runs, args.warmup)
    keras_path = None if args.no_keras else _keras_path(args.models, args.keras)
    if keras_path is not None:
        rows += bench_keras(keras_path, args.runs, args.warmup)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
