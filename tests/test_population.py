"""The population check: its maths, its card section, ``pneumo fit-population``,
the scan's age and image rules, and (with the data) its rates on held-out NIH
adults and Kermany test children, as they are and transformed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pneumo.checks.findings import Rule
from pneumo.checks.population import PopulationModel, fit_logistic
from pneumo.checks.population_fit import Features, FitPlan, fit_population, flag_rates
from pneumo.cli import main
from pneumo.data.augment import TRANSFORMS, random_variant
from pneumo.data.dataset import list_examples, patient_id
from pneumo.errors import ModelError
from pneumo.model.card import CARD_FILENAME, ModelCard, sha256_file
from pneumo.model.locate import assets_dir
from pneumo.model.runner import ModelRunner
from pneumo.scanning.pipeline import scan
from tests import synth

ASSETS = assets_dir()
_MODEL_FILES = ("model.tflite", "model_float.tflite", CARD_FILENAME)


# -- maths and storage --------------------------------------------------------------------
def _clouds(n: int, shift: float, seed: int, d: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) * np.linspace(0.5, 3.0, d) + shift


def test_logistic_fit_separates_and_balances_the_classes() -> None:
    inside, outside = _clouds(2000, 0.0, 0), _clouds(100, 2.0, 1)  # 20 to 1
    mean, scale, weights, bias = fit_logistic(np.vstack([inside, outside]),
                                              np.r_[np.zeros(2000), np.ones(100)], l2=1.0)
    model = PopulationModel(mean, scale, weights, bias, threshold=0.5)
    fresh_in, fresh_out = model.scores(_clouds(2000, 0.0, 2)), model.scores(_clouds(2000, 2.0, 3))
    # balanced: the rare class is not sacrificed, both sides land on their side of 0.5
    assert np.mean(fresh_in < 0.5) > 0.9 and np.mean(fresh_out > 0.5) > 0.9
    assert ((fresh_in >= 0) & (fresh_in <= 1)).all()
    with pytest.raises(ValueError):
        fit_logistic(inside, np.zeros(len(inside)))


def test_threshold_comes_from_the_inside_validation_originals() -> None:
    def feats(shift: float, seed: int) -> Features:
        return Features(_clouds(600, shift, seed), np.tile([0, 1, 2], 200))

    plan = FitPlan(pass_rate=0.95)
    inside_val = feats(0.0, 12)
    model = fit_population(feats(0.0, 10), feats(1.5, 11), inside_val, plan)
    assert np.mean(model.scores(inside_val.originals) > model.threshold) == pytest.approx(
        0.05, abs=0.01)
    rates = flag_rates(model, feats(1.5, 13))
    assert rates["films"] == 200 and rates["variants"] == 400 and rates["flagged"] > 0.5


def test_card_section_round_trips_and_rejects_malformed_entries() -> None:
    mean, scale, weights, bias = fit_logistic(np.vstack([_clouds(50, 0, 0), _clouds(50, 3, 1)]),
                                              np.r_[np.zeros(50), np.ones(50)])
    model = PopulationModel(mean, scale, weights, bias, threshold=0.6,
                            fitted_on={"inside": "k"}, measured={"x": {"flagged": 0.9}})
    again = PopulationModel.from_dict(model.to_dict())
    assert again == model and again.features == "embedding"
    x = _clouds(5, 1.0, 9)
    np.testing.assert_allclose(again.scores(x), model.scores(x), atol=1e-5)
    for broken in ({**model.to_dict(), "kind": "other"}, {**model.to_dict(), "threshold": 2.0},
                   {k: v for k, v in model.to_dict().items() if k != "weights"}):
        with pytest.raises(ModelError):
            PopulationModel.from_dict(broken)


def test_thumbnail_features_need_the_model_input() -> None:
    model = PopulationModel(np.zeros(12 + 16), np.ones(12 + 16), np.ones(12 + 16), 0.0, 0.5,
                            thumbnail=4)
    assert model.features == "embedding+thumbnail"
    image = np.zeros((32, 32, 1), np.float32)
    assert 0.0 <= model.score(np.zeros(12), image) <= 1.0
    with pytest.raises(ValueError):
        model.score(np.zeros(12))


def test_transforms_keep_films_in_range_and_leave_the_input_alone() -> None:
    film = (synth.film((300, 240)) / 255.0).astype(np.float32)
    before = film.copy()
    rng = np.random.default_rng(0)
    for name, transform in TRANSFORMS.items():
        out = transform(film, rng)
        assert out.dtype == np.float32 and out.ndim == 2, name
        assert 0.0 <= out.min() and out.max() <= 1.0, name
        assert not np.array_equal(out, film) or name == "crop", name
    assert random_variant(film, rng).ndim == 2
    np.testing.assert_array_equal(film, before)


def test_nih_file_names_give_patients() -> None:
    assert patient_id("00001280_004.jpeg") == "00001280"
    assert patient_id("person12_bacteria_40.jpeg") == "person12"
    assert patient_id("IM-0115-0001.jpeg") == "IM-0115"


# -- pneumo fit-population on a copy of the shipped models --------------------------------
def _flipped_dataset(source: Path, out: Path) -> Path:
    """Another 'population': the synthetic films upside down and darker."""
    for path in source.rglob("*.png"):
        target = out / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        arr = np.asarray(Image.open(path))
        Image.fromarray((np.flipud(arr) * 0.6).astype(np.uint8)).save(target)
    return out


@pytest.fixture(scope="module")
def population_copy(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped models with a population check fitted on synthetic data."""
    if not all((ASSETS / name).is_file() for name in _MODEL_FILES):
        pytest.skip("shipped models not found in assets/")
    out = tmp_path_factory.mktemp("population")
    for name in _MODEL_FILES:
        shutil.copy2(ASSETS / name, out / name)
    outside = _flipped_dataset(synthetic_dataset, tmp_path_factory.mktemp("outside"))
    assert main(["fit-population", str(out), "--data", str(synthetic_dataset),
                 "--outside", str(outside)]) == 0
    return out


