"""Run a LiteRT (``.tflite``) pneumonia model on preprocessed images.

:class:`ModelRunner` loads a model with ``ai_edge_litert`` (never TensorFlow),
checks it against its model card (sha256, input size, dtype) and turns images
into :class:`Prediction` objects. The LiteRT interpreter is not thread-safe:
use one runner from one thread at a time (create one runner per thread if you
need parallel inference).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pneumo.errors import ModelError
from pneumo.films.imaging import LoadedImage
from pneumo.model.card import ModelCard
from pneumo.model.litert import LiteRTModel, load_interpreter
from pneumo.model.preprocess import preprocess

#: Signature keys tried first, in order; then the only signature, then the
#: first one whose name does not look like an auxiliary one ("explain", ...).
_PREFERRED_SIGNATURES = ("serving_default", "serve", "predict")
_AUX_SIGNATURE_WORDS = ("explain", "cam", "saliency", "feature", "embed")
#: Output names tried first for the probability, in order.
_PREFERRED_OUTPUTS = ("probability", "output_0", "output", "probabilities")
_MAX_CHUNK = 32
_QUANTISED = (np.int8, np.uint8)


@dataclass(frozen=True)
class Prediction:
    """A classification: the label at ``threshold`` and the probability."""

    label: str
    probability: float
    threshold: float


class ModelRunner(LiteRTModel):
    """A loaded LiteRT model plus its card.

    ``card`` defaults to ``model_card.json`` beside the model. When the card
    lists the model's file name in ``files`` and ``verify`` is true, the file's
    sha256 must match. Not thread-safe: one runner serves one thread at a time.

    Raises :class:`ModelNotFoundError` when the file is missing,
    :class:`ModelIntegrityError` on a sha256 mismatch and :class:`ModelError`
    when LiteRT cannot load the file or its tensors do not fit the card.
    """

    def __init__(
        self,
        model_path: str | Path,
        card: ModelCard | None = None,
        *,
        num_threads: int = 2,
        verify: bool = True,
    ) -> None:
        super().__init__(model_path, card, num_threads=num_threads, verify=verify)
        self._signature, self._input_name, self._output_name = _choose_io(self._interpreter)
        self._input = self._input_details()
        self._output = self._output_details()
        self._check_tensors()

    # -- public properties -------------------------------------------------
    @property
    def threshold(self) -> float:
        """The card's decision threshold for this model file."""
        return self._card.threshold_for(self._path)

    @property
    def input_dtype(self) -> np.dtype[Any]:
        """``float32``, ``int8`` or ``uint8``; quantisation is done for you."""
        dtype: np.dtype[Any] = np.dtype(self._input["dtype"])
        return dtype

    @property
    def is_quantised(self) -> bool:
        """True for an integer (int8/uint8) input tensor."""
        return self.input_dtype.type in _QUANTISED

    # -- inference -----------------------------------------------------------
    def predict(self, model_input: np.ndarray) -> float:
        """Pneumonia probability for one preprocessed input of shape (S, S, 1)."""
        arr = np.asarray(model_input, dtype=np.float32)
        if arr.shape != (self.input_size, self.input_size, 1):
            raise ValueError(
                f"expected an input of shape {(self.input_size, self.input_size, 1)}, "
                f"got {arr.shape}"
            )
        return float(self._invoke(arr[np.newaxis])[0])

    def predict_batch(self, inputs: np.ndarray) -> np.ndarray:
        """Probabilities (N,) for preprocessed inputs of shape (N, S, S, 1).

        Models with a dynamic batch dimension run in chunks; others one by one.
        """
        arr = np.asarray(inputs, dtype=np.float32)
        s = self.input_size
        if arr.ndim != 4 or arr.shape[1:] != (s, s, 1):
            raise ValueError(f"expected inputs of shape (N, {s}, {s}, 1), got {arr.shape}")
        if len(arr) == 0:
            return np.zeros((0,), dtype=np.float64)
        step = _MAX_CHUNK if int(self._input["shape_signature"][0]) == -1 else 1
        parts = [self._invoke(arr[i : i + step]) for i in range(0, len(arr), step)]
        return np.concatenate(parts)

    def classify(self, image: LoadedImage, threshold: float | None = None) -> Prediction:
        """Preprocess ``image`` as the card says and classify it.

        ``threshold`` overrides the card's decision threshold.
        """
        t = self.threshold if threshold is None else float(threshold)
        p = self.predict(preprocess(image, self._card.preprocessing))
        return Prediction(label=self._card.label_for(p, t), probability=p, threshold=t)

    # -- internals -------------------------------------------------------------
    def _input_details(self) -> dict[str, Any]:
        if self._signature is None:
            return dict(self._interpreter.get_input_details()[0])
        runner = self._interpreter.get_signature_runner(self._signature)
        return dict(runner.get_input_details()[self._input_name])

    def _output_details(self) -> dict[str, Any]:
        if self._signature is None:
            return dict(self._interpreter.get_output_details()[0])
        runner = self._interpreter.get_signature_runner(self._signature)
        return dict(runner.get_output_details()[self._output_name])

    def _check_tensors(self) -> None:
        s = self.input_size
        shape = tuple(int(d) for d in self._input["shape"])
        if len(shape) != 4 or shape[1:] != (s, s, 1):
            raise ModelError(
                f"{self._path}: model input has shape {shape}, but its model card "
                f"expects (1, {s}, {s}, 1)"
            )
        for what, det in (("input", self._input), ("output", self._output)):
            dtype = np.dtype(det["dtype"])
            if dtype.type in _QUANTISED:
                if _quant(det)[0] == 0.0:
                    raise ModelError(
                        f"{self._path}: {dtype} model {what} has no quantisation parameters"
                    )
            elif dtype != np.float32:
                raise ModelError(f"{self._path}: unsupported model {what} dtype {dtype}")

    def _invoke(self, batch: np.ndarray) -> np.ndarray:
        x = _quantise(batch, self._input)
        try:
            if self._signature is None:
                it = self._interpreter
                index = self._input["index"]
                if tuple(it.get_input_details()[0]["shape"]) != x.shape:
                    it.resize_tensor_input(index, x.shape)
                    it.allocate_tensors()
                it.set_tensor(index, x)
                it.invoke()
                raw = it.get_tensor(self._output["index"])
            else:
                runner = self._interpreter.get_signature_runner(self._signature)
                raw = runner(**{self._input_name: x})[self._output_name]
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"{self._path}: inference failed ({exc})") from None
        out = _dequantise(np.asarray(raw), self._output).reshape(len(batch), -1)
        if out.shape[1] != 1:
            raise ModelError(f"{self._path}: expected one output per image, got {out.shape[1]}")
        probs = out[:, 0]
        if not np.all(np.isfinite(probs)):
            raise ModelError(f"{self._path}: model produced a non-finite probability")
        clipped: np.ndarray = np.clip(probs, 0.0, 1.0)
        return clipped


