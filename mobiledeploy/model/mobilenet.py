"""Keras builder for the MobileNet families: a pure function of its arguments, no I/O.

It walks a family's layer table (architecture.py, architecture_v2.py), so layer names are those of
`keras.applications.MobileNet` / `MobileNetV2` (conv1, conv_dw_1_bn, ..., conv_preds; Conv1, block_3_add,
..., predictions) and the official Keras weight files load by name. Unlike Keras, stride-2 layers use
TensorFlow's "SAME" padding directly, which equals Keras's fixed zero padding for even sides and stays
correct for odd ones.
"""
from __future__ import annotations

from . import architecture as arch
from . import families

BN_EPSILON = 1e-3  # keras.applications.MobileNet's and MobileNetV2's batch-norm epsilon


def build(family: families.Family, alpha: float = 1.0, resolution: int = 224,
          classes: int = arch.IMAGENET_CLASSES, background: bool = False, include_top: bool = True,
          dropout: float = 1e-3):
    """Build `family` for width multiplier `alpha` and a square input of `resolution` pixels.

    `classes` counts real classes; `background=True` adds an output at index 0 as Google's TFLite
    models have (1001 outputs). Without the top, the model ends at the last convolution block.
    """
    from ..quiet import import_tf

    import_tf()
    import keras
    from keras import layers

    alpha = family.check_alpha(alpha)  # the family knows its paper's widest model (a wider one warns)
    resolution = arch.check_resolution(resolution)
    classes = arch.check_classes(classes)
    outputs = classes + int(bool(background))
    if family.builder == "shufflenet":  # branches, pools and shuffles: not a chain of layers
        from .shufflenet import build as build_shufflenet

        return build_shufflenet(family, alpha, resolution, outputs, include_top)
    inputs = keras.Input(shape=(resolution, resolution, 3), batch_size=1, name="input")
    x = block_input = inputs
    for spec in family.layers(alpha, resolution, outputs=None):
        if spec.block_start:
            block_input = x
        x = _conv_bn(layers, x, spec)
        if spec.add:
            x = layers.Add(name=spec.add)([block_input, x])
    if include_top:
        if family.head == "conv":
            x = layers.GlobalAveragePooling2D(keepdims=True, name="global_pool")(x)
            x = layers.Dropout(dropout, name="dropout")(x)
            x = layers.Conv2D(outputs, 1, padding="same", name=family.classifier)(x)
            x = layers.Reshape((outputs,), name="reshape_2")(x)
            x = layers.Activation("softmax", name="predictions")(x)
        else:
            x = layers.GlobalAveragePooling2D(name="global_pool")(x)
            x = layers.Dense(outputs, name=family.classifier)(x)
            x = layers.Activation("softmax", name="probabilities")(x)
    name = f"{family.name}_{arch.alpha_text(alpha)}_{resolution}"
    return keras.Model(inputs, x, name=name)


def build_mobilenet_v1(alpha: float = 1.0, resolution: int = 224, classes: int = arch.IMAGENET_CLASSES,
                       background: bool = False, include_top: bool = True, dropout: float = 1e-3):
    """MobileNet v1 (see build)."""
    return build(families.v1_family, alpha, resolution, classes, background, include_top, dropout)


def classifier_outputs(model, family: families.Family) -> int:
    """How many outputs the classifier layer of a built model has (Conv2D filters or Dense units)."""
    return int(model.get_layer(family.classifier).weights[0].shape[-1])


def _conv_bn(layers, x, spec: arch.Layer):
    """One convolution (full, depthwise or pointwise), its batch norm and, unless linear, ReLU6."""
    if spec.kind == "dw":
        x = layers.DepthwiseConv2D(3, strides=spec.stride, padding="same", use_bias=False,
                                   name=spec.name)(x)
    else:
        x = layers.Conv2D(spec.cout, spec.kernel, strides=spec.stride, padding="same",
                          use_bias=False, name=spec.name)(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=spec.bn)(x)
    return layers.ReLU(6.0, name=spec.act)(x) if spec.act else x
