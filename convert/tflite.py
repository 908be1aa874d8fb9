"""Keras model to LiteRT flatbuffers: float32 with Grad-CAM, and full-integer int8.

Both go through a SavedModel written by :class:`keras.export.ExportArchive`,
which tracks the model's variables (a plain ``tf.Module`` holding the model
converts "successfully" but leaves the variables uninitialised: NaN outputs).
Inputs have a fixed batch of one: every shape is static, shape arithmetic is
folded away and XNNPACK takes the whole graph as one partition.

* ``model_float.tflite``: signatures ``serving_default`` (``probability``) and
  ``explain`` (``probability``, ``heatmap``, ``embedding``; see
  :mod:`convert.explain`). Weights are stored once for both signatures.
* ``model.tflite``: ``serving_default`` only, calibrated on real training
  images, int8 (or uint8) input; every op up to the logit int8, then by
  default a float32 sigmoid and a float32 probability output (or, with
  ``float_sigmoid=False``, every op int8 and an int8 probability).
  Dynamic-range quantisation is never produced (:func:`float_ops` checks).
"""

from __future__ import annotations

import tempfile
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from convert.explain import ExplainPlan, make_explain_fn, plan_explain
from pneumo.errors import ModelError

SERVING = "serving_default"
EXPLAIN = "explain"
IO_TYPES = {"int8": tf.int8, "uint8": tf.uint8}


@dataclass(frozen=True)
class TensorQuantisation:
    """dtype, scale and zero point of a model input or output tensor."""

    dtype: str
    scale: float
    zero_point: int


@dataclass(frozen=True)
class Quantisation:
    """How the int8 model's input and output are quantised, and what stays float."""

    input: TensorQuantisation
    output: TensorQuantisation
    float_ops: tuple[str, ...]

    @property
    def scheme(self) -> str:
        """A one-line description for the card."""
        if not self.float_ops:
            return "full-integer int8: every op int8, per-channel weights"
        return (f"int8 compute (per-channel weights) with float32 {', '.join(self.float_ops)} "
                "at the output")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored in the model card."""
        return {**asdict(self), "float_ops": list(self.float_ops), "scheme": self.scheme}


def load_keras_model(path: str | Path) -> keras.Model:
    """Load a ``.keras`` file for inference; a bad file raises :class:`ModelError`."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: Keras model not found")
    try:
        return keras.models.load_model(path, compile=False)
    except (ValueError, OSError, TypeError, KeyError, AttributeError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{path}: cannot load Keras model ({type(exc).__name__}: {exc})") \
            from None


def input_size_of(model: keras.Model) -> int:
    """Side S of the model's (S, S, 1) input."""
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3 or shape[0] != shape[1] or shape[2] != 1 or shape[0] is None:
        raise ModelError(f"model {model.name!r}: expected an (S, S, 1) input, got {shape}")
    return int(shape[0])


def _spec(model: keras.Model) -> list[tf.TensorSpec]:
    s = input_size_of(model)
    return [tf.TensorSpec([1, s, s, 1], tf.float32, name="image")]


def export_saved_model(model: keras.Model, directory: Path, *, explain: bool,
                       plan: ExplainPlan | None = None) -> Path:
    """Write a SavedModel with ``serving_default`` (and ``explain`` if asked)."""
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probability": model(image, training=False)}

    archive.add_endpoint(SERVING, serve, input_signature=_spec(model))
    if explain:
        archive.add_endpoint(EXPLAIN, make_explain_fn(model, plan or plan_explain(model)),
                             input_signature=_spec(model))
    archive.write_out(str(directory), verbose=False)
    return directory


def _convert(saved_model: Path, keys: Sequence[str], converter_setup: Any = None) -> bytes:
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model),
                                                         signature_keys=list(keys))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if converter_setup is not None:
        converter_setup(converter)
    from tensorflow.lite.python.convert_phase import ConverterError

    try:
        with warnings.catch_warnings():  # calibration runs the deprecated tf.lite.Interpreter
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            return bytes(converter.convert())
    except (ConverterError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"TFLite conversion failed: {first}") from None


def convert_float(model: keras.Model, *, explain: bool = True,
                  plan: ExplainPlan | None = None) -> bytes:
    """The float32 flatbuffer with ``serving_default`` and (default) ``explain``."""
    with tempfile.TemporaryDirectory(prefix="pneumo-convert-") as tmp:
        saved = export_saved_model(model, Path(tmp) / "saved_model", explain=explain, plan=plan)
        keys = [SERVING, EXPLAIN] if explain else [SERVING]
        return _convert(saved, keys)


