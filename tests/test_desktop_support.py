"""Helpers and fixtures for the desktop tests (no tests here).

:func:`build_explainable_model` trains a tiny Keras CNN with the layer names
Grad-CAM needs (``last_conv``, ``embedding``, ``logit``, ``probability``) and
converts it with ``convert.tflite.convert_float``: ``model.tflite`` and
``model_float.tflite`` (serving + ``explain`` signatures) plus a model card.
TensorFlow is used here, in the test process only; the app never imports it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from pneumo.evaluation.metrics import BinaryMetrics
from pneumo.model.bind import bind_folder
from pneumo.model.card import CARD_FILENAME, ModelCard, sha256_file
from pneumo.model.card_sections import TrainingRecord
from pneumo.model.preprocess import Preprocessing
from tests import tinymodel

REPO_ROOT = Path(__file__).resolve().parents[1]
INPUT_SIZE = 64


def film(seed: int, blob: bool, size: int = 256) -> np.ndarray:
    """A float [0, 1] film that passes the input gate; ``blob`` = "pneumonia"."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = 0.25 + 0.1 * rng.standard_normal((size, size)).astype(np.float32)
    if blob:
        cy, cx = rng.uniform(0.3, 0.7, size=2)
        img += 0.6 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 0.12**2))
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def _training_set(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    images = np.empty((n, INPUT_SIZE, INPUT_SIZE, 1), dtype=np.float32)
    labels = np.zeros((n,), dtype=np.float32)
    for i in range(n):
        blob = i % 2 == 1
        img = film(seed * 1000 + i, blob)
        images[i, :, :, 0] = cv2.resize(img, (INPUT_SIZE, INPUT_SIZE),
                                        interpolation=cv2.INTER_AREA)
        labels[i] = float(blob)
    return images, labels


def build_explainable_model(out_dir: Path, seed: int = 0) -> Path:
    """Train, convert and write the model files (the Keras model too) and card;
    returns model.tflite."""
    import keras

    from convert.tflite import convert_float

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="stem")(inputs)
    x = keras.layers.ReLU(name="stem_relu")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="last_conv")(x)
    x = keras.layers.ReLU(name="last_conv_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="embedding")(x)
    x = keras.layers.Dense(1, name="logit")(x)
    outputs = keras.layers.Activation("sigmoid", name="probability")(x)
    model = keras.Model(inputs, outputs, name="tiny_explainable")
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy")
    images, labels = _training_set(128, seed)
    model.fit(images, labels, batch_size=16, epochs=12, verbose=0)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "model.keras")
    content = convert_float(model, explain=True)
    (out_dir / "model.tflite").write_bytes(content)
    (out_dir / "model_float.tflite").write_bytes(content)
    metrics = BinaryMetrics(n=40, accuracy=0.9, auc=0.95, sensitivity=0.95, specificity=0.85,
                            precision=0.86, f1=0.9, f2=0.93, threshold=0.5,
                            tp=19, fp=3, tn=17, fn=1)
    card = ModelCard(
        name="tiny-explainable",
        architecture="tiny-cnn",
        preprocessing=Preprocessing(input_size=INPUT_SIZE),
        threshold=0.5,
        metrics={"test": metrics},
        training=TrainingRecord(train_images=128, validation_images=0, test_images=40),
        files={name: sha256_file(out_dir / name) for name in ("model.tflite",
                                                              "model_float.tflite")},
    )
    card.save(out_dir / CARD_FILENAME)
    bind_folder(out_dir)  # models are refused unless bound to their card
    return out_dir / "model.tflite"


def cached_model(base: Path) -> Path:
    """:func:`build_explainable_model` once per pytest base temp folder."""
    out = Path(base) / "desktop-explainable"
    model = out / "model.tflite"
    if not all((out / name).is_file() for name in (CARD_FILENAME, "model_float.tflite",
                                                   "model.keras")):
        build_explainable_model(out)
    return model


def write_png(path: Path, pixels: np.ndarray) -> Path:
    """An 8-bit PNG of [0, 1] pixels."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


def write_dicom(path: Path, pixels: np.ndarray, **tags: str) -> Path:
    """A 12-bit MONOCHROME2 DX DICOM of ``pixels`` with full patient tags."""
    values = {"Modality": "DX", "PatientName": "Test^Patient", "PatientID": "P123",
              "PatientAge": "042Y", "PatientSex": "F", "StudyDate": "20240315",
              "StudyDescription": "CHEST PA", "InstitutionName": "Test Hospital",
              "ViewPosition": "PA"}
    values.update(tags)
    return tinymodel.write_dicom(
        path, pixels, modality=values.pop("Modality"), view=values.pop("ViewPosition"),
        patient_id=values.pop("PatientID"), patient_name=values.pop("PatientName"), **values)


def make_folder(root: Path) -> dict[str, Path]:
    """Two films of each class, a DICOM with patient tags and a broken file."""
    files = {
        "pneumonia_1": write_png(root / "a_pneumonia.png", film(11, True)),
        "normal_1": write_png(root / "b_normal.png", film(12, False)),
        "dicom": write_dicom(root / "c_patient.dcm", film(13, True)),
        "normal_2": write_png(root / "sub" / "d_normal.png", film(14, False)),
    }
    bad = root / "e_broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    files["bad"] = bad
    return files


def app_env(settings: Path, model: Path | None = None) -> dict[str, str]:
    """Environment for running the app in a subprocess (offscreen, isolated)."""
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", PNEUMO_SETTINGS=str(settings),
               PYTHONPATH=str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    if model is not None:
        env["PNEUMO_MODEL"] = str(model)
    return env


def run_app(args: list[str], env: dict[str, str], timeout: float = 120) -> Any:
    """``desktop.app.main(args)`` in a fresh interpreter."""
    code = "import sys; from desktop.app import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)
