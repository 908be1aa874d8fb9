"""Running Python in a fresh interpreter against this checkout."""

from __future__ import annotations

import json
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


def assert_scan_matches_the_checkout(done: subprocess.CompletedProcess[str]) -> None:
    """``done`` (an installed ``pneumo scan SAMPLES --json -``) gave, film by film,
    the label and probability that this checkout's shipped models give."""
    import pytest

    assert done.returncode == 0, done.stderr
    ours = {Path(r["path"]).name: r for r in json.loads(done.stdout)}
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("PNEUMO_ASSETS", None)
    env.pop("PNEUMO_MODEL", None)
    checkout = subprocess.run([sys.executable, "-m", "pneumo", "scan", "assets/samples",
                               "--json", "-"], capture_output=True, text=True, check=True,
                              cwd=REPO_ROOT, env=env)
    theirs = {Path(r["path"]).name: r for r in json.loads(checkout.stdout)}
    assert set(ours) == set(theirs) and len(ours) >= 4
    for name, record in theirs.items():
        assert ours[name]["label"] == record["label"], name
        assert ours[name]["probability"] == pytest.approx(record["probability"], abs=1e-6)
