"""``pneumo info``: the shipped models, their kinds, thresholds, integrity and
test metrics."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pneumo import __version__
from pneumo.checks.summary import CheckSummary, check_summaries
from pneumo.errors import ModelError
from pneumo.model.card import ModelCard, sha256_file
from pneumo.model.locate import KERAS_FILE


@dataclass(frozen=True)
class ModelInfo:
    """What ``pneumo info`` reports about one shipped model file.

    ``kind`` is ``"int8"`` or ``"float"`` for ``.tflite`` (from the input
    dtype), ``"keras"`` for ``.keras`` and ``"invalid"`` when the file cannot
    be loaded (then ``error`` says why). ``sha256_ok`` is ``None`` when the
    card does not list the file. ``integrity`` is ``"ok"`` when a ``.tflite``
    passes the load-time check (listed, sha256, card binding; see
    :func:`pneumo.model.binding.check_model_file`), else why it would be
    refused; ``None`` for Keras files, which the scan never loads.
    ``checks`` are the card's reliability checks (:mod:`pneumo.checks.summary`),
    which run whichever ``.tflite`` file classifies; none for Keras files.
    """

    path: Path
    kind: str
    size_bytes: int
    sha256: str
    sha256_ok: bool | None
    input_size: int | None
    threshold: float | None
    test_metrics: dict[str, Any] | None
    error: str | None = None
    integrity: str | None = None
    checks: tuple[CheckSummary, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["path"] = str(self.path)
        data["checks"] = [c.to_dict() for c in self.checks]
        return data


def _test_metrics_of(name: str, kind: str, card: ModelCard | None) -> dict[str, Any] | None:
    """This file's own test metrics at its own threshold, when the card has them.

    The training card measured the Keras model; the conversion's parity report
    measured each LiteRT file (the int8 one also at its re-derived threshold).
    """
    if card is None:
        return None
    if name == (card.models.keras or KERAS_FILE) or kind == "keras":
        keras = card.metrics.get("test")
        return None if keras is None else keras.to_dict()
    metrics = card.parity.metrics_of(kind) if card.parity is not None else None
    return None if metrics is None else metrics.to_dict()


def describe_model(path: Path, card: ModelCard | None) -> ModelInfo:
    """Inspect one model file (LiteRT only; Keras files are not loaded)."""
    from pneumo.model.runner import tflite_input_spec

    sha = sha256_file(path)
    expected = card.files.get(path.name) if card is not None else None
    kind, size, error = "keras", card.input_size if card is not None else None, None
    integrity = None
    if path.suffix.lower() == ".tflite":
        integrity = _integrity(path, card)
        try:
            dtype, shape = tflite_input_spec(path)
            kind = "int8" if dtype.kind in "iu" else "float"
            size = shape[1] if len(shape) == 4 else None
        except ModelError as exc:
            kind, size, error = "invalid", None, str(exc)
    test = _test_metrics_of(path.name, kind, card)
    return ModelInfo(
        path=path,
        kind=kind,
        size_bytes=path.stat().st_size,
        sha256=sha,
        sha256_ok=None if expected is None else expected.lower() == sha,
        input_size=size,
        threshold=card.threshold_for(path) if card is not None else None,
        test_metrics=test,
        error=error,
        integrity=integrity,
        checks=check_summaries(card) if card is not None and integrity is not None else (),
    )


def _integrity(path: Path, card: ModelCard | None) -> str:
    from pneumo.model.binding import binding_status

    if card is None:
        return "no model card: refused"
    problem = binding_status(path, path.read_bytes(), card)
    if problem is None:
        return "ok"
    prefix = f"{path}: "
    return problem.removeprefix(prefix)




def info_command(args: argparse.Namespace) -> int:
    """``pneumo info``: the shipped models, their kinds, thresholds and test metrics."""
    import json

    from pneumo.model.card import CARD_FILENAME
    from pneumo.model.locate import HOW_TO_GET_A_MODEL, assets_dir, shipped_models

    folder = assets_dir()
    card_path = folder / CARD_FILENAME
    card = ModelCard.load(card_path) if card_path.is_file() else None
    infos = [describe_model(p, card) for p in shipped_models(folder)]
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], indent=2))
        return _status(infos)
    print(f"pneumo {__version__}; models in {folder}")
    if not infos:
        print(f"  none: {HOW_TO_GET_A_MODEL}")
    for i in infos:
        line = f"  {i.path.name}: {i.kind}, {i.size_bytes / 1e6:.1f} MB"
        if i.input_size:
            line += f", input {i.input_size}x{i.input_size}"
        if i.threshold is not None:
            line += f", threshold {i.threshold:.3f}"
        if i.integrity == "ok":
            line += ", sha256 and card binding ok"
        elif i.integrity is not None:
            line += ", REFUSED"
        else:
            line += {True: ", sha256 ok", False: ", SHA256 MISMATCH", None: ""}[i.sha256_ok]
        print(line)
        if i.integrity not in (None, "ok"):
            print(f"    refused at load: {i.integrity}")
        if i.test_metrics:
            m = i.test_metrics
            print(
                f"    test: accuracy {m['accuracy']:.3f}, AUC {m['auc']:.3f}, "
                f"sensitivity {m['sensitivity']:.3f}, "
                f"specificity {m['specificity']:.3f} (n={m['n']})"
            )
        if i.error:
            print(f"    error: {i.error}")
    checks = next((i.checks for i in infos if i.checks), ())
    if checks:
        print("  reliability checks and calibration (model card; the checks run whichever "
              ".tflite file classifies):")
    for check in checks:
        threshold = "" if check.threshold is None else f": threshold {check.threshold:.3g}"
        print(f"    {check.name}{threshold}")
        print(f"      fitted: {check.fitted}")
        print(f"      validation: {check.validation}")
    return _status(infos)


def _status(infos: list[ModelInfo]) -> int:
    """1 when a LiteRT model would be refused at load, else 0."""
    return 1 if any(i.integrity not in (None, "ok") for i in infos) else 0
