"""Keras builder for ShuffleNet V1 and V2: a pure function of a family's unit table, no I/O.

Layer names follow the unit table (architecture_shufflenet.py): conv1, maxpool, stage2_0_gconv1 ...
(V1), stage2_0_proj_dw, stage2_0_pw1 ... (V2), conv5, fc. Padding is PyTorch's (1 on each side of every
3x3 layer, zeros; after a ReLU a zero pads a max pool as -inf would), so weights trained in PyTorch give
the same outputs; the sides equal TensorFlow's "SAME" ones. The channel shuffle is a reshape, a
transpose and a reshape (3-D, so every runtime's transpose takes it); V2's channel split is a slice.
"""
from __future__ import annotations

from functools import lru_cache

from . import architecture as arch
from . import architecture_shufflenet as shuffle

#: torchvision's (PyTorch's) batch-norm epsilon, so imported statistics mean what they meant in training.
BN_EPSILON = 1e-5
#: torchvision's input normalisation, (p / 255 - mean) / std per RGB channel: every ShuffleNet weight source
#: (torchvision, the authors', the ONNX zoo) was trained on it.
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)


def input_affine() -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(scale, offset) per channel taking the artifact's input, (p - 127.5) / 127.5 (the manifest's
    preprocessing, runtime/preprocess.py), to torchvision's: x / (2 std) + (0.5 - mean) / std."""
    return (tuple(1 / (2 * s) for s in TORCH_STD),
            tuple((0.5 - m) / s for m, s in zip(TORCH_MEAN, TORCH_STD)))


@lru_cache(maxsize=1)
def custom_layers():
    """(ChannelShuffle, ChannelSplit): two small Keras layers, registered so a saved model loads again."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="mobiledeploy")
    class ChannelShuffle(keras.layers.Layer):
        """Interleave g groups of channels: output channel j*g + i is input channel i*(c/g) + j."""

        def __init__(self, groups: int, **kwargs):
            super().__init__(**kwargs)
            self.groups = int(groups)

        def call(self, x):
            _, h, w, c = x.shape
            y = ops.reshape(x, (-1, self.groups, c // self.groups))
            y = ops.transpose(y, (0, 2, 1))
            return ops.reshape(y, (-1, h, w, c))

        def compute_output_shape(self, shape):
            return shape

        def get_config(self):
            return {**super().get_config(), "groups": self.groups}

    @keras.saving.register_keras_serializable(package="mobiledeploy")
    class ChannelSplit(keras.layers.Layer):
        """The two halves of the channels (ShuffleNet V2's split)."""

        def call(self, x):
            half = x.shape[-1] // 2
            return x[..., :half], x[..., half:]

        def compute_output_shape(self, shape):
            half = (*shape[:-1], shape[-1] // 2)
            return half, half

    return ChannelShuffle, ChannelSplit


def build(family, alpha: float, resolution: int, outputs: int, include_top: bool = True):
    """ShuffleNet V1 (family.groups) or V2 at width alpha for a square input of `resolution` pixels."""
    import keras
    from keras import layers

    shuffle_layer, split_layer = custom_layers()
    units = shuffle.units(family.version, alpha, resolution, family.groups)
    inputs = keras.Input(shape=(resolution, resolution, 3), batch_size=1, name="input")

    def conv(x, name, filters, kernel=1, stride=1, groups=1, act=True, depthwise=False):
        if stride == 2:
            x = layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
        padding = "valid" if stride == 2 or kernel == 1 else "same"
        if depthwise:
            x = layers.DepthwiseConv2D(kernel, strides=stride, padding=padding, use_bias=False, name=name)(x)
        else:
            x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, groups=groups, use_bias=False,
                              name=name)(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x) if act else x

    scale, offset = input_affine()
    x = layers.Rescaling(list(scale), list(offset), name="input_norm")(inputs)
    x = conv(x, "conv1", units[0].cin, 3, 2)
    x = layers.ZeroPadding2D(1, name="maxpool_pad")(x)
    x = layers.MaxPooling2D(3, 2, name="maxpool")(x)
    for u in units:
        n = u.name
        if u.version == 1:
            y = conv(x, f"{n}_gconv1", u.mid, groups=u.first_groups)
            if u.groups > 1:
                y = shuffle_layer(u.groups, name=f"{n}_shuffle")(y)
            y = conv(y, f"{n}_dw", u.mid, 3, u.stride, act=False, depthwise=True)
            if u.stride == 1:
                y = conv(y, f"{n}_gconv2", u.branch, groups=u.groups, act=False)
                x = layers.ReLU(name=f"{n}_relu")(layers.Add(name=f"{n}_add")([x, y]))
            else:
                y = conv(y, f"{n}_gconv2", u.branch, groups=u.groups)
                pooled = layers.AveragePooling2D(3, 2, name=f"{n}_pool")(layers.ZeroPadding2D(1, name=f"{n}_pool_pad")(x))
                x = layers.Concatenate(name=f"{n}_concat")([pooled, y])
            continue
        if u.stride == 1:
            kept, y = split_layer(name=f"{n}_split")(x)
        else:
            kept = conv(x, f"{n}_proj_dw", u.cin, 3, 2, act=False, depthwise=True)
            kept = conv(kept, f"{n}_proj_pw", u.mid)
            y = x
        y = conv(y, f"{n}_pw1", u.mid)
        y = conv(y, f"{n}_dw", u.mid, 3, u.stride, act=False, depthwise=True)
        y = conv(y, f"{n}_pw2", u.mid)
        x = layers.Concatenate(name=f"{n}_concat")([kept, y])
        x = shuffle_layer(2, name=f"{n}_shuffle")(x)
    if family.version == 2:
        x = conv(x, "conv5", shuffle.conv5_channels(alpha))
    if include_top:
        x = layers.GlobalAveragePooling2D(name="global_pool")(x)
        x = layers.Dense(outputs, name=family.classifier)(x)
        x = layers.Activation("softmax", name="probabilities")(x)
    return keras.Model(inputs, x, name=f"{family.name}_{arch.alpha_text(alpha)}_{resolution}")
