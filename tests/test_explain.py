"""``pneumo explain``: the overlay picture (no TensorFlow) and the per-layer animation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pneumo.cli import main
from pneumo.results.display import STATE_COLOURS, RowState
from tests.subproc import run_python
from tests.test_desktop_support import film, write_png

_HEAVY = ("tensorflow", "keras", "tf_keras", "PySide6", "train", "convert", "desktop")


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


@pytest.fixture()
def pneumonia_film(tmp_path: Path) -> Path:
    return write_png(tmp_path / "films" / "blob.png", film(1, True, size=200))


def test_explain_writes_an_overlay_png_without_tensorflow(
    explainable_model: Path, pneumonia_film: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "overlay.png"
    code = (
        "import sys, json\n"
        "from pneumo.cli import main\n"
        f"rc = main(['explain', {str(pneumonia_film)!r}, '--model', {str(explainable_model)!r},"
        f" '--out', {str(out)!r}])\n"
        f"heavy = {_HEAVY!r}\n"
        "print(json.dumps({'rc': rc, 'heavy': sorted({m.split('.')[0] for m in sys.modules}"
        " & set(heavy))}))\n"
    )
    proc = run_python("-c", code)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"rc": 0, "heavy": []}
    assert f"wrote {out}" in proc.stdout
    picture = np.asarray(Image.open(out).convert("RGB")).astype(np.int16)
    assert picture.shape[1] == 200 and picture.shape[0] > 200  # the film under a caption
    scan = run_python("-m", "pneumo", "scan", str(pneumonia_film), "--model",
                      str(explainable_model), "--json", "-")
    label = json.loads(scan.stdout)[0]["label"]
    state = RowState.POSITIVE if label == "PNEUMONIA" else RowState.NEGATIVE
    assert tuple(picture[2, 2]) == _rgb(STATE_COLOURS[state][1])  # the result's colour
    film_area = picture[-200:]
    assert np.abs(film_area[..., 0] - film_area[..., 2]).max() > 60  # the jet heat map
    assert not list(out.parent.glob(".*.tmp"))


def test_explain_default_name_in_the_current_folder_never_over_the_source(
    explainable_model: Path, pneumonia_film: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    source_bytes = pneumonia_film.read_bytes()
    assert main(["explain", str(pneumonia_film), "--model", str(explainable_model)]) == 0
    assert (here / "blob_explain.png").is_file()
    assert not (pneumonia_film.parent / "blob_explain.png").exists()
    capsys.readouterr()
    rc = main(["explain", str(pneumonia_film), "--model", str(explainable_model),
               "--out", str(pneumonia_film)])
    assert rc == 2 and "is the input file" in capsys.readouterr().err
    assert pneumonia_film.read_bytes() == source_bytes


def test_explain_refuses_what_the_scan_refuses(
    explainable_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    photo = tmp_path / "photo.png"
    rgb = np.zeros((200, 200, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[50:150, 50:150, 2] = 250
    Image.fromarray(rgb).save(photo)
    assert main(["explain", str(photo), "--model", str(explainable_model)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"pneumo: error: {photo}: colour image") and len(err.splitlines()) == 1
    assert not (tmp_path / "photo_explain.png").exists()
    assert main(["explain", str(tmp_path), "--model", str(explainable_model)]) == 2
    assert main(["explain", str(tmp_path / "gone.png"), "--model", str(explainable_model)]) == 2


def test_layers_gif_has_one_frame_per_convolution_layer(
    explainable_model: Path, pneumonia_film: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    keras = pytest.importorskip("keras")
    model = keras.models.load_model(explainable_model.parent / "model.keras", compile=False)
    convs = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) >= 2
    out = tmp_path / "anim" / "layers.gif"
    assert main(["explain", str(pneumonia_film), "--model", str(explainable_model),
                 "--layers", "--gif", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    gif = Image.open(out)
    assert gif.format == "GIF" and gif.n_frames == len(convs)
    frames = []
    for i in range(gif.n_frames):
        gif.seek(i)
        frames.append(np.asarray(gif.convert("RGB")).astype(np.int16))
    assert all(f.shape == frames[0].shape for f in frames)
    assert np.abs(frames[0] - frames[-1]).max() > 0  # another layer, another picture
    assert not (tmp_path / "blob_explain.png").exists()  # --layers alone writes no PNG


def test_layer_gradcams_follow_every_conv_and_match_the_shipped_explain() -> None:
    pytest.importorskip("tensorflow")
    from convert.explain import reference_gradcam
    from convert.layer_cam import conv_layer_names, gradcams
    from train.models import build_pneumonet

    model = build_pneumonet(64)
    x = film(3, True, size=64)[..., np.newaxis]
    cams = gradcams(model, x)
    names = conv_layer_names(model)
    assert [name for name, _ in cams] == names and names[-1] == "last_conv" and len(names) == 9
    for (name, cam), size in zip(cams, (32, 16, 16, 8, 8, 4, 4, 2, 2), strict=True):
        assert cam.shape == (size, size), name
        assert (cam >= 0).all()
    np.testing.assert_allclose(cams[-1][1], reference_gradcam(model, x[np.newaxis])[0],
                               rtol=1e-4, atol=1e-6)


def test_layers_without_tensorflow_says_how_to_get_it(
    explainable_model: Path, pneumonia_film: Path, tmp_path: Path
) -> None:
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
        "from pneumo.cli import main\n"
        f"sys.exit(main(['explain', {str(pneumonia_film)!r}, '--model', "
        f"{str(explainable_model)!r}, '--layers', '--gif', {str(tmp_path / 'x.gif')!r}]))\n"
    )
    proc = run_python("-c", code)
    assert proc.returncode == 2, proc.stderr
    assert "needs TensorFlow" in proc.stderr and "pneumoscan[train]" in proc.stderr
    assert not (tmp_path / "x.gif").exists()
