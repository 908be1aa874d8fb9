"""Numpy arrays in JSON: base64 little-endian float32 with their shape (one line each)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import numpy as np


def encode_floats(arr: np.ndarray) -> dict[str, Any]:
    """``{"shape": [...], "float32_base64": "..."}`` (float32 precision, which is plenty)."""
    a = np.ascontiguousarray(arr, dtype="<f4")
    return {"shape": list(a.shape), "float32_base64": base64.b64encode(a.tobytes()).decode()}


def decode_floats(entry: Mapping[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode_floats`, as float64; malformed entries raise
    ``KeyError``, ``ValueError`` or ``TypeError``."""
    raw = base64.b64decode(str(entry["float32_base64"]), validate=True)
    shape = tuple(int(n) for n in entry["shape"])
    return np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float64)
