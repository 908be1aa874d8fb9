"""Trimming uniform margins in the shared preprocessing (``Preprocessing.trim``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pneumo.data import augment
from pneumo.model.margins import Box, margin_box, trim_margins
from pneumo.model.preprocess import Preprocessing, preprocess


def _film(h: int = 300, w: int = 260, seed: int = 0) -> np.ndarray:
    """A film-like image: smooth anatomy-sized structure and grain reaching every edge
    (no margin)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0.1, 0.9, (6, 6)).astype(np.float32)
    body = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(body + rng.normal(0.0, 0.02, (h, w)), 0.0, 1.0).astype(np.float32)


def _pad(film: np.ndarray, pads: tuple[int, int, int, int], value: float) -> np.ndarray:
    return np.asarray(cv2.copyMakeBorder(film, *pads, cv2.BORDER_CONSTANT, value=value),
                      dtype=np.float32)


def test_a_film_without_margins_is_returned_as_it_is() -> None:
    film = _film()
    assert trim_margins(film) is film
    spec = Preprocessing(input_size=64, contrast="equalize")
    trimmed = Preprocessing(input_size=64, contrast="equalize", trim=True)
    np.testing.assert_array_equal(preprocess(film, trimmed), preprocess(film, spec))


@pytest.mark.parametrize("value", [0.0, 1.0, 0.43])
def test_added_borders_are_removed_exactly(value: float) -> None:
    film = _film()
    padded = _pad(film, (30, 12, 0, 41), value)
    assert margin_box(padded) == Box(30, 30 + film.shape[0], 0, film.shape[1])
    np.testing.assert_array_equal(trim_margins(padded), film)
    spec = Preprocessing(input_size=64, contrast="equalize", trim=True)
    np.testing.assert_array_equal(preprocess(padded, spec), preprocess(film, spec))


@pytest.mark.parametrize(("size", "pads"), [((1300, 1500), (101, 57, 203, 9)),
                                             ((2500, 3000), (181, 3, 77, 250)),
                                             ((2049, 2303), (0, 95, 1, 0))])
def test_large_films_are_trimmed_at_full_resolution(size: tuple[int, int],
                                                    pads: tuple[int, int, int, int]) -> None:
    """Found on a halved-then-resized copy, followed line by line at full size."""
    film = cv2.resize(_film(), size, interpolation=cv2.INTER_LINEAR)
    padded = _pad(film, pads, 1.0)
    top, _, left, _ = pads
    assert margin_box(padded) == Box(top, top + size[1], left, left + size[0])


