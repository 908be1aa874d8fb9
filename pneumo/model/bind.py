"""Writing card bindings into model files: ``pneumo convert`` and ``pneumo bind``.

:func:`bind_files` embeds each file's :class:`~pneumo.model.binding.CardBinding`
and updates the card's sha256 entries (and the parity report's copy of them).
:func:`bind_folder` is ``pneumo bind``: it binds a model folder written before
bindings existed, but only files whose bytes the card already vouches for
(sha256), and it refuses to re-bind a file whose card was edited since, unless
``force`` (the operator then vouches for the card as it is now).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from pneumo.errors import ModelError, ModelIntegrityError
from pneumo.model.binding import CardBinding, embed_binding, read_binding
from pneumo.model.card import CARD_FILENAME, ModelCard
from pneumo.util.atomic import write_bytes_atomic


def bind_files(folder: Path, card: ModelCard, names: Iterable[str]) -> ModelCard:
    """Bind ``card`` into each named ``.tflite`` of ``folder`` (rewritten atomically);
    return the card with the new sha256 entries (not saved)."""
    files = dict(card.files)
    for name in names:
        path = Path(folder) / name
        content = embed_binding(path.read_bytes(), CardBinding.of(card, name))
        write_bytes_atomic(path, content)
        files[name] = hashlib.sha256(content).hexdigest()
    return _with_files(card, files, folder)


def _with_files(card: ModelCard, files: dict[str, str], folder: Path) -> ModelCard:
    parity = card.parity
    listed = dict(parity.details.get("files") or {}) if parity is not None else {}
    if parity is not None and listed:
        for name in listed:
            if name in files:
                listed[name] = {**dict(listed[name]), "sha256": files[name],
                                "bytes": (Path(folder) / name).stat().st_size}
        parity = replace(parity, details={**dict(parity.details), "files": listed})
    return card.with_updates(files=files, parity=parity)


def bind_folder(folder: Path, *, force: bool = False) -> list[str]:
    """Bind every ``.tflite`` its card lists in ``folder``; return one line per file.

    Raises :class:`ModelIntegrityError` (nothing written) when a listed file's
    sha256 does not match the card, or when a file's binding differs from the
    card and ``force`` is false.
    """
    folder = Path(folder)
    card = ModelCard.load(folder / CARD_FILENAME)
    names = sorted(n for n in card.files if n.lower().endswith(".tflite"))
    if not names:
        raise ModelError(f"{folder / CARD_FILENAME}: lists no .tflite model file to bind")
    todo: list[str] = []
    report: list[str] = []
    for name in names:
        path = folder / name
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"{path}: cannot read model ({exc.strerror or exc})") from None
        if hashlib.sha256(content).hexdigest() != card.files[name].lower():
            raise ModelIntegrityError(
                f"{path}: sha256 does not match its model card; bind only vouches for files "
                "the card already vouches for (restore the file or re-convert)")
        bound = read_binding(content, path)
        changed = [] if bound is None else bound.differences(CardBinding.of(card, name))
        if bound is not None and not changed:
            report.append(f"{name}: already bound")
            continue
        if changed and not force:
            raise ModelIntegrityError(
                f"{path}: model card edited since the model was bound to it: "
                + "; ".join(changed) + " (restore the card, or accept it with --force)")
        todo.append(name)
        report.append(f"{name}: bound" + (" (card changes accepted)" if changed else ""))
    for path in sorted(folder.glob("*.tflite")):
        if path.name not in card.files:
            report.append(f"{path.name}: not listed in the card: not bound, it will be refused")
    if todo:
        bind_files(folder, card, todo).save(folder / CARD_FILENAME)
    return report
