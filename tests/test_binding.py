"""Model integrity fails closed: card bindings in the model files, ``pneumo bind``,
card tampering refused and named, the OOD check never silently off."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pneumo.cli import main
from pneumo.errors import ModelIntegrityError
from pneumo.model.binding import BINDING_NAME, CardBinding, embed_binding, read_binding
from pneumo.model.card import CARD_FILENAME, CARD_FORMAT_VERSION, ModelCard, sha256_file
from pneumo.model.runner import ModelRunner

ASSETS = Path(__file__).resolve().parents[1] / "assets"
FORMAT1 = Path(__file__).parent / "data" / "model_card_format1.json"
MODELS = ("model.tflite", "model_float.tflite")
SAMPLES = sorted((ASSETS / "samples").glob("*.jpeg"))


def unbind(content: bytes) -> bytes:
    """A model file as converted before bindings existed (the binding entry removed)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(content, 0))
    model.metadata = [m for m in model.metadata if m.name != BINDING_NAME.encode()]
    builder = flatbuffers.Builder(len(content) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    if not all((ASSETS / n).is_file() for n in (*MODELS, CARD_FILENAME)):
        pytest.skip("shipped models not found in assets/")
    folder = tmp_path / "assets"
    folder.mkdir()
    for name in (*MODELS, CARD_FILENAME):
        shutil.copyfile(ASSETS / name, folder / name)
    return folder


def _edit(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / CARD_FILENAME
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def _inputs(card: ModelCard) -> np.ndarray:
    from pneumo.data.dataset import load_model_inputs

    return load_model_inputs(SAMPLES, card.preprocessing, 1)


def test_shipped_models_carry_the_card_they_are_shipped_with() -> None:
    card = ModelCard.load(ASSETS / CARD_FILENAME)
    for name in MODELS:
        bound = read_binding((ASSETS / name).read_bytes())
        assert bound == CardBinding.of(card, name)
        assert sha256_file(ASSETS / name) == card.files[name]
    # the int8 file carries its own re-derived threshold, not the float model's
    int8 = read_binding((ASSETS / "model.tflite").read_bytes()).threshold
    assert int8 == card.threshold_for("model.tflite") != card.threshold_for("model_float.tflite")


def _shipped_threshold() -> float:
    return ModelCard.load(ASSETS / CARD_FILENAME).threshold_for("model.tflite")


def _swap_roles(d: dict[str, Any]) -> None:
    d["models"]["classify"], d["models"]["explain"] = d["models"]["explain"], \
        d["models"]["classify"]


TAMPERING = {
    "entry removed": (lambda d: d["files"].pop("model.tflite"),
                      "not listed in its model card's files"),
    "threshold edited": (lambda d: d["thresholds"].update({"model.tflite": 0.25}),
                         "threshold (bound: {shipped}, card now: 0.25)"),
    "labels swapped": (lambda d: d.update(labels=["PNEUMONIA", "NORMAL"]),
                       'labels (bound: ["NORMAL", "PNEUMONIA"], card now: ["PNEUMONIA", "NORMAL"])'),
    "preprocessing edited": (lambda d: d["preprocessing"].update(contrast="none"),
                             'preprocessing (bound: {"contrast": "equalize"'),
    "roles swapped": (_swap_roles, 'model roles (bound: {"classify": "model.tflite"'),
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_card_tampering_is_refused_and_named(kind: str, copy: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    change, words = TAMPERING[kind]
    words = words.replace("{shipped}", str(_shipped_threshold()))
    ModelRunner(copy / "model.tflite")  # control: loads before the edit
    _edit(copy, change)
    with pytest.raises(ModelIntegrityError) as info:
        ModelRunner(copy / "model.tflite")
    assert words in str(info.value)
    rc = main(["scan", str(SAMPLES[0]), "--model", str(copy / "model.tflite")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and err[-1].startswith("pneumo: error: ") and words in err[-1]
    monkeypatch.setenv("PNEUMO_ASSETS", str(copy))
    assert main(["info"]) == 1
    out = capsys.readouterr().out
    assert "model.tflite: int8" in out and "sha256 and card binding ok" not in out.split(
        "model_float")[0]
    assert f"refused at load: {words}" in out or words in out


def test_a_card_threshold_that_does_not_apply_to_the_file_changes_nothing(copy: Path) -> None:
    _edit(copy, lambda d: d.update(threshold=0.1))  # each file has its own threshold
    assert ModelRunner(copy / "model.tflite").threshold == _shipped_threshold() != 0.1


def test_a_folder_from_before_bindings_is_refused_until_bound(copy: Path) -> None:
    """A format-1 card and unbound models: refused with the way out, then bound."""
    raw = json.loads(FORMAT1.read_text())
    for name in MODELS:
        (copy / name).write_bytes(unbind((copy / name).read_bytes()))
    raw["files"] = {n: sha256_file(copy / n) for n in MODELS}
    (copy / CARD_FILENAME).write_text(json.dumps(raw, indent=2))
    card = ModelCard.load(copy / CARD_FILENAME)  # format 1 still loads
    with pytest.raises(ModelIntegrityError, match=r"carries no card binding.*pneumo bind"):
        ModelRunner(copy / "model.tflite")
    before = ModelRunner(copy / "model.tflite", verify=False).predict_batch(_inputs(card))
    assert main(["bind", str(copy)]) == 0
    assert json.loads((copy / CARD_FILENAME).read_text())["format_version"] == CARD_FORMAT_VERSION
    runner = ModelRunner(copy / "model.tflite")
    np.testing.assert_array_equal(runner.predict_batch(_inputs(card)), before)
    assert runner.threshold == card.threshold_for("model.tflite")


def test_bind_vouches_only_for_files_the_card_vouches_for(copy: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    data = bytearray((copy / "model.tflite").read_bytes())
    data[len(data) // 2] ^= 1
    (copy / "model.tflite").write_bytes(bytes(data))
    assert main(["bind", str(copy)]) == 1
    assert "sha256 does not match its model card" in capsys.readouterr().err
    shutil.copyfile(ASSETS / "model.tflite", copy / "model.tflite")
    _edit(copy, lambda d: d["thresholds"].update({"model.tflite": 0.25}))
    assert main(["bind", str(copy)]) == 1  # an edited card is not re-bound silently
    assert "accept it with --force" in capsys.readouterr().err
    assert main(["bind", str(copy), "--force"]) == 0
    assert ModelRunner(copy / "model.tflite").threshold == 0.25


def test_binding_changes_no_output(copy: Path) -> None:
    from bench.binding_parity import _weights_equal
    from pneumo.model.gradcam import Explainer

    card = ModelCard.load(copy / CARD_FILENAME)
    x = _inputs(card)
    for name in MODELS:
        bound = (copy / name).read_bytes()
        old = unbind(bound)
        assert _weights_equal(old, bound) and read_binding(old) is None
        (copy / f"old_{name}").write_bytes(old)
        assert embed_binding(bound, CardBinding.of(card, name)) == bound  # idempotent
        new_r, old_r = (ModelRunner(copy / f, card, verify=False) for f in (name, f"old_{name}"))
        np.testing.assert_array_equal(new_r.predict_batch(x), old_r.predict_batch(x))
    new_e, old_e = (Explainer(copy / f, card, verify=False)
                    for f in ("model_float.tflite", "old_model_float.tflite"))
    for img in x:
        a, b = new_e.explain(img), old_e.explain(img)
        assert a.probability == b.probability
        np.testing.assert_array_equal(a.heatmap, b.heatmap)
        np.testing.assert_array_equal(a.embedding, b.embedding)


# -- the out-of-distribution check is never silently off -----------------------------
@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_float_model_missing_or_replaced_is_warned_in_every_record(copy: Path, how: str) -> None:
    from pneumo.scanning.pipeline import scan

    if ModelCard.load(copy / CARD_FILENAME).ood is None:
        pytest.skip("the shipped card has no OOD model")
    if how == "deleted":
        (copy / "model_float.tflite").unlink()
        why = "model_float.tflite not found beside model.tflite"
    else:
        (copy / "model_float.tflite").write_bytes(unbind((copy / "model_float.tflite")
                                                         .read_bytes()))
        why = "sha256 does not match its model card"
    records = list(scan(SAMPLES, ModelRunner(copy / "model.tflite")))
    assert len(records) == len(SAMPLES) and all(r.ok for r in records)
    for record in records:
        assert any(w.startswith("out-of-distribution check unavailable (") and why in w
                   for w in record.warnings), record.warnings


@pytest.mark.data
def test_binding_changes_no_probability_on_the_kermany_test_split(copy: Path,
                                                                  chest_xray_dir: Path) -> None:
    from pneumo.data.dataset import load_model_inputs

    card = ModelCard.load(copy / CARD_FILENAME)
    films = sorted((chest_xray_dir / "test").glob("*/*.jpeg"))
    x = load_model_inputs(films, card.preprocessing, 2)
    for name in MODELS:
        (copy / f"old_{name}").write_bytes(unbind((copy / name).read_bytes()))
        bound = ModelRunner(copy / name).predict_batch(x)
        np.testing.assert_array_equal(
            bound, ModelRunner(copy / f"old_{name}", card, verify=False).predict_batch(x))
    assert len(films) == 624
