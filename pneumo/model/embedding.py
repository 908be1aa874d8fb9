"""Embeddings of films and of seeded random variants of them, for fitting checks.

Both reliability checks are fitted on the float model's 192-d embedding of
films as they are and of random variants of each
(:func:`pneumo.data.augment.seeded_variants`): the out-of-distribution score
(:mod:`pneumo.model.ood_fit`) and the population check
(:mod:`pneumo.checks.population_fit`). :func:`iter_embedded` is the one loop
that decodes, varies, preprocesses and embeds them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pneumo.model.gradcam import Explainer


def iter_embedded(explainer: Explainer, paths: Sequence[Path], variants: int, seed: int, *,
                  workers: int = 2, chunk: int = 64
                  ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For each film of ``paths``, in order: its model inputs (N, S, S, 1), the film
    then ``variants`` random variants of it (seeded by ``seed`` and the film's
    position), and their embeddings (N, 192).

    Decoding, variants and preprocessing run on ``workers`` threads, ``chunk``
    films at a time (so memory stays bounded); the explain model runs in the
    calling thread.
    """
    from pneumo.data.augment import seeded_variants
    from pneumo.films.imaging import load_image
    from pneumo.model.preprocess import preprocess

    spec = explainer.card.preprocessing

    def inputs_of(i: int) -> np.ndarray:
        pixels = load_image(paths[i]).pixels
        films = [pixels, *seeded_variants(pixels, variants, seed, i)]
        return np.stack([preprocess(p, spec) for p in films])

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for start in range(0, len(paths), chunk):
            for inputs in pool.map(inputs_of, range(start, min(len(paths), start + chunk))):
                yield inputs, np.stack([explainer.explain(x).embedding for x in inputs])
