"""Data-free calibration inputs, for an export with no images at all.

Two generators, chosen by what the model carries:
- "zeroq" (Cai et al. 2020): optimise inputs so that every batch norm's input has the mean and std
  the layer stored during training. Needs real batch-norm statistics (Keras ImageNet weights).
- "natural-prior": images with the 1/f amplitude spectrum of natural photos and random colour
  balance. Used when the batch norms are identities (weights imported from a TFLite file, where
  batch norm was folded into the convolutions, so there are no statistics to match); also the
  starting point of ZeroQ.
"""
from __future__ import annotations

import numpy as np


def natural_prior(count: int, resolution: int, seed: int = 0) -> np.ndarray:
    """`count` float32 NHWC images in [-1, 1] with a 1/f^a spectrum (a in [1, 2]) and random colour."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(resolution)[:, None]
    fx = np.fft.fftfreq(resolution)[None, :]
    radius = np.sqrt(fx ** 2 + fy ** 2)
    radius[0, 0] = 1.0 / resolution
    out = np.empty((count, resolution, resolution, 3), np.float32)
    for i in range(count):
        amplitude = radius ** -rng.uniform(1.0, 2.0)
        luminance = np.fft.ifft2(amplitude * np.exp(2j * np.pi * rng.random(radius.shape))).real
        chroma = np.fft.ifft2(amplitude * np.exp(2j * np.pi * rng.random((3, *radius.shape)))).real
        img = luminance[..., None] + 0.3 * np.moveaxis(chroma, 0, -1)
        img = (img - img.mean()) / (img.std() + 1e-9)
        img = img * rng.uniform(0.3, 0.6) + rng.uniform(-0.3, 0.3, 3)
        out[i] = np.clip(img, -1.0, 1.0)
    return out


def has_bn_statistics(model) -> bool:
    """True when some batch norm is not an identity (the model kept its training statistics)."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            mean, var = layer.moving_mean.numpy(), layer.moving_variance.numpy()
            # identity: fresh layers (var 1) or folded imports (var + eps = 1)
            unit_var = np.all(np.abs(var - 1.0) < 1e-4) or np.all(np.abs(var + layer.epsilon - 1.0) < 1e-4)
            if np.any(np.abs(mean) > 1e-6) or not unit_var:
                return True
    return False


def synthesize(model, count: int, seed: int = 0, steps: int = 30, batch: int = 16, progress=None):
    """(inputs, method): ZeroQ when the model has batch-norm statistics, else the natural-image prior."""
    resolution = model.input_shape[1]
    start = natural_prior(count, resolution, seed)
    if not has_bn_statistics(model):
        if progress:
            progress(count)
        return start, "natural-prior"
    return _zeroq(model, start, steps, batch, progress), "zeroq"


def _zeroq(model, start: np.ndarray, steps: int, batch: int, progress) -> np.ndarray:
    from ..quiet import import_tf

    tf = import_tf()
    import keras

    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    # the model has a fixed batch of 1: a twin with a free batch takes the whole synthetic batch
    twin = keras.models.clone_model(model, input_tensors=keras.Input(model.input_shape[1:]))
    twin.set_weights(model.get_weights())
    bns = [layer for layer in twin.layers if isinstance(layer, keras.layers.BatchNormalization)]
    probe = keras.Model(twin.inputs, [bn.input for bn in bns])
    means = [tf.constant(bn.moving_mean.numpy()) for bn in bns]
    stds = [tf.constant(np.sqrt(bn.moving_variance.numpy() + bn.epsilon)) for bn in bns]
    opt = keras.optimizers.Adam(learning_rate=0.05)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            acts = probe(x, training=False)
            loss = 0.0
            for k, a in enumerate(acts):
                m = tf.reduce_mean(a, axis=[0, 1, 2])
                v = tf.reduce_mean(tf.square(a - m), axis=[0, 1, 2])
                loss += tf.reduce_mean(tf.square(m - means[k])) + \
                    tf.reduce_mean(tf.square(tf.sqrt(v + 1e-5) - stds[k]))
        opt.apply_gradients([(tape.gradient(loss, x), x)])
        x.assign(tf.clip_by_value(x, -1.0, 1.0))
        return loss

    out = []
    for first in range(0, len(start), batch):
        x = tf.Variable(start[first:first + batch])
        for _ in range(steps):
            step(x)
        out.append(x.numpy())
        if progress:
            progress(len(out[-1]))
    return np.concatenate(out)
