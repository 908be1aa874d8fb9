"""The card's reliability checks as ``pneumo info`` (plain and JSON) and the app's Model
information dialog show them: thresholds, what each was fitted on, validation rates."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pneumo.checks.population import PopulationModel, fit_logistic
from pneumo.checks.summary import check_summaries
from pneumo.cli import main
from pneumo.model.calibration import calibration_report
from pneumo.model.card import CARD_FILENAME, ModelCard
from pneumo.model.ood import fit_ood


def _with_checks(card: ModelCard) -> ModelCard:
    """``card`` with an OOD model, a population check and a calibration report, their
    provenance written as ``fit-ood`` and ``fit-population`` write it."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((400, 8)), rng.integers(0, 2, 400)
    ood = replace(fit_ood(x, y, x[:100], rank=4),
                  fitted_on={"train": 200, "variants": 2, "validation": 100, "data": "kids/"},
                  measured={"validation_films": 100, "validation_pass_rate": 0.99,
                            "validation_variants": 200, "validation_variants_pass_rate": 0.955,
                            "test_images": 50, "test_pass_rate": 0.98})
    mean, scale, weights, bias = fit_logistic(np.vstack([x, x + 2]), np.r_[np.zeros(400),
                                                                             np.ones(400)])
    population = PopulationModel(
        mean, scale, weights, bias, threshold=0.625,
        fitted_on={"inside": "kids/", "outside": "adults/", "inside_films": 200,
                   "outside_films": 70, "variants": {"inside": 2, "outside": 6},
                   "pass_rate": 0.99},
        measured={"inside_validation": {"films": 100, "flagged": 0.011, "variants": 200,
                                        "variants_flagged": 0.028},
                  "outside_validation": {"films": 30, "flagged": 0.9}})
    p = rng.random(300)
    labels = (rng.random(300) < p).astype(int)
    calibration = calibration_report(labels, p, labels[:100], p[:100], model="model.tflite")
    return card.with_updates(ood=ood, population=population, calibration=calibration)


def _card(float_model: Path) -> ModelCard:
    return ModelCard.load(float_model.parent / CARD_FILENAME)


def test_summaries_state_thresholds_fitting_and_validation_rates(float_model: Path) -> None:
    card = _with_checks(_card(float_model))
    ood, population, calibration = check_summaries(card)
    assert card.ood is not None and card.population is not None
    assert ood.threshold == pytest.approx(card.ood.threshold)
    assert "200 training-side films (each also as 2 random variants) of kids/" in ood.fitted
    assert "0.99 quantile of the 100 validation films' distances" in ood.fitted
    assert ood.validation == ("99.0 % of 100 validation films pass; 95.5 % of their 200 random "
                              "variants; test: 98.0 % of 50 films (measured only)")
    assert ood.rates["validation_variants_pass_rate"] == 0.955
    assert population.threshold == 0.625
    assert "inside: 200 films of kids/ (2 variants each)" in population.fitted
    assert "outside: 70 films of adults/ (6 variants each)" in population.fitted
    assert population.validation == ("1.1 % of 100 inside validation films flagged (2.8 % of "
                                     "200 variants); 90.0 % of 30 outside validation films "
                                     "flagged")
    assert population.rates["outside_validation_flagged"] == 0.9
    assert calibration.threshold is None and "recorded, not applied" in calibration.fitted
    assert calibration.validation.startswith(
        f"ECE {card.calibration.ece_validation:.3f} on validation, ")  # type: ignore[union-attr]
    assert check_summaries(card.with_updates(ood=None, population=None, calibration=None)) == ()


def test_an_older_ood_entry_without_validation_figures_still_reads(float_model: Path) -> None:
    card = _with_checks(_card(float_model))
    assert card.ood is not None
    older = card.with_updates(ood=replace(card.ood, fitted_on={"train": 30}, measured=None),
                              population=None, calibration=None)
    (ood,) = check_summaries(older)
    assert "(no variants)" in ood.fitted
    assert ood.validation == "99.0 % of validation films pass (by construction)"


@pytest.fixture()
def assets_with_checks(float_model: Path, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> ModelCard:
    """A copy of the tiny model folder whose card has the checks; ``$PNEUMO_ASSETS`` on it."""
    folder = tmp_path / "assets"
    shutil.copytree(float_model.parent, folder)
    card = _with_checks(_card(float_model))
    card.save(folder / CARD_FILENAME)
    monkeypatch.setenv("PNEUMO_ASSETS", str(folder))
    return card


def test_info_prints_the_checks(assets_with_checks: ModelCard,
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0  # the checks are not bound: the models stay verifiable
    out = capsys.readouterr().out
    assert "sha256 and card binding ok" in out
    assert out.count("reliability checks and calibration") == 1
    threshold = assets_with_checks.ood.threshold  # type: ignore[union-attr]
    assert f"out-of-distribution score: threshold {threshold:.3g}\n" in out
    assert "population check: threshold 0.625\n" in out
    assert "validation: 99.0 % of 100 validation films pass; 95.5 % of their 200" in out
    assert "validation: 1.1 % of 100 inside validation films flagged" in out
    assert "calibration\n      fitted: model.tflite, 15 bins" in out


def test_info_json_gives_each_tflite_model_the_checks(assets_with_checks: ModelCard,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    assert main(["info", "--json"]) == 0
    infos = {Path(i["path"]).name: i for i in json.loads(capsys.readouterr().out)}
    checks = infos["model.tflite"]["checks"]
    assert [c["name"] for c in checks] == ["out-of-distribution score", "population check",
                                           "calibration"]
    assert checks[0]["threshold"] == pytest.approx(
        assets_with_checks.ood.threshold)  # type: ignore[union-attr]
    assert checks[0]["rates"]["test_pass_rate"] == 0.98
    assert checks[1]["rates"]["inside_validation_flagged"] == 0.011
    assert checks[2]["threshold"] is None and checks[2]["rates"]["ece_test"] >= 0
    assert infos["model.keras"]["checks"] == []


def test_info_without_checks_prints_none(float_model: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PNEUMO_ASSETS", str(float_model.parent))
    assert main(["info"]) == 0
    assert "reliability checks" not in capsys.readouterr().out
    assert main(["info", "--json"]) == 0
    assert all(i["checks"] == [] for i in json.loads(capsys.readouterr().out))


def test_model_information_dialog_lists_the_checks(float_model: Path) -> None:
    pytest.importorskip("PySide6")
    from desktop.model_info import model_info_html

    card = _with_checks(_card(float_model))
    page = model_info_html(card, float_model)
    assert "<h4>Reliability checks</h4>" in page
    table = page[page.index("<h4>Reliability checks</h4>"):page.index("<h4>Files")]
    assert table.count("<tr>") == 4  # header, OOD, population, calibration
    assert f"<td>out-of-distribution score</td><td>{card.ood.threshold:.3g}</td>" in table  # type: ignore[union-attr]
    assert "<td>population check</td><td>0.625</td>" in table
    assert "95.5 % of their 200 random variants" in table
    assert "90.0 % of 30 outside validation films flagged" in table
    assert "<td>calibration</td><td>none (changes no result)</td>" in table
    plain = model_info_html(_card(float_model), float_model)
    assert "Reliability checks" not in plain