def test_noise_and_text_in_the_margin_do_not_stop_the_trim() -> None:
    film = _film()
    padded = _pad(film, (40, 40, 40, 40), 0.0)
    rng = np.random.default_rng(1)
    noisy = np.clip(padded + rng.normal(0.0, 0.01, padded.shape), 0, 1).astype(np.float32)
    mask = np.zeros(padded.shape, np.uint8)  # OpenCV draws text on 8-bit images only
    cv2.putText(mask, "R 2024-01-05", (45, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 255, 1,
                cv2.LINE_AA)
    cv2.putText(mask, "L", (8, 200), cv2.FONT_HERSHEY_SIMPLEX, 0.7, 255, 2, cv2.LINE_AA)
    labelled = np.maximum(noisy, mask.astype(np.float32) / 255.0)
    box = margin_box(labelled)
    for got, want in zip((box.top, box.bottom, box.left, box.right), (40, 340, 40, 300),
                         strict=True):
        assert abs(got - want) <= 2, box


def test_a_margin_never_eats_into_the_film() -> None:
    """A film whose own edge is dark but not constant keeps it; so does a film that is
    mostly one grey level with the patient in a corner (less than half would be left)."""
    film = _film()
    film[:, :25] = np.linspace(0.02, 0.3, film.shape[0])[:, None]  # a dark ramp
    assert trim_margins(film) is film
    corner = np.full((300, 300), 0.5, np.float32)
    corner[:100, :100] = _film(100, 100)
    assert trim_margins(corner) is corner


def test_trim_is_off_unless_the_card_says_so_and_old_cards_read_unchanged() -> None:
    old = {"input_size": 224, "interpolation": "area", "scale": 1.0, "offset": 0.0,
           "contrast": "equalize"}
    spec = Preprocessing.from_dict(old)
    assert spec.trim is False
    assert spec.to_dict() == old  # the form bound into model files stays as it was
    on = Preprocessing(contrast="equalize", trim=True)
    assert on.to_dict()["trim"] is True and Preprocessing.from_dict(on.to_dict()) == on


def test_bordered_variants_reach_the_model_as_the_film_does() -> None:
    """The augmentation's borders (any value, any side) are removed by the trim."""
    film = _film()
    spec = Preprocessing(input_size=64, contrast="equalize", trim=True)
    reference = preprocess(film, spec)
    for seed in range(20):
        bordered = augment.border(film, np.random.default_rng(seed))
        np.testing.assert_array_equal(preprocess(bordered, spec), reference)


@pytest.mark.data
def test_trim_changes_the_kermany_films_with_margins_only(chest_xray_dir: Path) -> None:
    """Many Kermany films have black side margins of their own (more often the NORMAL
    ones); the trim removes them, and a bordered copy trims to the same box."""
    from pneumo.data.dataset import list_examples
    from pneumo.films.imaging import load_image

    examples = list_examples(chest_xray_dir / "val") + list_examples(
        chest_xray_dir / "train")[::40]
    changed = 0
    for i, e in enumerate(examples):
        pixels = np.asarray(load_image(e.path).pixels, np.float32)
        box = margin_box(pixels)
        changed += not box.is_whole(pixels.shape)
        padded = _pad(pixels, (10 + i % 7, 5, 20, 3 + i % 5), float(i % 2))
        # The added border goes, and with it at most the film's own margin and a few
        # lines as dark (or bright) as the border.
        again, slack = margin_box(padded), 2 + 0.02 * max(pixels.shape)
        assert 10 + i % 7 <= again.top <= 10 + i % 7 + box.top + slack, (e.path.name, again)
        assert 20 <= again.left <= 20 + box.left + slack, (e.path.name, box, again)
    assert 0.1 <= changed / len(examples) <= 0.6, changed


def test_a_heat_map_lands_on_the_part_of_the_film_the_model_saw() -> None:
    from pneumo.model.gradcam import heatmap_on_film, heatmap_to_image_size
    from pneumo.model.preprocess import input_box

    film = _pad(_film(), (30, 0, 20, 0), 1.0)
    cam = np.random.default_rng(2).random((7, 7)).astype(np.float32)
    box = input_box(film, Preprocessing(trim=True))
    assert box == Box(30, 330, 20, 280)
    heat = heatmap_on_film(cam, film.shape, box)
    assert heat.shape == film.shape and heat[:30].max() == 0 and heat[:, :20].max() == 0
    np.testing.assert_array_equal(heat[30:, 20:], heatmap_to_image_size(cam, (300, 260)))
    whole = input_box(film, Preprocessing())
    np.testing.assert_array_equal(heatmap_on_film(cam, film.shape, whole),
                                  heatmap_to_image_size(cam, film.shape))
    small = box.scaled(film.shape, (165, 140))
    assert small == Box(15, 165, 10, 140)


def test_a_scan_answers_a_bordered_film_as_it_answers_the_film(tmp_path: Path) -> None:
    """Through ``pneumo scan`` with the shipped card (``trim`` on): a sample film with a
    black or white border, as PNG and as a 16-bit DICOM upscaled to 2,000 px, gets
    nearly the probability the film gets (not exactly: the film has a dark margin of
    its own, which a border beside it trims a few pixels differently). With trimming
    turned off in a copy of the card, the white border moves it eight times as far
    (measured 0.039; with the trim at most 0.0012)."""
    import json
    import shutil

    from pneumo.cli import main
    from pneumo.model.card import CARD_FILENAME
    from pneumo.results.export import read_json
    from tests import synth

    assets = Path(__file__).resolve().parents[1] / "assets"
    read = cv2.imread(str(assets / "samples" / "pneumonia_person100_bacteria_475.jpeg"),
                      cv2.IMREAD_GRAYSCALE)
    assert read is not None
    film8: np.ndarray = read
    big = cv2.resize(film8, (1700, 2000), interpolation=cv2.INTER_CUBIC)
    folder = tmp_path / "films"
    folder.mkdir()
    synth.write_png(film8, folder / "film.png")
    synth.write_png(cv2.copyMakeBorder(film8, 40, 12, 30, 0, cv2.BORDER_CONSTANT, value=0),
                    folder / "film_black_border.png")
    synth.write_png(cv2.copyMakeBorder(film8, 0, 25, 0, 50, cv2.BORDER_CONSTANT, value=255),
                    folder / "film_white_border.png")
    synth.write_dicom_plain16(big, folder / "dicom.dcm")
    synth.write_dicom_plain16(
        cv2.copyMakeBorder(big, 300, 0, 0, 250, cv2.BORDER_CONSTANT, value=0),
        folder / "dicom_border.dcm")
    pairs = (("film_black_border", "film"), ("film_white_border", "film"),
             ("dicom_border", "dicom"))

    def moved_by_borders(model_folder: Path) -> dict[str, float]:
        out = tmp_path / f"{model_folder.name}.json"
        assert main(["scan", str(folder), "--model", str(model_folder / "model.tflite"),
                     "--json", str(out), "--no-store"]) == 0
        p = {r.path.stem: float(r.probability or 0.0) for r in read_json(out)}
        return {bordered: abs(p[bordered] - p[film]) for bordered, film in pairs}

    trimmed = moved_by_borders(assets)
    assert max(trimmed.values()) <= 0.005, trimmed

    untrimmed = tmp_path / "untrimmed"
    shutil.copytree(assets, untrimmed, ignore=shutil.ignore_patterns("samples", "plots"))
    card = json.loads((untrimmed / CARD_FILENAME).read_text())
    card["preprocessing"].pop("trim")
    (untrimmed / CARD_FILENAME).write_text(json.dumps(card))
    assert main(["bind", str(untrimmed), "--force"]) == 0
    moved = moved_by_borders(untrimmed)
    assert moved["film_white_border"] > 0.02 > trimmed["film_white_border"] * 4, moved


def test_preprocess_with_box_is_preprocess_and_input_box_from_one_search() -> None:
    from pneumo.model.preprocess import input_box, preprocess, preprocess_with_box

    film = _pad(_film(), (30, 0, 20, 0), 1.0)
    for spec in (Preprocessing(trim=True, contrast="equalize"), Preprocessing()):
        x, box = preprocess_with_box(film, spec)
        np.testing.assert_array_equal(x, preprocess(film, spec))
        assert box == input_box(film, spec)
    assert preprocess_with_box(film, Preprocessing(trim=True))[1] == Box(30, 330, 20, 280)
