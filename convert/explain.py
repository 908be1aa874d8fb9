"""Grad-CAM as a TFLite signature, written with builtin ops only.

LiteRT runs builtin ops only, and TensorFlow's gradients of ReLU and max
pooling (``ReluGrad``, ``MaxPoolGrad``) are not builtins. So the ``explain``
signature does not differentiate automatically: it runs the head forward with
the model's own layers and writes the (exact) backward pass of the head by hand:

* Dense: ``g @ kernel.T``, masked by ``output > 0`` when its activation is ReLU;
  ReLU layers likewise; inference BatchNormalization multiplies by
  ``gamma / sqrt(var + eps)``; Dropout passes ``g`` through;
* Flatten reshapes ``g`` back to the feature grid; global average pooling over
  ``h' x w'`` positions spreads ``g / (h' w')``, so its per-channel sum is ``g``;
* max pooling (and global max pooling) hands each output's gradient to exactly
  one input position, so it keeps the per-channel sum of the gradient.

Grad-CAM needs only ``alpha_k = mean_ij d logit / d A_k(i, j)``, i.e. the
per-channel sum of the gradient over the ``h x w`` feature grid divided by
``h w``, so the sums above are all it needs; the heat map is
``ReLU(sum_k alpha_k A_k)``. For a GAP + Dense head this is the analytic
``alpha_k = w_k / (h w)``. Tests prove equality with ``tf.GradientTape``.

The feature maps ``A`` are the output of the layer ``last_conv``, followed
through the elementwise layers that directly follow it (pneumonet's
``last_conv_bn`` and ``last_conv_relu``), found from the loaded model's graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pneumo.errors import ModelError

LAST_CONV = "last_conv"
EMBEDDING = "embedding"
LOGIT = "logit"
PROBABILITY = "probability"
#: Layers that continue the feature maps elementwise (Grad-CAM takes their output).
_ELEMENTWISE = (keras.layers.BatchNormalization, keras.layers.ReLU, keras.layers.Activation,
                keras.layers.LeakyReLU, keras.layers.ELU)
#: Layers that hand each output's gradient to one input (they keep channel sums).
_SUM_KEEPING = (keras.layers.MaxPooling2D, keras.layers.GlobalMaxPooling2D,
                keras.layers.Dropout, keras.layers.SpatialDropout2D,
                keras.layers.GaussianNoise, keras.layers.GaussianDropout)
_IDENTITY = (keras.layers.Dropout, keras.layers.GaussianNoise, keras.layers.GaussianDropout,
             keras.layers.SpatialDropout2D)

ExplainFn = Callable[[tf.Tensor], dict[str, tf.Tensor]]


@dataclass(frozen=True)
class ExplainPlan:
    """Where Grad-CAM reads the model: feature layer and the head after it."""

    feature_layer: str
    head: tuple[str, ...]
    feature_shape: tuple[int, int, int]


def _producer(layer: Any) -> Any | None:
    if isinstance(layer, keras.layers.InputLayer):
        return None
    history = getattr(layer.input, "_keras_history", None)
    return None if history is None else history.operation


def consumers_of(model: keras.Model) -> dict[str, list[Any]]:
    """Layer name -> the layers that take its output."""
    out: dict[str, list[Any]] = {layer.name: [] for layer in model.layers}
    for layer in model.layers:
        inputs = [] if isinstance(layer, keras.layers.InputLayer) else layer.input
        if isinstance(inputs, list | tuple) and len(inputs) != 1:
            for tensor in inputs:
                op = tensor._keras_history.operation
                out.setdefault(op.name, []).append(layer)
            continue
        parent = _producer(layer)
        if parent is not None:
            out.setdefault(parent.name, []).append(layer)
    return out


def follow_elementwise(layer: Any, consumers: dict[str, list[Any]]) -> Any:
    """The last of the elementwise layers (BN, ReLU, ...) that directly follow
    ``layer`` one after another, or ``layer`` itself: its feature maps for Grad-CAM."""
    current = layer
    while True:
        nxt = consumers.get(current.name, [])
        if len(nxt) == 1 and isinstance(nxt[0], _ELEMENTWISE) and len(nxt[0].output.shape) == 4:
            current = nxt[0]
        else:
            return current


def plan_explain(model: keras.Model) -> ExplainPlan:
    """Find the Grad-CAM feature maps and the chain of head layers to ``logit``.

    Raises :class:`ModelError` when the model lacks ``last_conv``/``logit`` or
    the head is not a single chain of layers.
    """
    names = {layer.name for layer in model.layers}
    for needed in (LAST_CONV, LOGIT):
        if needed not in names:
            raise ModelError(f"model {model.name!r} has no layer named {needed!r}")
    consumers = consumers_of(model)
    current = follow_elementwise(model.get_layer(LAST_CONV), consumers)
    shape = tuple(int(d) for d in current.output.shape[1:])
    if len(shape) != 3:
        raise ModelError(f"layer {current.name!r} is not a (h, w, c) feature map: {shape}")
    head: list[str] = []
    layer = current
    while layer.name != LOGIT:
        nxt = consumers.get(layer.name, [])
        if len(nxt) != 1:
            raise ModelError(
                f"Grad-CAM export: the head after {current.name!r} is not a chain of layers "
                f"({layer.name!r} feeds {len(nxt)} layers)")
        layer = nxt[0]
        head.append(layer.name)
    return ExplainPlan(current.name, tuple(head), (shape[0], shape[1], shape[2]))


def _positive(y: tf.Tensor) -> tf.Tensor:
    """``1.0`` where ``y > 0``, else ``0.0``, for ``y >= 0`` (a ReLU output).

    ``ceil(min(y, 1))`` is exact for every non-negative float and uses ops
    XNNPACK delegates (``GREATER`` + ``CAST`` would split the graph).
    """
    return tf.math.ceil(tf.minimum(y, 1.0))


def _is_relu(fn: Any) -> bool:
    return getattr(fn, "__name__", "") == "relu"


def _is_linear(fn: Any) -> bool:
    return fn is None or getattr(fn, "__name__", "") == "linear"


def _backward(layer: Any, x: tf.Tensor, y: tf.Tensor, g: tf.Tensor) -> tf.Tensor:
    """Gradient with respect to the input of a non-spatial head layer."""
    if isinstance(layer, _IDENTITY):
        return g
    if isinstance(layer, keras.layers.Dense):
        if _is_relu(layer.activation):
            g = g * _positive(y)
        elif not _is_linear(layer.activation):
            raise ModelError(f"Grad-CAM export: Dense {layer.name!r} activation "
                             f"{layer.activation.__name__} is not supported")
        return tf.matmul(g, tf.convert_to_tensor(layer.kernel), transpose_b=True)
    if isinstance(layer, keras.layers.ReLU) and not layer.max_value and not layer.negative_slope \
            and not layer.threshold:
        return g * _positive(y)
    if isinstance(layer, keras.layers.Activation):
        if _is_relu(layer.activation):
            return g * _positive(y)
        if _is_linear(layer.activation):
            return g
    if isinstance(layer, keras.layers.BatchNormalization):
        factor = tf.math.rsqrt(tf.convert_to_tensor(layer.moving_variance) + layer.epsilon)
        if layer.scale:
            factor = factor * tf.convert_to_tensor(layer.gamma)
        return g * factor
    raise ModelError(f"Grad-CAM export: head layer {layer.name!r} ({type(layer).__name__}) "
                     "is not supported")


def _channel_sums(model: keras.Model, spatial: list[Any], reducer: Any, x: tf.Tensor,
                  g: tf.Tensor) -> tf.Tensor:
    """Per-channel sums of d logit / d A, from the gradient ``g`` of ``reducer``'s output."""
    for layer in spatial:
        if not isinstance(layer, _SUM_KEEPING):
            raise ModelError(f"Grad-CAM export: layer {layer.name!r} ({type(layer).__name__}) "
                             "between the feature maps and the head is not supported")
    if isinstance(reducer, keras.layers.Flatten):
        grid = tf.reshape(g, [-1, *(int(d) for d in x.shape[1:])])
        return tf.reduce_sum(grid, axis=[1, 2])
    if isinstance(reducer, keras.layers.GlobalAveragePooling2D | keras.layers.GlobalMaxPooling2D):
        if getattr(reducer, "keepdims", False):
            return tf.reshape(g, [-1, g.shape[-1]])
        return g
    raise ModelError(f"Grad-CAM export: layer {reducer.name!r} ({type(reducer).__name__}) "
                     "cannot reduce the feature maps")