def convert_int8(model: keras.Model, calibration: np.ndarray, io_dtype: str = "int8",
                 float_sigmoid: bool = True) -> bytes:
    """The integer flatbuffer, calibrated on ``calibration`` (N, S, S, 1).

    ``io_dtype`` (``"int8"`` or ``"uint8"``) is the input type. With
    ``float_sigmoid`` (the default) every op up to the logit is int8, the
    logit is dequantised and the final sigmoid runs in float32, so the output
    is a float32 probability: an int8 probability has only 256 levels, and on
    a confident model the ties at the top level cost AUC (see the module
    docstring of :mod:`convert.cli`). Without it the output is ``io_dtype`` too.
    """
    if io_dtype not in IO_TYPES:
        raise ModelError(f"unknown int8 I/O type {io_dtype!r}; use int8 or uint8")
    data = np.asarray(calibration, dtype=np.float32)
    s = input_size_of(model)
    if data.ndim != 4 or data.shape[1:] != (s, s, 1) or len(data) == 0:
        raise ModelError(f"calibration data must be (N, {s}, {s}, 1), got {data.shape}")

    def representative() -> Iterator[dict[str, np.ndarray]]:
        for i in range(len(data)):
            yield {"image": data[i : i + 1]}

    def setup(converter: Any) -> None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        if float_sigmoid:  # calibrate here, quantise below with the sigmoid left in float
            converter._experimental_calibrate_only = True
            return
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = IO_TYPES[io_dtype]
        converter.inference_output_type = IO_TYPES[io_dtype]

    with tempfile.TemporaryDirectory(prefix="pneumo-convert-") as tmp:
        saved = export_saved_model(model, Path(tmp) / "saved_model", explain=False)
        content = _convert(saved, [SERVING], setup)
    if not float_sigmoid:
        return content
    return _quantise_but_sigmoid(content, io_dtype)


def _quantise_but_sigmoid(calibrated: bytes, io_dtype: str) -> bytes:
    """Quantise a calibrated model except the op producing ``probability``.

    Uses TensorFlow's selective quantisation (``mlir_quantize`` with
    ``denylisted_nodes``, the mechanism behind
    ``tf.lite.experimental.QuantizationDebugger``): only that one node is left
    in float, so a sigmoid inside the network (e.g. swish) is still int8.
    """
    from ai_edge_litert.interpreter import Interpreter
    from tensorflow.lite.python import convert as tfl_convert
    from tensorflow.lite.python.convert_phase import ConverterError

    interpreter = Interpreter(model_content=calibrated,
                              experimental_op_resolver_type=_builtin_resolver())
    out_index = interpreter._get_full_signature_list()[SERVING]["outputs"]["probability"]
    producers = [op for op in interpreter._get_ops_details() if out_index in op["outputs"]]
    if len(producers) != 1 or producers[0]["op_name"] != "LOGISTIC":
        raise ModelError("int8 conversion: the model's probability is not produced by a sigmoid")
    name = interpreter._get_tensor_details(out_index, subgraph_index=0)["name"]
    try:
        return bytes(tfl_convert.mlir_quantize(
            calibrated, fully_quantize=False, input_data_type=IO_TYPES[io_dtype],
            output_data_type=tf.float32, denylisted_nodes=[name]))
    except (ConverterError, ValueError, RuntimeError) as exc:
        raise ModelError(f"int8 quantisation failed: {exc}") from None


def quantisation_of(content: bytes) -> Quantisation:
    """Read the input/output quantisation of a flatbuffer's serving signature."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    runner = interpreter.get_signature_runner(SERVING)
    (inp,) = runner.get_input_details().values()
    out = runner.get_output_details()["probability"]

    def one(det: dict[str, Any]) -> TensorQuantisation:
        scale, zero = det.get("quantization", (0.0, 0))
        return TensorQuantisation(np.dtype(det["dtype"]).name, float(scale), int(zero))

    return Quantisation(input=one(inp), output=one(out), float_ops=tuple(float_ops(content)))


def float_ops(content: bytes) -> list[str]:
    """Names of the main graph's ops that compute in float32, in graph order.

    ``QUANTIZE``/``DEQUANTIZE`` (the boundaries) are not counted. A
    full-integer model gives ``[]``, the float-sigmoid int8 model
    ``["LOGISTIC"]``; dynamic-range quantisation would list every layer.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content,
                              experimental_op_resolver_type=_builtin_resolver())
    interpreter.allocate_tensors()
    found = []
    for op in interpreter._get_ops_details():
        if op["op_name"] in ("QUANTIZE", "DEQUANTIZE"):
            continue
        if any(np.dtype(t) == np.float32 for t in op["operand_types"] + op["result_types"]):
            found.append(str(op["op_name"]))
    return found


def _builtin_resolver() -> Any:
    from ai_edge_litert.interpreter import OpResolverType

    return OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