def test_fit_population_writes_the_card_and_keeps_the_models_verifiable(
        population_copy: Path) -> None:
    card = ModelCard.load(population_copy / CARD_FILENAME)
    original = ModelCard.load(ASSETS / CARD_FILENAME)
    model = card.population
    assert model is not None and 0.0 <= model.threshold <= 1.0
    assert model.fitted_on["inside_films"] > 0 and model.fitted_on["outside_films"] > 0
    assert model.measured["outside_validation"]["flagged"] >= 0.5
    assert card.files == original.files
    for name in ("model.tflite", "model_float.tflite"):
        assert sha256_file(population_copy / name) == card.files[name]
    assert card.with_updates(population=None) == original.with_updates(population=None)


def test_scan_carries_population_scores(population_copy: Path, synthetic_dataset: Path,
                                        tmp_path: Path) -> None:
    outside = _flipped_dataset(synthetic_dataset / "test", tmp_path / "outside")
    runner = ModelRunner(population_copy / "model.tflite")
    inside = list(scan([synthetic_dataset / "test"], runner))
    others = list(scan([outside], runner))
    card = runner.card
    assert card.population is not None
    for record in inside + others:
        assert record.checks.population_score is not None
        assert record.checks.population_threshold == pytest.approx(card.population.threshold)
    assert sum(r.checks.fired(Rule.POPULATION) for r in others) > len(others) // 2
    assert sum(r.checks.fired(Rule.POPULATION) for r in inside) < len(inside) // 2


def test_fit_population_fails_cleanly_without_a_card(tmp_path: Path) -> None:
    assert main(["fit-population", str(tmp_path), "--data", str(tmp_path),
                 "--outside", str(tmp_path)]) == 1


# -- the shipped check: DICOM age decides, else the image ----------------------------------
def _shipped_runner() -> ModelRunner:
    card = ModelCard.load(ASSETS / CARD_FILENAME)
    if card.population is None:
        pytest.skip("the shipped card has no population check (run pneumo fit-population)")
    return ModelRunner(ASSETS / "model.tflite")


def _dicom(film8: np.ndarray, path: Path, age: str | None) -> Path:
    ds = synth.windowed_dataset(film8)
    if age is None:
        del ds.PatientAge
    else:
        ds.PatientAge = age
    return synth.save(ds, path)


def test_dicom_patient_age_decides(tmp_path: Path) -> None:
    runner = _shipped_runner()
    film = synth.film((320, 256))
    paths = [_dicom(film, tmp_path / f"{tag}.dcm", age)
             for tag, age in (("adult", "045Y"), ("child", "003Y"))]
    adult, child = scan(paths, runner)
    assert adult.ok and adult.unreliable and adult.checks.fired(Rule.AGE)
    assert adult.checks.patient_age_years == pytest.approx(45.0)
    assert any(w.startswith("patient age 45 years is outside") for w in adult.warnings)
    assert child.ok and child.checks.patient_age_years == pytest.approx(3.0)
    assert not child.checks.fired(Rule.AGE) and not child.checks.fired(Rule.POPULATION)


