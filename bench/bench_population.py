"""Benchmark what the population check adds to a scan, per film, on one thread.

``python bench/bench_population.py [--models DIR] [--data FOLDER] [--runs N]``

The check scores the embedding the out-of-distribution check already gets from
the float model's ``explain`` signature, so its own cost is the population
score alone; the table also shows the explain inference and the OOD distance
for scale, and the whole :meth:`ModelChecks.measure` (one explain, both
scores). Films: the first images of ``--data`` (default the Kermany test
split), else synthetic. BLAS and LiteRT are held to one thread.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy loads its BLAS
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def per_call_ms(fn: Callable[[Any], Any], items: list[Any], rounds: int) -> tuple[float, float]:
    """(median, p90) milliseconds of ``fn(item)`` over ``rounds`` passes of ``items``."""
    for item in items[:5]:
        fn(item)
    times = []
    for _ in range(rounds):
        for item in items:
            start = time.perf_counter()
            fn(item)
            times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times), float(np.percentile(times, 90))


def _inputs(data: Path, spec: Any, count: int) -> list[np.ndarray]:
    from pneumo.data.dataset import list_examples, load_model_inputs

    if (data / "NORMAL").is_dir():
        examples = list_examples(data)[:: max(1, len(list_examples(data)) // count)][:count]
        return list(load_model_inputs([e.path for e in examples], spec))
    rng = np.random.default_rng(0)
    size = spec.input_size
    return [rng.random((size, size, 1), dtype=np.float32) for _ in range(count)]


def main() -> int:
    """Print a Markdown table of per-film costs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=REPO / "assets")
    parser.add_argument("--data", type=Path,
                        default=REPO.parent / "shared" / "data" / "chest_xray" / "test")
    parser.add_argument("--films", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    from pneumo.checks.model_checks import ModelChecks
    from pneumo.model.card import CARD_FILENAME, ModelCard
    from pneumo.model.gradcam import Explainer
    from pneumo.model.locate import FLOAT_FILE

    card = ModelCard.load(args.models / CARD_FILENAME)
    if card.population is None or card.ood is None:
        raise SystemExit("the card has no population or OOD check: run pneumo fit-population")
    explainer = Explainer(args.models / (card.models.explain or FLOAT_FILE), card,
                          num_threads=1)
    checks = ModelChecks(explainer, card.ood, card.population)
    inputs = _inputs(args.data, card.preprocessing, args.films)
    embeddings = [explainer.explain(x).embedding for x in inputs]
    population, ood = card.population, card.ood
    rows = [
        ("population score (the check's own cost)", per_call_ms(
            population.score, embeddings, args.rounds)),
        ("OOD distance", per_call_ms(ood.distance, embeddings, args.rounds)),
        ("explain inference (shared by both)", per_call_ms(
            explainer.explain, inputs, max(1, args.rounds // 4))),
        ("ModelChecks.measure (explain + both scores)", per_call_ms(
            checks.measure, inputs, max(1, args.rounds // 4))),
    ]
    print(f"{len(inputs)} films, 1 thread; population model: {population.features}, "
          f"{len(population.weights)} weights")
    print()
    print("| step | median ms | p90 ms |")
    print("|---|---:|---:|")
    for name, (median, p90) in rows:
        print(f"| {name} | {median:.4f} | {p90:.4f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
