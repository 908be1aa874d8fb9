"""Prove that binding a card to the model files changed no output.

``python bench/binding_parity.py OLD_DIR NEW_DIR FILM_OR_FOLDER...``

For each ``.tflite`` present in both folders (the shipped models before and
after ``pneumo bind``, say), every film under the given paths goes through
the shared preprocessing once, then through both files: the classifier's
probability, and for a file with an ``explain`` signature its probability,
heat map and embedding. Prints, per file and output, how many films were
compared and the largest absolute difference (0 means bit-identical), plus
the byte-level facts: sizes, whether the operator, tensor and weight sections
are unchanged, and the metadata names.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from pneumo.model.preprocess import Preprocessing


def _inputs(paths: list[str], spec: Preprocessing) -> tuple[list[Path], np.ndarray]:
    from pneumo.data.dataset import load_model_inputs
    from pneumo.scanning.walk import iter_image_files

    files = sorted(iter_image_files(paths))
    return files, load_model_inputs(files, spec, 2)


def _weights_equal(old: bytes, new: bytes) -> bool:
    from ai_edge_litert import schema_py_generated as schema

    a, b = (schema.ModelT.InitFromObj(schema.Model.GetRootAs(x, 0)) for x in (old, new))
    if len(a.subgraphs) != len(b.subgraphs) or a.operatorCodes is None:
        return False
    for sa, sb in zip(a.subgraphs, b.subgraphs):
        if len(sa.operators) != len(sb.operators) or len(sa.tensors) != len(sb.tensors):
            return False
        for ta, tb in zip(sa.tensors, sb.tensors):
            da, db = a.buffers[ta.buffer].data, b.buffers[tb.buffer].data
            if (da is None) != (db is None) or (da is not None and bytes(da) != bytes(db)):
                return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Compare the two folders' models on the given films; print the figures."""
    from pneumo.model.binding import read_metadata
    from pneumo.model.card import CARD_FILENAME, ModelCard
    from pneumo.model.gradcam import Explainer
    from pneumo.model.runner import ModelRunner

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("films", nargs="+")
    args = parser.parse_args(argv)
    card = ModelCard.load(args.new / CARD_FILENAME)
    files, x = _inputs(args.films, card.preprocessing)
    print(f"{len(files)} films from {', '.join(args.films)}")
    worst = 0.0
    for new_path in sorted(args.new.glob("*.tflite")):
        old_path = args.old / new_path.name
        if not old_path.is_file():
            continue
        old_b, new_b = old_path.read_bytes(), new_path.read_bytes()
        print(f"{new_path.name}: {len(old_b)} -> {len(new_b)} bytes; operators, tensors and "
              f"weights identical: {_weights_equal(old_b, new_b)}; metadata "
              f"{sorted(read_metadata(old_b))} -> {sorted(read_metadata(new_b))}")
        runners = [ModelRunner(p, card, verify=False) for p in (old_path, new_path)]
        probs = [r.predict_batch(x) for r in runners]
        delta = float(np.max(np.abs(probs[0] - probs[1])))
        worst = max(worst, delta)
        print(f"  classify: {len(files)} films, max |delta p| = {delta:.3g}, "
              f"identical: {bool(np.array_equal(probs[0], probs[1]))}")
        if card.models.explain == new_path.name:
            explainers = [Explainer(p, card, verify=False) for p in (old_path, new_path)]
            diffs = {"probability": 0.0, "heatmap": 0.0, "embedding": 0.0}
            for img in x:
                e0, e1 = (e.explain(img) for e in explainers)
                diffs["probability"] = max(diffs["probability"],
                                           abs(e0.probability - e1.probability))
                diffs["heatmap"] = max(diffs["heatmap"],
                                       float(np.max(np.abs(e0.heatmap - e1.heatmap))))
                diffs["embedding"] = max(diffs["embedding"],
                                         float(np.max(np.abs(e0.embedding - e1.embedding))))
            worst = max(worst, *diffs.values())
            print("  explain: " + ", ".join(f"max |delta {k}| = {v:.3g}" for k, v in diffs.items()))
    print("IDENTICAL" if worst == 0.0 else f"DIFFERENT (worst {worst:.3g})")
    return 0 if worst == 0.0 else 1


if __name__ == "__main__":
    sys.exit(main())
