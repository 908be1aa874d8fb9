"""The shared preprocessing: its parameters and the contrast equalisation."""

from __future__ import annotations

import numpy as np
import pytest

from pneumo.model.preprocess import Preprocessing, equalize, preprocess


def _ramp(size: int = 64) -> np.ndarray:
    """A film-like image whose 256 grey levels are all distinct and all used."""
    levels = np.arange(size * size) % 256
    rng = np.random.default_rng(3)
    return (rng.permutation(levels).reshape(size, size) / 255.0).astype(np.float32)


def test_card_form_round_trips_every_field() -> None:
    spec = Preprocessing(input_size=96, interpolation="linear", scale=2.0, offset=-1.0,
                         contrast="equalize")
    assert Preprocessing.from_dict(spec.to_dict()) == spec


def test_cards_written_before_contrast_existed_mean_no_equalisation() -> None:
    old = {"input_size": 224, "interpolation": "area", "scale": 1.0, "offset": 0.0}
    assert Preprocessing.from_dict(old).contrast == "none"


def test_unknown_contrast_is_refused() -> None:
    with pytest.raises(ValueError, match="contrast"):
        Preprocessing(contrast="clahe")


def test_equalised_image_is_unchanged_by_an_increasing_display_curve() -> None:
    """Exact as long as the curve keeps the 256 grey levels in distinct bins
    of the 1024 used; a curve that merges levels merges their ranks."""
    image = _ramp()
    reference = equalize(image)
    for curve in (np.sqrt, lambda x: x ** 0.6, lambda x: 0.2 + 0.5 * x):
        np.testing.assert_array_equal(equalize(curve(image).astype(np.float32)), reference)


def test_equalised_image_spans_the_range_with_mean_one_half() -> None:
    out = equalize(_ramp() * 0.3 + 0.1)  # a dim, low-contrast film
    assert out.min() < 0.01 and out.max() > 0.99
    assert out.mean() == pytest.approx(0.5, abs=1e-6)
    assert out.dtype == np.float32


def test_flat_image_equalises_to_one_half() -> None:
    np.testing.assert_array_equal(equalize(np.full((8, 8), 0.7, np.float32)), 0.5)


def test_equalisation_keeps_the_order_of_pixels() -> None:
    image = _ramp()
    out = equalize(image)
    order = np.argsort(image.ravel(), kind="stable")
    assert np.all(np.diff(out.ravel()[order]) >= 0)


def test_preprocess_equalises_after_resizing_and_before_scaling() -> None:
    image = _ramp(128)
    spec = Preprocessing(input_size=64, contrast="equalize", scale=2.0, offset=-1.0)
    plain = preprocess(image, Preprocessing(input_size=64))[:, :, 0]
    expected = equalize(plain) * 2.0 - 1.0
    np.testing.assert_allclose(preprocess(image, spec)[:, :, 0], expected, atol=1e-6)


def test_no_contrast_leaves_pixels_alone() -> None:
    image = _ramp()
    np.testing.assert_array_equal(preprocess(image, Preprocessing(input_size=64))[:, :, 0],
                                  image)
