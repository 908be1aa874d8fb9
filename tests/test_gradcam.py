"""Heat-map maths of pneumo.model.gradcam (numpy/OpenCV only, no model needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pneumo.errors import ModelNotFoundError
from pneumo.model.gradcam import (
    Explainer,
    colorize_heatmap,
    heatmap_to_image_size,
    normalise_heatmap,
    overlay_rgba,
)


def test_normalise_scales_to_unit_range_and_clips_negatives() -> None:
    cam = np.array([[-1.0, 0.0], [2.0, 4.0]], dtype=np.float32)
    out = normalise_heatmap(cam)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 0.0], [0.5, 1.0]])


def test_normalise_keeps_an_empty_map_empty() -> None:
    assert not normalise_heatmap(np.zeros((3, 3))).any()
    assert not normalise_heatmap(-np.ones((3, 3))).any()


def test_normalise_is_scale_invariant() -> None:
    cam = np.random.default_rng(0).random((7, 7)).astype(np.float32)
    np.testing.assert_allclose(normalise_heatmap(cam), normalise_heatmap(cam * 1e-6), rtol=1e-5)


def test_normalise_refuses_non_finite_values() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        normalise_heatmap(np.array([[np.nan, 1.0]]))


def test_resize_to_image_size_keeps_range_and_location() -> None:
    heat = np.zeros((7, 7), dtype=np.float32)
    heat[0, 0] = 1.0
    out = heatmap_to_image_size(heat, (300, 200))
    assert out.shape == (300, 200) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    peak = np.unravel_index(np.argmax(out), out.shape)
    assert peak[0] < 300 / 7 and peak[1] < 200 / 7
    assert out[-1, -1] == 0.0


def test_resize_of_a_constant_map_is_constant() -> None:
    out = heatmap_to_image_size(np.full((4, 4), 0.25, dtype=np.float32), (33, 65))
    np.testing.assert_allclose(out, 0.25, atol=1e-6)


def test_resize_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError):
        heatmap_to_image_size(np.zeros((2, 2, 2)), (4, 4))
    with pytest.raises(ValueError):
        heatmap_to_image_size(np.zeros((2, 2)), (0, 4))


def _gray() -> np.ndarray:
    return np.tile(np.linspace(0.0, 1.0, 50, dtype=np.float32), (40, 1))


def test_overlay_with_zero_opacity_leaves_the_image_unchanged() -> None:
    gray = _gray()
    heat = np.random.default_rng(1).random((5, 5)).astype(np.float32)
    out = overlay_rgba(gray, heat, opacity=0.0)
    assert out.shape == (40, 50, 4) and out.dtype == np.uint8
    expected = np.round(gray * 255).astype(np.uint8)
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], expected)
    assert (out[..., 3] == 255).all()


def test_overlay_changes_pixels_more_with_more_opacity() -> None:
    gray = _gray()
    heat = np.zeros((5, 5), dtype=np.float32)
    heat[2, 2] = 1.0
    base = overlay_rgba(gray, heat, 0.0)[..., :3].astype(int)
    half = overlay_rgba(gray, heat, 0.5)[..., :3].astype(int)
    full = overlay_rgba(gray, heat, 1.0)[..., :3].astype(int)
    assert (half != base).any()
    assert np.abs(full - base).sum() > np.abs(half - base).sum() > 0
    # the hot centre is red in the jet colour map, cold corners blue
    assert full[20, 25, 0] > 200 and full[20, 25, 2] < 60
    assert full[0, 0, 2] > 100 and full[0, 0, 0] < 60


def test_colorize_heatmap_is_rgba_with_the_opacity_as_alpha() -> None:
    layer = colorize_heatmap(np.array([[0.0, 1.0]], dtype=np.float32), opacity=0.5)
    assert layer.shape == (1, 2, 4) and layer.dtype == np.uint8
    assert (layer[..., 3] == 128).all()
    assert layer[0, 1, 0] > layer[0, 1, 2]  # hot: red over blue
    assert layer[0, 0, 2] > layer[0, 0, 0]  # cold: blue over red


@pytest.mark.parametrize("opacity", [-0.1, 1.5])
def test_opacity_outside_unit_range_is_refused(opacity: float) -> None:
    with pytest.raises(ValueError, match="opacity"):
        overlay_rgba(_gray(), np.zeros((2, 2)), opacity)


def test_overlay_refuses_a_colour_image() -> None:
    with pytest.raises(ValueError, match="2-D"):
        overlay_rgba(np.zeros((4, 4, 3)), np.zeros((2, 2)), 0.5)


def test_explainer_of_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        Explainer(tmp_path / "model_float.tflite")
