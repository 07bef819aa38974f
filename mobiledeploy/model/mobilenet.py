"""Keras builder for MobileNet v1: a pure function of its arguments, no I/O.

Layer names are those of `keras.applications.MobileNet` (conv1, conv1_bn, conv_dw_1, conv_dw_1_bn,
conv_pw_1, ..., conv_preds) so the official Keras weight files load by name. Unlike the Keras
version, stride-2 depthwise layers use TensorFlow's "SAME" padding directly, which equals Keras's
fixed (0, 1) zero padding for even sides and stays correct for odd ones.
"""
from __future__ import annotations

from . import architecture as arch

BN_EPSILON = 1e-3  # keras.applications.MobileNet's batch-norm epsilon


def build_mobilenet_v1(alpha: float = 1.0, resolution: int = 224, classes: int = arch.IMAGENET_CLASSES,
                       background: bool = False, include_top: bool = True, dropout: float = 1e-3):
    """Build MobileNet v1 for width multiplier `alpha` and a square input of `resolution` pixels.

    `classes` counts real classes; `background=True` adds an output at index 0 as Google's TFLite
    models have (1001 outputs). Without the top, the model ends at the last pointwise block.
    """
    from ..quiet import import_tf

    import_tf()
    import keras
    from keras import layers

    alpha = arch.check_alpha(alpha)
    resolution = arch.check_resolution(resolution)
    classes = arch.check_classes(classes)
    outputs = classes + int(bool(background))
    inputs = keras.Input(shape=(resolution, resolution, 3), batch_size=1, name="input")
    x = inputs
    for spec in arch.layers(alpha, resolution, outputs=None):
        x = _conv_bn_relu(layers, x, spec)
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True, name="global_pool")(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(outputs, 1, padding="same", name="conv_preds")(x)
        x = layers.Reshape((outputs,), name="reshape_2")(x)
        x = layers.Activation("softmax", name="predictions")(x)
    name = f"mobilenet_v1_{arch.alpha_text(alpha)}_{resolution}"
    return keras.Model(inputs, x, name=name)


def _conv_bn_relu(layers, x, spec: arch.Layer):
    """One convolution (full, depthwise or pointwise) followed by batch norm and ReLU6."""
    if spec.kind == "dw":
        x = layers.DepthwiseConv2D(3, strides=spec.stride, padding="same", use_bias=False,
                                   name=spec.name)(x)
    else:
        x = layers.Conv2D(spec.cout, spec.kernel, strides=spec.stride, padding="same",
                          use_bias=False, name=spec.name)(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{spec.name}_bn")(x)
    return layers.ReLU(6.0, name=f"{spec.name}_relu")(x)
