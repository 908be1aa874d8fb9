"""Running Python in a fresh interpreter against this checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_python(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in the repository root with this checkout first on the
    path; never raises on a non-zero exit (the caller asserts on it)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, *args], check=False, capture_output=True, text=True,
                          cwd=REPO_ROOT, env=env, timeout=timeout)