def make_explain_fn(model: keras.Model, plan: ExplainPlan | None = None) -> ExplainFn:
    """A TF function ``image -> {probability (N, 1), heatmap (N, h, w), embedding (N, d)}``.

    ``heatmap`` is raw Grad-CAM (ReLU'd, not normalised); builtin ops only.
    """
    plan = plan or plan_explain(model)
    features = keras.Model(model.inputs[0], model.get_layer(plan.feature_layer).output)
    head = [model.get_layer(n) for n in plan.head]
    prob_layer = model.get_layer(PROBABILITY) if PROBABILITY in {
        layer.name for layer in model.layers} else None
    h, w, _ = plan.feature_shape

    def explain(image: tf.Tensor) -> dict[str, tf.Tensor]:
        maps = features(image, training=False)
        trace: list[tuple[Any, tf.Tensor, tf.Tensor]] = []
        x = maps
        embedding = None
        for layer in head:
            y = layer(x, training=False)
            trace.append((layer, x, y))
            if layer.name == EMBEDDING:
                embedding = y
            x = y
        logit = x
        g = tf.ones_like(logit)
        sums = None
        for i in range(len(trace) - 1, -1, -1):
            layer, x_in, y_out = trace[i]
            if len(x_in.shape) == 4:  # this layer reduces the grid to a vector
                spatial = [t[0] for t in trace[:i]]
                sums = _channel_sums(model, spatial, layer, x_in, g)
                break
            g = _backward(layer, x_in, y_out, g)
        if sums is None:
            raise ModelError("Grad-CAM export: no layer of the head reduces the feature maps")
        alpha = sums / float(h * w)
        cam = tf.nn.relu(tf.reduce_sum(maps * alpha[:, tf.newaxis, tf.newaxis, :], axis=-1))
        probability = prob_layer(logit) if prob_layer is not None else tf.sigmoid(logit)
        if embedding is None:
            embedding = tf.reduce_mean(maps, axis=[1, 2])
        return {"probability": probability, "heatmap": cam, "embedding": embedding}

    return explain


