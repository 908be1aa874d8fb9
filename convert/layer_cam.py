"""Grad-CAM at every convolution layer of a Keras model: the seed notebook's animation.

``pneumo explain FILE --layers`` draws one frame per convolution layer. Each
layer's feature maps are taken after the elementwise layers that directly
follow it (BatchNormalization, ReLU), as the shipped ``explain`` signature
does for ``last_conv`` (:func:`convert.explain.follow_elementwise`), and the
target is the ``logit`` (the positive class). Only the model's own top-level
layers count: a backbone nested as one layer (the transfer architectures) is
one layer here, so it gives no frames of its own.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from convert.explain import LOGIT, consumers_of, follow_elementwise
from pneumo.errors import ModelError

CONV_TYPES = (keras.layers.Conv2D, keras.layers.SeparableConv2D, keras.layers.DepthwiseConv2D)


def conv_layer_names(model: keras.Model) -> list[str]:
    """The model's top-level convolution layers, in order."""
    return [layer.name for layer in model.layers if isinstance(layer, CONV_TYPES)]


def gradcams(model: keras.Model, model_input: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(layer name, raw Grad-CAM (h, w) >= 0) for every convolution layer of ``model``.

    ``model_input`` is one preprocessed image (S, S, 1). The maps are not
    normalised (0 everywhere: nothing at that layer argues for the positive class).
    """
    names = conv_layer_names(model)
    if not names:
        raise ModelError(f"model {model.name!r} has no convolution layers of its own")
    consumers = consumers_of(model)
    features = [follow_elementwise(model.get_layer(n), consumers).output for n in names]
    target = model.get_layer(LOGIT).output if LOGIT in {
        layer.name for layer in model.layers} else model.outputs[0]
    probe = keras.Model(model.inputs[0], [*features, target])
    x = tf.convert_to_tensor(np.asarray(model_input, dtype=np.float32)[np.newaxis])
    with tf.GradientTape() as tape:
        *maps, logit = probe(x, training=False)
        total = tf.reduce_sum(logit)
    grads = tape.gradient(total, maps)
    out = []
    for name, fmap, grad in zip(names, maps, grads, strict=True):
        alpha = tf.reduce_mean(grad, axis=[1, 2])
        cam = tf.nn.relu(tf.reduce_sum(fmap * alpha[:, tf.newaxis, tf.newaxis, :], axis=-1))
        out.append((name, np.asarray(cam[0], dtype=np.float32)))
    return out


def layer_gradcams(keras_file: Path, model_input: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """:func:`gradcams` of the Keras model saved at ``keras_file``."""
    try:
        model = keras.models.load_model(keras_file, compile=False)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{keras_file}: cannot load Keras model ({exc})") from None
    return gradcams(model, model_input)
