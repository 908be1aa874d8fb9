"""Model architectures, by name.

Every model takes a one-channel image in ``[0, 1]`` and ends in a layer named
``logit`` (pre-sigmoid) followed by ``probability``; the feature maps Grad-CAM
uses come from the layer named ``last_conv``, and the pooled features the
out-of-distribution score uses from ``embedding``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
from keras import layers

from pneumo.errors import ModelError

LAST_CONV = "last_conv"
EMBEDDING = "embedding"


@dataclass(frozen=True)
class Architecture:
    """A named model builder and its native input size."""

    name: str
    input_size: int
    build: Callable[[int, str | None], keras.Model]
    description: str


def _head(x: keras.KerasTensor, dropout: float) -> keras.KerasTensor:
    x = layers.GlobalAveragePooling2D(name=EMBEDDING)(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Dense(1, name="logit")(x)
    return layers.Activation("sigmoid", name="probability", dtype="float32")(x)


def _conv_bn(x: keras.KerasTensor, filters: int, stride: int, name: str) -> keras.KerasTensor:
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_pneumonet(input_size: int = 224, weights: str | None = None) -> keras.Model:
    """Our default: a small strided CNN (about 0.84 M parameters).

    Conv-BN-ReLU pairs, each stage halving the resolution (224 -> 7), ReLU only
    and BatchNorm (folded at conversion) so that it quantises well to int8,
    and a global-average-pooling head so that Grad-CAM converts to builtin ops.
    """
    if weights:
        raise ModelError("pneumonet trains from scratch; --weights is for transfer backbones")
    inputs = keras.Input((input_size, input_size, 1), name="image")
    x = _conv_bn(inputs, 16, 2, "stem")
    widths = (32, 64, 128)
    for i, width in enumerate(widths):
        x = _conv_bn(x, width, 2, f"stage{i + 1}_down")
        x = _conv_bn(x, width, 1, f"stage{i + 1}_conv")
    x = _conv_bn(x, 192, 2, "stage4_down")
    x = layers.Conv2D(192, 3, padding="same", use_bias=False, name=LAST_CONV)(x)
    x = layers.BatchNormalization(name=f"{LAST_CONV}_bn")(x)
    x = layers.ReLU(name=f"{LAST_CONV}_relu")(x)
    return keras.Model(inputs, _head(x, 0.3), name="pneumonet")


def build_seed(input_size: int = 150, weights: str | None = None) -> keras.Model:
    """The seed notebook's Sequential CNN, layer for layer (one input channel).

    Conv32, Conv64, MaxPool, Dropout 0.25; Conv64, MaxPool, Dropout; Conv128,
    MaxPool, Dropout; Flatten, Dense 64 ReLU, Dropout 0.5, Dense 1 sigmoid;
    L2 0.01 on the three later convs. The notebook fed RGB copies of grayscale
    films; one channel is the same function class.
    """
    if weights:
        raise ModelError("seed trains from scratch; --weights is for transfer backbones")
    l2 = keras.regularizers.L2(0.01)
    inputs = keras.Input((input_size, input_size, 1), name="image")
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(inputs)
    x = layers.Conv2D(64, 3, activation="relu", kernel_regularizer=l2, name="conv2")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Conv2D(64, 3, activation="relu", kernel_regularizer=l2, name="conv3")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Conv2D(128, 3, activation="relu", kernel_regularizer=l2, name=LAST_CONV)(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu", name=EMBEDDING)(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(1, name="logit")(x)
    outputs = layers.Activation("sigmoid", name="probability", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="seed")


def _transfer(app_name: str) -> Callable[[int, str | None], keras.Model]:
    def build(input_size: int, weights: str | None = None) -> keras.Model:
        if weights is not None and not Path(weights).is_file():
            raise ModelError(f"{weights}: backbone weights file not found (nothing is downloaded)")
        app = getattr(keras.applications, app_name)
        inputs = keras.Input((input_size, input_size, 1), name="image")
        rgb = layers.Concatenate(name="gray_to_rgb")([inputs, inputs, inputs])
        rgb = layers.Rescaling(255.0, name="to_0_255")(rgb)
        backbone = app(include_top=False, weights=None, input_shape=(input_size, input_size, 3))
        if weights is not None:
            backbone.load_weights(weights, skip_mismatch=True)
        features = backbone(rgb)
        features = layers.Activation("linear", name=LAST_CONV)(features)
        return keras.Model(inputs, _head(features, 0.3), name=app_name.lower())

    return build


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("pneumonet", 224, build_pneumonet, "default: small strided CNN, GAP head"),
        Architecture("seed", 150, build_seed, "the seed notebook's CNN (Flatten-Dense head)"),
        Architecture("vgg16", 224, _transfer("VGG16"), "keras.applications.VGG16 backbone"),
        Architecture("vgg19", 224, _transfer("VGG19"), "keras.applications.VGG19 backbone"),
        Architecture("resnet50", 224, _transfer("ResNet50"), "keras.applications.ResNet50"),
        Architecture("inceptionv3", 299, _transfer("InceptionV3"), "keras.applications.InceptionV3"),
        Architecture(
            "efficientnetb1", 240, _transfer("EfficientNetB1"), "keras.applications.EfficientNetB1"
        ),
    )
}


def build_model(name: str, input_size: int | None = None, weights: str | None = None) -> keras.Model:
    """Build architecture ``name`` at ``input_size`` (its native size if None)."""
    try:
        arch = ARCHITECTURES[name]
    except KeyError:
        raise ModelError(
            f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}"
        ) from None
    return arch.build(input_size or arch.input_size, weights)
