"""The typed model card: every section round-trips, and earlier formats load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pneumo.errors import ModelError
from pneumo.model.card import CARD_FILENAME, CARD_FORMAT_VERSION, ModelCard
from pneumo.model.card_sections import SplitSpec, TrainingRecord

DATA = Path(__file__).parent / "data"
FORMAT1 = DATA / "model_card_format1.json"
ASSETS = Path(__file__).resolve().parents[1] / "assets"


def test_the_card_shipped_before_format_2_loads_with_every_section_typed() -> None:
    card = ModelCard.load(FORMAT1)
    raw = json.loads(FORMAT1.read_text())
    assert "format_version" not in raw and "ood" in raw["extra"]
    assert card.split == SplitSpec(val_fraction=0.15, split_seed=0, sampling_seed=0)
    assert card.training.min_sensitivity == 0.95
    assert card.training.best_validation_auc == raw["training"][
        "best_validation_auc_during_training"]
    assert card.models.classify == "model.tflite" and card.models.explain == "model_float.tflite"
    assert card.models.keras == raw["extra"]["keras_model"]
    assert card.thresholds == raw["extra"]["thresholds"]
    assert card.threshold_for("model.tflite") == raw["extra"]["thresholds"]["model.tflite"]
    assert card.int8_threshold is not None and card.int8_threshold.rederived
    assert card.parity is not None and card.parity.gate.passed
    int8 = card.parity.metrics_of("int8")
    assert int8 is not None and int8.accuracy == pytest.approx(
        raw["extra"]["parity"]["tflite_int8_at_rederived_threshold"]["accuracy"])
    assert card.ood is not None and card.ood.threshold == raw["extra"]["ood"]["threshold"]
    assert card.calibration is not None and card.calibration.ece_test == pytest.approx(
        raw["extra"]["calibration"]["ece_test"])
    assert card.extra == {}  # every format-1 key found its section


def test_a_card_written_now_round_trips_unchanged(tmp_path: Path) -> None:
    card = ModelCard.load(FORMAT1)
    card.save(tmp_path / CARD_FILENAME)
    text = (tmp_path / CARD_FILENAME).read_text()
    assert json.loads(text)["format_version"] == CARD_FORMAT_VERSION
    again = ModelCard.load(tmp_path / CARD_FILENAME)
    assert again == card
    again.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == text


def test_the_shipped_card_is_the_current_format() -> None:
    raw = json.loads((ASSETS / CARD_FILENAME).read_text())
    assert raw["format_version"] == CARD_FORMAT_VERSION
    assert ModelCard.from_dict(raw).to_dict() == raw


def test_unknown_keys_are_kept(tmp_path: Path) -> None:
    card = ModelCard.load(FORMAT1)
    raw = card.to_dict()
    raw["extra"] = {"site_note": "kept"}
    assert ModelCard.from_dict(raw).extra == {"site_note": "kept"}
    assert ModelCard.from_dict(raw).to_dict() == raw


def test_a_newer_format_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    raw = ModelCard.load(FORMAT1).to_dict()
    raw["format_version"] = CARD_FORMAT_VERSION + 1
    (tmp_path / CARD_FILENAME).write_text(json.dumps(raw))
    with pytest.raises(ModelError, match="newer than this PneumoScan reads"):
        ModelCard.load(tmp_path / CARD_FILENAME)


def test_split_of_a_format1_run_without_split_seed_uses_its_seed() -> None:
    record = TrainingRecord.from_dict({"config": {"seed": 3, "val_fraction": 0.2}})
    assert record.split == SplitSpec(val_fraction=0.2, split_seed=3, sampling_seed=3)
    assert TrainingRecord.from_dict(record.to_dict()) == record