@pytest.mark.data
def test_an_adult_film_is_judged_by_the_image_unless_an_age_says_otherwise(
        nih_dir: Path, chest_xray_dir: Path, tmp_path: Path) -> None:
    runner = _shipped_runner()
    adult = np.asarray(Image.open(min((nih_dir / "test" / "PNEUMONIA").glob("*.jpeg"))))
    child = np.asarray(Image.open(min((chest_xray_dir / "test" / "NORMAL").glob("*"))))
    cases = {"adult_no_age": (adult, None), "adult_said_3": (adult, "003Y"),
             "child_no_age": (child, None), "child_said_45": (child, "045Y")}
    paths = [_dicom(f, tmp_path / f"{name}.dcm", age) for name, (f, age) in cases.items()]
    got = {p.stem: r for p, r in zip(paths, scan(paths, runner), strict=True)}
    assert got["adult_no_age"].checks.rules[0] == Rule.POPULATION
    assert got["adult_no_age"].unreliable
    assert not got["adult_said_3"].checks.fired(Rule.POPULATION)
    assert got["adult_said_3"].checks.population_score == pytest.approx(
        got["adult_no_age"].checks.population_score, abs=1e-6)
    assert not got["child_no_age"].checks.flagged
    assert got["child_said_45"].checks.rules[0] == Rule.AGE


# -- the shipped check on real data: the rates the README states -------------------------
def _population_flag_rate(runner: ModelRunner, paths: list[Path]) -> float:
    records = list(scan(paths, runner))
    assert all(r.ok for r in records)
    return float(np.mean([r.checks.fired(Rule.POPULATION) for r in records]))


@pytest.mark.data
def test_check_fires_on_held_out_nih_adults_not_on_kermany_test_children(
        nih_dir: Path, chest_xray_dir: Path) -> None:
    runner = _shipped_runner()
    nih = [e.path for e in list_examples(nih_dir / "test")]
    kermany = [e.path for e in list_examples(chest_xray_dir / "test")]
    assert len(nih) == 296 and len(kermany) == 624
    assert _population_flag_rate(runner, nih) >= 0.95  # README: 97.6 %
    assert _population_flag_rate(runner, kermany) <= 0.05  # README: 2.7 %


def _variants(paths: list[Path], folder: Path, seed: int) -> list[Path]:
    """Each film once under a random mix of crops, curves, borders, text, blur, rotation."""
    from pneumo.films.imaging import load_image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    out = []
    for path in paths:
        pixels = random_variant(load_image(path).pixels, rng)
        out.append(folder / f"{path.stem}.png")
        Image.fromarray((pixels * 255).round().astype(np.uint8)).save(out[-1])
    return out


@pytest.mark.data
def test_transformed_films_keep_their_side(nih_dir: Path, chest_xray_dir: Path,
                                           tmp_path: Path) -> None:
    runner = _shipped_runner()
    nih = [e.path for e in list_examples(nih_dir / "test")][::2]
    kermany = [e.path for e in list_examples(chest_xray_dir / "test")][::4]
    assert _population_flag_rate(runner, _variants(nih, tmp_path / "nih", 1)) >= 0.85
    assert _population_flag_rate(runner, _variants(kermany, tmp_path / "kermany", 2)) <= 0.08


@pytest.mark.data
def test_evaluate_reports_the_issue_targets_for_both_domains(
        nih_dir: Path, chest_xray_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``pneumo evaluate`` on both test splits, through the scan and its checks."""
    import json

    _shipped_runner()
    assert main(["evaluate", str(chest_xray_dir), str(nih_dir), "--json", "-"]) == 0
    kermany, nih = json.loads(capsys.readouterr().out)["domains"]
    k, n = kermany["reliability"], nih["reliability"]
    assert (k["films"], n["films"]) == (624, 296)
    assert n["silent_error_rate"] <= 0.05  # README: 0.7 %
    assert k["silent_error_rate"] <= 0.091  # README: 8.8 %
    assert k["answered_share"] >= 0.95 and kermany["accuracy"] >= 0.90  # 96.8 %, 0.909
    assert k["silent_errors"] == k["answered_without_warning"] - round(
        k["unflagged_metrics"]["accuracy"] * k["answered_without_warning"])
    assert main(["evaluate", str(chest_xray_dir), str(nih_dir)]) == 0
    table = capsys.readouterr().out
    assert "| silent-error rate (wrong with no warning, of all films) |" in table
    assert "chest_xray/test (624)" in table and "nih_cxr8_sample/test (296)" in table
