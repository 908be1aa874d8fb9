"""Binding the decision-relevant model card fields to each model file.

The card's sha256 entries vouch for the model files, but nothing vouched for
the card: swapping its labels or editing a threshold changed every result
silently. So each ``.tflite`` file carries, in its own metadata table (the
TFLite flatbuffer's ``metadata``, entry :data:`BINDING_NAME`), the fields of
the card that decide a result for that file, as canonical JSON
(:class:`CardBinding`): the labels, the file's decision threshold, the
preprocessing and the model roles (which file classifies, which explains).
Since the card's sha256 covers those bytes, the card cannot be edited without
the edit being named at load (:func:`check_model_file`).

This is a consistency check against editing and mix-ups, not a signature:
whoever may write both files can rewrite both.

Metadata is written (:func:`embed_binding`) by ``pneumo convert`` and
``pneumo bind``, through the flatbuffer object API with every weight buffer
16-byte aligned as the schema asks; operators, tensors and weights are
copied unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pneumo.errors import ModelError, ModelIntegrityError

if TYPE_CHECKING:
    from pneumo.model.card import ModelCard

BINDING_NAME = "pneumoscan.card_binding"
BINDING_VERSION = 1
_ALIGN = 16
_HOW_TO_BIND = "pneumo bind {folder}"


@dataclass(frozen=True)
class CardBinding:
    """The card fields that decide a result of one model file."""

    file: str
    labels: tuple[str, str]
    threshold: float
    preprocessing: Mapping[str, Any]
    models: Mapping[str, str | None]

    @classmethod
    def of(cls, card: ModelCard, file_name: str) -> CardBinding:
        """What ``card`` says about the file named ``file_name``."""
        return cls(
            file=file_name,
            labels=card.labels,
            threshold=card.threshold_for(file_name),
            preprocessing=card.preprocessing.to_dict(),
            models={"classify": card.models.classify, "explain": card.models.explain},
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (with the binding format's version)."""
        return {"version": BINDING_VERSION, "file": self.file, "labels": list(self.labels),
                "threshold": self.threshold, "preprocessing": dict(self.preprocessing),
                "models": dict(self.models)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CardBinding:
        """Inverse of :meth:`to_dict`."""
        labels = tuple(str(x) for x in data["labels"])
        if len(labels) != 2:
            raise ValueError("labels must name two classes")
        return cls(file=str(data["file"]), labels=(labels[0], labels[1]),
                   threshold=float(data["threshold"]),
                   preprocessing=dict(data["preprocessing"]), models=dict(data["models"]))

    def encode(self) -> bytes:
        """Canonical JSON bytes (sorted keys, no spaces)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    @property
    def digest(self) -> str:
        """sha256 of :meth:`encode`, for display."""
        return hashlib.sha256(self.encode()).hexdigest()

    def differences(self, card_says: CardBinding) -> list[str]:
        """What ``card_says`` changed against this binding, one phrase per field."""
        out: list[str] = []
        for name, bound, now in (
            ("labels", list(self.labels), list(card_says.labels)),
            ("threshold", self.threshold, card_says.threshold),
            ("preprocessing", dict(self.preprocessing), dict(card_says.preprocessing)),
            ("model roles", dict(self.models), dict(card_says.models)),
            ("file name", self.file, card_says.file),
        ):
            if bound != now:
                out.append(f"{name} (bound: {_show(bound)}, card now: {_show(now)})")
        return out


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, float) else json.dumps(value, sort_keys=True)


# -- reading -----------------------------------------------------------------------
def read_binding(content: bytes, path: Path | None = None) -> CardBinding | None:
    """The binding stored in a ``.tflite`` file's metadata, ``None`` when absent.

    Raises :class:`ModelError` for bytes that are not a TFLite flatbuffer or
    a binding that cannot be read.
    """
    raw = read_metadata(content, path).get(BINDING_NAME)
    if raw is None:
        return None
    try:
        return CardBinding.from_dict(json.loads(raw.rstrip(b"\0").decode("utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelIntegrityError(f"{path or 'model'}: unreadable card binding ({exc})") from None


def read_metadata(content: bytes, path: Path | None = None) -> dict[str, bytes]:
    """name -> bytes of every metadata entry of a TFLite flatbuffer."""
    from ai_edge_litert import schema_py_generated as schema

    where = path or "model"
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise ModelError(f"{where}: not a LiteRT model (no TFL3 identifier)")
    try:
        model = schema.Model.GetRootAs(content, 0)
        out: dict[str, bytes] = {}
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            buffer = model.Buffers(entry.Buffer())
            name = (entry.Name() or b"").decode("utf-8", "replace")
            if buffer.Offset():  # stored after the flatbuffer (models over 2 GB)
                out[name] = bytes(content[buffer.Offset(): buffer.Offset() + buffer.Size()])
            else:
                out[name] = buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b""
        return out
    except Exception as exc:  # noqa: BLE001 - a damaged flatbuffer raises anything
        raise ModelError(f"{where}: unreadable model metadata ({type(exc).__name__})") from None


# -- checking ----------------------------------------------------------------------
def check_model_file(path: Path, content: bytes, card: ModelCard) -> None:
    """Refuse a model file the card does not vouch for, or a card edited since binding.

    In order: the card must list the file; the file's sha256 must match;
    the file must carry a binding; the binding must equal what the card says
    now. Each refusal is a :class:`ModelIntegrityError` naming the file and,
    for an edited card, the fields that changed.
    """
    expected = card.files.get(path.name)
    if expected is None:
        raise ModelIntegrityError(
            f"{path}: not listed in its model card's files, so nothing vouches for it; "
            "refusing to load it")
    if hashlib.sha256(content).hexdigest() != expected.lower():
        raise ModelIntegrityError(
            f"{path}: sha256 does not match its model card; the file was changed or corrupted")
    bound = read_binding(content, path)
    if bound is None:
        raise ModelIntegrityError(
            f"{path}: carries no card binding (converted before PneumoScan bound cards to "
            f"models); after checking its card, run `{_HOW_TO_BIND.format(folder=path.parent)}`")
    changed = bound.differences(CardBinding.of(card, path.name))
    if changed:
        raise ModelIntegrityError(
            f"{path}: model card edited since the model was bound to it: " + "; ".join(changed))


def binding_status(path: Path, content: bytes, card: ModelCard) -> str | None:
    """``None`` when :func:`check_model_file` passes, else its message."""
    try:
        check_model_file(path, content, card)
    except ModelError as exc:
        return str(exc)
    return None


# -- writing -----------------------------------------------------------------------
def embed_binding(content: bytes, binding: CardBinding) -> bytes:
    """``content`` with :data:`BINDING_NAME` metadata set to ``binding`` (replaced
    if present). Everything else of the model is copied unchanged."""
    return embed_metadata(content, BINDING_NAME, binding.encode())


def embed_metadata(content: bytes, name: str, payload: bytes) -> bytes:
    """``content`` with the metadata entry ``name`` set to ``payload``."""
    import flatbuffers
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(content, 0))
    for buffer in model.buffers or []:
        if buffer.offset:
            raise ModelError("models with buffers stored after the flatbuffer (over 2 GB) "
                             "cannot be bound")
    data = np.frombuffer(payload, dtype=np.uint8)
    entry = next((m for m in model.metadata or [] if _name(m.name) == name), None)
    if entry is not None:
        model.buffers[entry.buffer].data = data
    else:
        model.buffers.append(schema.BufferT(data=data))
        model.metadata = [*(model.metadata or []),
                          schema.MetadataT(name=name, buffer=len(model.buffers) - 1)]
    aligned = _aligned_buffer_class()
    for buffer in model.buffers:
        buffer.__class__ = aligned
    builder = flatbuffers.Builder(len(content) + len(payload) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _name(value: str | bytes | None) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


def _aligned_bytes(builder: Any, data: Any) -> int:
    """A ``[ubyte]`` vector whose first byte is :data:`_ALIGN`-byte aligned."""
    import numpy as np

    raw = np.asarray(data, dtype=np.uint8).tobytes()
    builder.StartVector(1, len(raw), _ALIGN)
    builder.head = builder.head - len(raw)
    builder.Bytes[builder.head: builder.head + len(raw)] = raw
    builder.vectorNumElems = len(raw)
    return int(builder.EndVector())


def _buffer_pack(self: Any, builder: Any) -> int:
    from ai_edge_litert import schema_py_generated as schema

    data = None if self.data is None else _aligned_bytes(builder, self.data)
    schema.BufferStart(builder)
    if data is not None:
        schema.BufferAddData(builder, data)
    schema.BufferAddOffset(builder, self.offset)
    schema.BufferAddSize(builder, self.size)
    return int(schema.BufferEnd(builder))


@functools.cache
def _aligned_buffer_class() -> type:
    """BufferT packing its data 16-byte aligned (the schema's ``force_align``,
    which the generated Python code ignores)."""
    from ai_edge_litert import schema_py_generated as schema

    return type("_AlignedBufferT", (schema.BufferT,), {"Pack": _buffer_pack})
