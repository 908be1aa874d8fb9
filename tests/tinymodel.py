"""Test helper: a tiny trained classifier as a LiteRT model plus its model card.

:func:`build_tiny_tflite` needs TensorFlow (the ``train`` extra); it is only
imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pneumo.model.bind import bind_folder
from pneumo.model.card import CARD_FILENAME, ModelCard, sha256_file
from pneumo.model.preprocess import Preprocessing

KERAS_FILENAME = "model.keras"
TFLITE_FILENAME = "model.tflite"


def synthetic_batch(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images (N, S, S, 1) in [0, 1] and labels: bright blob = positive."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    images = np.empty((n, size, size, 1), dtype=np.float32)
    labels = np.zeros((n,), dtype=np.float32)
    for i in range(n):
        img = 0.25 + 0.1 * rng.standard_normal((size, size)).astype(np.float32)
        if i % 2 == 1:
            cy, cx = rng.uniform(size * 0.25, size * 0.75, size=2)
            radius = rng.uniform(size * 0.1, size * 0.25)
            img += 0.6 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
            labels[i] = 1.0
        images[i, :, :, 0] = np.clip(img, 0.0, 1.0)
    return images, labels


def _build_keras(input_size: int, seed: int) -> Any:
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((input_size, input_size, 1), name="image")
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization(momentum=0.5)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(1, name="logit")(x)
    outputs = keras.layers.Activation("sigmoid", name="probability")(x)
    model = keras.Model(inputs, outputs, name="tiny")
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    images, labels = synthetic_batch(64, input_size, seed=seed)
    model.fit(images, labels, batch_size=16, epochs=4, verbose=0)
    return model


def _convert(model: Any, input_size: int, int8: bool) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        calib, _ = synthetic_batch(32, input_size, seed=123)

        def representative() -> Any:
            for i in range(len(calib)):
                yield [calib[i : i + 1]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with warnings.catch_warnings():  # "Statistics for quantized inputs were expected"
        warnings.simplefilter("ignore", UserWarning)
        return bytes(converter.convert())


def build_tiny_tflite(
    out_dir: str | Path, input_size: int = 64, int8: bool = False, seed: int = 0
) -> Path:
    """Train a tiny model, write ``model.tflite``, ``model.keras`` and the card.

    The card has ``Preprocessing(input_size=input_size)`` and the sha256 of
    ``model.tflite``. Returns the path of ``model.tflite``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = _build_keras(input_size, seed)
    model.save(out / KERAS_FILENAME)
    tflite_path = out / TFLITE_FILENAME
    tflite_path.write_bytes(_convert(model, input_size, int8))
    card = ModelCard(
        name="tiny-int8" if int8 else "tiny",
        architecture="tiny-cnn",
        preprocessing=Preprocessing(input_size=input_size),
        threshold=0.5,
        files={TFLITE_FILENAME: sha256_file(tflite_path)},
    )
    card.save(out / CARD_FILENAME)
    bind_folder(out)  # models are refused unless bound to their card
    return tflite_path


def cached_tiny_tflite(base: Path, input_size: int = 64, int8: bool = False) -> Path:
    """:func:`build_tiny_tflite` into ``base/tiny-S-kind``, built once per ``base``.

    Pass ``tmp_path_factory.getbasetemp()`` so that test modules of one pytest
    session share the model without a shared fixture.
    """
    out = Path(base) / f"tiny-{input_size}-{'int8' if int8 else 'float'}"
    model = out / TFLITE_FILENAME
    if not (model.is_file() and (out / CARD_FILENAME).is_file()):
        build_tiny_tflite(out, input_size=input_size, int8=int8)
    return model


def keras_predict(model_dir: Path, inputs: np.ndarray) -> np.ndarray:
    """Probabilities (N,) of the Keras model saved beside a tiny tflite."""
    import keras

    model = keras.models.load_model(Path(model_dir) / KERAS_FILENAME)
    return np.asarray(model.predict(inputs, verbose=0), dtype=np.float64).reshape(-1)