def reference_gradcam(model: keras.Model, images: np.ndarray,
                      plan: ExplainPlan | None = None) -> np.ndarray:
    """Grad-CAM (N, h, w) by ``tf.GradientTape`` on the Keras model: the reference."""
    plan = plan or plan_explain(model)
    probe = keras.Model(model.inputs[0], [model.get_layer(plan.feature_layer).output,
                                       model.get_layer(LOGIT).output])
    x = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    with tf.GradientTape() as tape:
        maps, logit = probe(x, training=False)
        tape.watch(maps)
        total = tf.reduce_sum(logit)
    grads = tape.gradient(total, maps)
    alpha = tf.reduce_mean(grads, axis=[1, 2])
    cam = tf.nn.relu(tf.reduce_sum(maps * alpha[:, tf.newaxis, tf.newaxis, :], axis=-1))
    return np.asarray(cam, dtype=np.float32)


def heatmap_agreement(ours: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(Pearson correlation, max abs difference) of two heat maps in ``[0, 1]``.

    Two constant maps correlate 1.0 when equal (e.g. both all zeros), else 0.0.
    """
    a = np.asarray(ours, dtype=np.float64).ravel()
    b = np.asarray(reference, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"heat maps differ in shape: {a.shape} vs {b.shape}")
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    if a.std() == 0.0 or b.std() == 0.0:
        return (1.0 if diff <= 1e-6 else 0.0), diff
    return float(np.corrcoef(a, b)[0, 1]), diff
