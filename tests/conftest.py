"""Shared fixtures: where the real data is, and Qt set up to run headless."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "chest_xray"


def data_root() -> Path:
    """The Kermany data set: $PNEUMO_DATA, else ../shared/data/chest_xray."""
    return Path(os.environ.get("PNEUMO_DATA", str(DEFAULT_DATA)))


@pytest.fixture(scope="session")
def chest_xray_dir() -> Path:
    """The real data set root (train/val/test); skips when absent."""
    root = data_root()
    if not (root / "test" / "NORMAL").is_dir():
        pytest.skip(f"real chest X-ray data not found at {root} (set PNEUMO_DATA)")
    return root


@pytest.fixture(scope="session")
def real_test_films(chest_xray_dir: Path) -> list[Path]:
    """A few real test films, both classes, in a fixed order."""
    normal = sorted((chest_xray_dir / "test" / "NORMAL").glob("*.jpeg"))[:3]
    pneumonia = sorted((chest_xray_dir / "test" / "PNEUMONIA").glob("*.jpeg"))[:3]
    return normal + pneumonia
