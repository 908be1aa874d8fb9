"""The input gate's newer checks: colour, aspect ratio, patient age, lateral views."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pneumo.checks.gate import COLOUR_REFUSAL, check_input, parse_age_years
from pneumo.films.imaging import ImageMetadata, LoadedImage
from tests.tinymodel import film


def _image(pixels: np.ndarray | None = None, **meta: Any) -> LoadedImage:
    px = film() if pixels is None else pixels
    return LoadedImage(Path("x.dcm"), px, ImageMetadata("DICOM", px.shape[1], px.shape[0], **meta))


def _film(height: int, width: int) -> np.ndarray:
    return np.asarray(np.resize(film(512), (height, width)), dtype=np.float32)


@pytest.mark.parametrize(("text", "years"), [
    ("003Y", 3.0), ("018M", 1.5), ("010D", 10 / 365.25), ("042Y", 42.0), ("006W", 42 / 365.25),
    ("5", 5.0), (" 004y ", 4.0),
])
def test_age_strings_parse_to_years(text: str, years: float) -> None:
    assert parse_age_years(text) == pytest.approx(years)


@pytest.mark.parametrize("text", [None, "", "abc", "12X", "Y"])
def test_unparseable_ages_are_ignored(text: str | None) -> None:
    assert parse_age_years(text) is None
    assert check_input(_image(patient_age=text)) == ([], None)


@pytest.mark.parametrize("age", ["001Y", "003Y", "018M", "005Y", "060M"])
def test_ages_of_the_training_population_pass(age: str) -> None:
    assert check_input(_image(patient_age=age)) == ([], None)


@pytest.mark.parametrize(("age", "shown"), [
    ("042Y", "42 years"), ("010D", "10 days"), ("011M", "11 months"), ("066M", "66 months"),
    ("006W", "6 weeks"),
])
def test_ages_outside_the_training_population_warn(age: str, shown: str) -> None:
    warnings, refusal = check_input(_image(patient_age=age))
    assert refusal is None
    expected = f"patient age {shown} is outside the training population (children aged 1 to 5)"
    assert warnings == [expected]


def test_colour_images_are_refused() -> None:
    warnings, refusal = check_input(_image(is_color=True))
    assert refusal == COLOUR_REFUSAL and "not a radiograph" in refusal and warnings == []


@pytest.mark.parametrize(("height", "width"), [(256, 1000), (1000, 256), (130, 500)])
def test_extreme_aspect_ratios_are_refused(height: int, width: int) -> None:
    _, refusal = check_input(_image(_film(height, width)))
    assert refusal is not None and "aspect ratio" in refusal


@pytest.mark.parametrize(("height", "width"), [(256, 700), (700, 256)])
def test_wide_but_possible_films_warn(height: int, width: int) -> None:
    warnings, refusal = check_input(_image(_film(height, width)))
    assert refusal is None and len(warnings) == 1 and "aspect ratio" in warnings[0]


@pytest.mark.parametrize(("height", "width"), [(256, 256), (300, 600), (600, 300), (200, 500)])
def test_ordinary_shapes_pass(height: int, width: int) -> None:
    assert check_input(_image(_film(height, width))) == ([], None)


def test_lateral_view_says_the_model_was_trained_on_frontal_views() -> None:
    warnings, refusal = check_input(_image(view_position="LL", patient_age="003Y"))
    assert refusal is None
    expected = "view position LL is lateral; the model was trained on frontal views (PA/AP)"
    assert warnings == [expected]


def test_refusals_come_before_warnings() -> None:
    warnings, refusal = check_input(_image(modality="CT", is_color=True, patient_age="042Y"))
    assert refusal == "modality CT is not a chest radiograph" and warnings == []
    noisy = np.random.default_rng(0).random((100, 300)).astype(np.float32)
    assert "at least 128" in (check_input(_image(noisy, is_color=False))[1] or "")


def test_several_warnings_are_all_reported() -> None:
    warnings, refusal = check_input(_image(body_part="KNEE", view_position="LATERAL",
                                           patient_age="042Y"))
    assert refusal is None and len(warnings) == 3
