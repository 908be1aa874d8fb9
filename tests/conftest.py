"""Shared fixtures: where the real data is, Qt set up to run headless, tiny models.

The tiny models are built once per pytest session (in its base temp folder)
and shared by every module that asks for them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.tinymodel import SampleFolder

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "chest_xray"
DEFAULT_NIH_DATA = REPO_ROOT.parent / "shared" / "data" / "nih_cxr8_sample"


def data_root() -> Path:
    """The Kermany data set: $PNEUMO_DATA, else ../shared/data/chest_xray."""
    return Path(os.environ.get("PNEUMO_DATA", str(DEFAULT_DATA)))


@pytest.fixture(autouse=True)
def _private_results_store(tmp_path_factory: pytest.TempPathFactory,
                           monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test (and any process it starts) gets its own results store in a
    temporary folder: no test reads or writes the user's real store."""
    path = tmp_path_factory.mktemp("results_store") / "results.sqlite3"
    monkeypatch.setenv("PNEUMO_STORE", str(path))
    return path


@pytest.fixture(scope="session")
def chest_xray_dir() -> Path:
    """The real data set root (train/val/test); skips when absent."""
    root = data_root()
    if not (root / "test" / "NORMAL").is_dir():
        pytest.skip(f"real chest X-ray data not found at {root} (set PNEUMO_DATA)")
    return root


@pytest.fixture(scope="session")
def nih_dir() -> Path:
    """The NIH ChestX-ray8 adult sample (train/ and test/ split by patient):
    $PNEUMO_NIH_DATA, else ../shared/data/nih_cxr8_sample; skips when absent."""
    root = Path(os.environ.get("PNEUMO_NIH_DATA", str(DEFAULT_NIH_DATA)))
    if not (root / "test" / "NORMAL").is_dir():
        pytest.skip(f"NIH adult sample not found at {root} (set PNEUMO_NIH_DATA)")
    return root


@pytest.fixture(scope="session")
def real_test_films(chest_xray_dir: Path) -> list[Path]:
    """A few real test films, both classes, in a fixed order."""
    normal = sorted((chest_xray_dir / "test" / "NORMAL").glob("*.jpeg"))[:3]
    pneumonia = sorted((chest_xray_dir / "test" / "PNEUMONIA").glob("*.jpeg"))[:3]
    return normal + pneumonia


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated Kermany-layout data set (PNG films, both classes)."""
    from tests.synthdata import write_dataset

    return write_dataset(tmp_path_factory.mktemp("synthetic_xray"))


@pytest.fixture(scope="session")
def tiny_run(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory from really training the default architecture, tiny.

    Input 64 px, a few epochs on the synthetic set: model.keras, model_card.json,
    history and plots, exactly as ``pneumo train`` writes them.
    """
    pytest.importorskip("tensorflow")
    from train.fit import TrainConfig, train

    run_dir = tmp_path_factory.mktemp("tiny_run")
    train(synthetic_dataset, run_dir, TrainConfig(input_size=64, epochs=4, batch_size=16,
                                                  learning_rate=3e-3, warmup_epochs=0))
    return run_dir


@pytest.fixture(scope="session")
def float_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny float LiteRT classifier (64 px) with its card and Keras model beside it."""
    from tests.tinymodel import cached_tiny_tflite

    return cached_tiny_tflite(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def int8_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tiny classifier, int8-quantised."""
    from tests.tinymodel import cached_tiny_tflite

    return cached_tiny_tflite(tmp_path_factory.getbasetemp(), int8=True)


@pytest.fixture(scope="session")
def scan_folder(tmp_path_factory: pytest.TempPathFactory) -> SampleFolder:
    """A folder of good and bad inputs (see :func:`tests.tinymodel.make_scan_folder`)."""
    from tests.tinymodel import make_scan_folder

    return make_scan_folder(tmp_path_factory.mktemp("scan_inputs"))


@pytest.fixture(scope="session")
def explainable_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny int8 classifier with a float explain model and a Keras model beside it."""
    pytest.importorskip("tensorflow")
    from tests.test_desktop_support import cached_model

    return cached_model(tmp_path_factory.getbasetemp())