def build_multi_output_tflite(keras_dir: str | Path, out_path: str | Path) -> Path:
    """Re-export the Keras model of ``keras_dir`` with two outputs.

    The serving signature returns ``{"heatmap": conv features, "score":
    probability}``: no conventional output name, and not the probability
    first by name, so a runner must find the one-value-per-image output.
    """
    import keras
    import tensorflow as tf

    model = keras.models.load_model(Path(keras_dir) / KERAS_FILENAME)
    size = int(model.input_shape[1])
    both = keras.Model(model.inputs, [model.layers[3].output, model.output])
    archive = keras.export.ExportArchive()
    archive.track(both)
    spec = [tf.TensorSpec([None, size, size, 1], tf.float32, name="image")]

    def serve(x: Any) -> dict[str, Any]:
        heatmap, prob = both(x, training=False)
        return {"heatmap": heatmap, "score": prob}

    archive.add_endpoint("serve", serve, input_signature=spec)
    saved = Path(out_path).with_suffix(".savedmodel")
    archive.write_out(str(saved), verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    out = Path(out_path)
    out.write_bytes(bytes(converter.convert()))
    return out


def film(size: int = 256, seed: int = 0, blob: bool = False) -> np.ndarray:
    """A float [0, 1] film-like test image that passes the input gate."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = 0.2 + 0.3 * np.exp(-(((xx - 0.5) / 0.4) ** 2 + ((yy - 0.5) / 0.45) ** 2))
    img += 0.05 * rng.standard_normal((size, size)).astype(np.float32)
    if blob:
        img += 0.5 * np.exp(-(((xx - 0.35) / 0.12) ** 2 + ((yy - 0.5) / 0.12) ** 2))
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def write_dicom(
    path: str | Path,
    pixels: np.ndarray | None,
    *,
    modality: str = "CR",
    view: str | None = "PA",
    patient_id: str = "PAT-0001",
    patient_name: str = "Doe^Jane",
    **tags: str,
) -> Path:
    """A 12-bit MONOCHROME2 CR (or DX) DICOM file of [0, 1] ``pixels``.

    ``pixels`` None writes no pixel data; ``tags`` set or override any other
    attribute by keyword (``StudyDate="20240315"``).
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    # CR Image Storage, or Digital X-Ray Image Storage - For Presentation
    sop_class = UID("1.2.840.10008.5.1.4.1.1.1.1" if modality == "DX"
                    else "1.2.840.10008.5.1.4.1.1.1")
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientID = patient_id
    ds.PatientName = patient_name
    ds.StudyDate = "20240102"
    ds.StudyDescription = "CHEST 1 VIEW"
    ds.BodyPartExamined = "CHEST"
    if view is not None:
        ds.ViewPosition = view
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    if pixels is not None:
        values = np.round(np.clip(pixels, 0, 1) * 4095).astype(np.uint16)
        ds.Rows, ds.Columns = values.shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelRepresentation = 0
        ds.PixelData = values.tobytes()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(out, enforce_file_format=True)
    return out


@dataclass(frozen=True)
class SampleFolder:
    """A folder of test inputs: ``good`` files, ``bad`` ones (with a substring
    of the expected error) and ``skipped`` ones a walk must not yield."""

    root: Path
    good: tuple[Path, ...]
    bad: dict[Path, str]
    skipped: tuple[Path, ...]

    @property
    def scanned(self) -> list[Path]:
        """Every file a walk yields, in walk (sorted) order."""
        return sorted([*self.good, *self.bad], key=lambda p: p.relative_to(self.root).parts)


def make_scan_folder(root: str | Path, bad: bool = True) -> SampleFolder:
    """Write good images (PNG 8/16 bit, JPEG, TIFF, BMP, DICOM with and without
    an extension) and, if ``bad``, broken files, plus files a walk skips."""
    from PIL import Image

    root = Path(root)
    (root / "sub" / "deeper").mkdir(parents=True, exist_ok=True)
    (root / ".hidden_dir").mkdir(exist_ok=True)

    def u8(seed: int, blob: bool = False) -> np.ndarray:
        return (film(seed=seed, blob=blob) * 255).astype(np.uint8)

    good = [root / "a_normal.png", root / "b_blob.png", root / "sub" / "c16.png"]
    Image.fromarray(u8(1)).save(good[0])
    Image.fromarray(u8(2, True)).save(good[1])
    Image.fromarray((film(seed=3) * 65535).astype(np.uint16)).save(good[2])
    jpeg = root / "sub" / "d.jpeg"
    Image.fromarray(u8(4, True)).save(jpeg, quality=90)
    good += [jpeg, root / "sub" / "deeper" / "e.tif", root / "sub" / "f.BMP"]
    Image.fromarray(u8(5)).save(good[4])
    Image.fromarray(u8(6)).save(good[5])
    good.append(write_dicom(root / "g_cr.dcm", film(seed=7, blob=True)))
    good.append(write_dicom(root / "sub" / "IM0002", film(seed=8), view="LL", modality="DX"))
    skipped = [root / ".hidden.png", root / ".hidden_dir" / "x.png", root / "notes.txt"]
    Image.fromarray(u8(9)).save(skipped[0])
    Image.fromarray(u8(9)).save(skipped[1])
    skipped[2].write_text("not an image\n")
    bad_files: dict[Path, str] = {}
    if bad:
        (root / "bad_empty.png").write_bytes(b"")
        (root / "bad_text.png").write_text("hello, I am text\n" * 20)
        data = jpeg.read_bytes()
        (root / "bad_truncated.jpg").write_bytes(data[: len(data) // 3])
        write_dicom(root / "bad_nopixels.dcm", None)
        from pydicom.data import get_testdata_file

        shutil.copyfile(str(get_testdata_file("CT_small.dcm")), root / "bad_ct.dcm")
        bad_files = {
            root / "bad_empty.png": "",
            root / "bad_text.png": "",
            root / "bad_truncated.jpg": "",
            root / "bad_nopixels.dcm": "pixel data",
            root / "bad_ct.dcm": "modality CT is not a chest radiograph",
        }
    return SampleFolder(root, tuple(good), bad_files, tuple(skipped))
