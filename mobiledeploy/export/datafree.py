"""Data-free calibration inputs, for an export with no images at all.

Start from images with the 1/f amplitude spectrum of natural photos and random colour balance, then
optimise them with gradient descent on two terms:
- batch-norm statistics (ZeroQ, Cai et al. 2020): every batch norm's input should have the mean and
  std the layer stored in training. Only when the model has such statistics: weights imported from
  TFLite have batch norm folded into the convolutions, so their batch norms are identities.
- class targets (the "distilled data" of ZeroQ and DeepInversion): half of the images are pushed
  toward a random class, so the classifier's output range includes confident predictions. Without
  them the logits' int8 range is set by unconfident inputs and real images saturate it.
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


STEPS = 15
SYNTH_MAX_SIDE = 128  # optimise at most at this side, then resize up: 3x less work at 224


def synthesize(model, count: int, seed: int = 0, steps: int = STEPS, batch: int = 20, progress=None):
    """(inputs, method name): `count` synthetic calibration inputs for `model` (steps 0: the prior as is)."""
    resolution = model.input_shape[1]
    if steps <= 0:
        if progress:
            progress(count)
        return natural_prior(count, resolution, seed), "natural-prior (not optimised)"
    side = min(resolution, SYNTH_MAX_SIDE)
    start = natural_prior(count, side, seed)
    use_bn = has_bn_statistics(model)
    method = ("zeroq" if use_bn else "natural-prior") + "+class-targets"
    images = _optimise(model, start, use_bn, steps, batch, seed, progress)
    if side != resolution:
        from ..runtime.preprocess import resize_bilinear

        images = np.stack([resize_bilinear(img, resolution, resolution) for img in images]).astype(np.float32)
        method += f" (optimised at {side}x{side}, resized)"
    return images, method


def _optimise(model, start: np.ndarray, use_bn: bool, steps: int, batch: int, seed: int, progress) -> np.ndarray:
    from ..quiet import import_tf

    tf = import_tf()
    import keras

    # the model has a fixed batch of 1 and side: a twin with a free batch and side (the network is
    # convolutional up to global pooling) takes the whole synthetic batch at the synthesis side
    twin = keras.models.clone_model(model, input_tensors=keras.Input((None, None, 3)))
    twin.set_weights(model.get_weights())
    bns = [layer for layer in twin.layers if isinstance(layer, keras.layers.BatchNormalization)] if use_bn else []
    # the classifier before its softmax: the last layer with weights (v1's conv_preds, v2's predictions)
    logits_layer = [layer for layer in twin.layers if layer.weights][-1]
    probe = keras.Model(twin.inputs, [logits_layer.output] + [bn.input for bn in bns])
    means = [tf.constant(bn.moving_mean.numpy()) for bn in bns]
    stds = [tf.constant(np.sqrt(bn.moving_variance.numpy() + bn.epsilon)) for bn in bns]
    classes = getattr(logits_layer, "filters", None) or logits_layer.units
    rng = np.random.default_rng(seed + 1)
    opt = keras.optimizers.Adam(learning_rate=0.05)

    @tf.function
    def step(x, targets, weights):
        with tf.GradientTape() as tape:
            outs = probe(x, training=False)
            if not isinstance(outs, (list, tuple)):  # a one-output model returns the tensor itself
                outs = [outs]
            logits = tf.reshape(outs[0], [tf.shape(x)[0], classes])
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
            loss = tf.reduce_sum(ce * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)
            for k, a in enumerate(outs[1:]):
                m = tf.reduce_mean(a, axis=[0, 1, 2])
                v = tf.reduce_mean(tf.square(a - m), axis=[0, 1, 2])
                loss += tf.reduce_mean(tf.square(m - means[k])) + \
                    tf.reduce_mean(tf.square(tf.sqrt(v + 1e-5) - stds[k]))
        opt.apply_gradients([(tape.gradient(loss, x), x)])
        x.assign(tf.clip_by_value(x, -1.0, 1.0))

    # one variable and one trace for every chunk (a new variable would retrace the step function)
    batch = min(batch, len(start))
    x = tf.Variable(np.zeros((batch, *start.shape[1:]), np.float32))
    opt.build([x])
    weights = tf.constant((np.arange(batch) % 2 == 0).astype(np.float32))  # half class-targeted
    out = []
    for first in range(0, len(start), batch):
        chunk = start[first:first + batch]
        n = len(chunk)
        x.assign(np.concatenate([chunk, start[:batch - n]]) if n < batch else chunk)
        targets = tf.constant(rng.integers(0, classes, batch), tf.int32)
        for _ in range(steps):
            step(x, targets, weights)
        out.append(x.numpy()[:n])
        if progress:
            progress(n)
    return np.concatenate(out)
