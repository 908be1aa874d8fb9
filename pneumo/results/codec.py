"""A :class:`ScanRecord` to JSON and back, every field, for the result store.

The exports (:mod:`pneumo.results.export`) write chosen columns for people;
this writes the whole record so that a result answered from the store is the
record the scan made. It follows the record's own type hints, so a field
added to :class:`ScanRecord` (a string, number, flag, path, tuple or a nested
frozen dataclass) needs no change here. Unknown keys in stored JSON (from a
newer version) are ignored; fields missing from it take their defaults.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import json
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any

from pneumo.results.records import ScanRecord

__all__ = ["record_from_json", "record_to_json"]


def record_to_json(record: ScanRecord) -> str:
    """Every field of ``record`` as compact JSON (identifiers included)."""
    # ASCII JSON: a lone surrogate (a file name or DICOM text that was not UTF-8)
    # round-trips as \udcXX, where UTF-8 text could not hold it.
    return json.dumps(_plain(record), separators=(",", ":"), sort_keys=True)


def record_from_json(text: str) -> ScanRecord:
    """The :class:`ScanRecord` that :func:`record_to_json` wrote."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise TypeError("stored record is not a JSON object")
    value = _build(ScanRecord, data)
    assert isinstance(value, ScanRecord)
    return value


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: type, data: dict[str, Any]) -> Any:
    hints = _hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    """``value`` (plain JSON) as the type ``hint`` describes."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        for option in options:
            try:
                return _convert(option, value)
            except (TypeError, ValueError):
                continue
        return value
    if origin is tuple:
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(_convert(item, v) for v in value)
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return [_convert(item, v) for v in value]
    if origin in (dict, collections.abc.Mapping) or hint is dict:
        return dict(value)
    if isinstance(hint, type):
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise TypeError(f"expected an object for {hint.__name__}")
            return _build(hint, value)
        if issubclass(hint, Path):
            return Path(value)
        if isinstance(hint, enum.EnumMeta):
            return hint(value)
        if hint is float and isinstance(value, (int, float)):
            return float(value)
        if hint in (str, int, bool) and not isinstance(value, hint):
            raise TypeError(f"expected {hint.__name__}, got {type(value).__name__}")
    return value