def _choose_io(interpreter: Any) -> tuple[str | None, str, str]:
    """(signature key or None for the main graph, input name, output name)."""
    signatures: dict[str, dict[str, list[str]]] = interpreter.get_signature_list()
    if not signatures:
        return None, "", ""
    key = next((k for k in _PREFERRED_SIGNATURES if k in signatures), None)
    if key is None:
        keys = list(signatures)
        plain = [k for k in keys if not any(w in k.lower() for w in _AUX_SIGNATURE_WORDS)]
        key = (plain or keys)[0]
    runner = interpreter.get_signature_runner(key)
    inputs = list(runner.get_input_details())
    outputs: dict[str, dict[str, Any]] = runner.get_output_details()
    if len(inputs) != 1 or not outputs:
        raise ModelError(
            f"model signature {key!r} has {len(inputs)} inputs and {len(outputs)} outputs; "
            "expected one image input and a probability output"
        )
    return key, inputs[0], _choose_output(interpreter, outputs)


def _choose_output(interpreter: Any, outputs: dict[str, dict[str, Any]]) -> str:
    """The probability among a signature's outputs (named dict, sorted by name).

    A preferred name wins; else the only output with one value per image; else
    the one that is the main graph's first output; else the first by name.
    """
    for name in _PREFERRED_OUTPUTS:
        if name in outputs:
            return name
    scalar = [n for n, d in outputs.items() if int(np.prod(d["shape"][1:])) == 1]
    if len(scalar) == 1:
        return scalar[0]
    first_index = interpreter.get_output_details()[0]["index"]
    by_index = [n for n, d in outputs.items() if d["index"] == first_index]
    return by_index[0] if by_index else min(outputs)


def _quant(det: dict[str, Any]) -> tuple[float, int]:
    scale, zero = det.get("quantization", (0.0, 0))
    return float(scale), int(zero)


def _quantise(x: np.ndarray, det: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(det["dtype"])
    if dtype == np.float32:
        return np.ascontiguousarray(x, dtype=np.float32)
    scale, zero = _quant(det)
    info = np.iinfo(dtype)
    q = np.round(x / scale + zero)
    return np.clip(q, info.min, info.max).astype(dtype)


def _dequantise(y: np.ndarray, det: dict[str, Any]) -> np.ndarray:
    if np.dtype(det["dtype"]).type in _QUANTISED:
        scale, zero = _quant(det)
        return (y.astype(np.float64) - zero) * scale
    return y.astype(np.float64)


def tflite_input_spec(path: str | Path) -> tuple[np.dtype[Any], tuple[int, ...]]:
    """Dtype and shape of a ``.tflite`` model's (main) input, without a card.

    Raises :class:`ModelError` when LiteRT cannot load the file.
    """
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model ({exc.strerror or exc})") from None
    interpreter = load_interpreter(path, content, 1)
    key, name, _ = _choose_io(interpreter)
    if key is None:
        det = interpreter.get_input_details()[0]
    else:
        det = interpreter.get_signature_runner(key).get_input_details()[name]
    return np.dtype(det["dtype"]), tuple(int(d) for d in det["shape"])
