"""torchvision's ShuffleNet V2 weights: a state dict in exactly torchvision's names and shapes (written with
numpy: torch is not installed), imported, and the Keras model's outputs against an independent numpy forward
pass with PyTorch's semantics (NCHW, padding 1, chunk, cat, view/transpose shuffle, eval batch norm).
The helpers here are also used by tests/export/test_shufflenet_export.py."""
import numpy as np
import pytest

from conftest import assert_one_line_error, mobiledeploy
from mobiledeploy.model import architecture_shufflenet as shuffle

MEAN = np.array([0.485, 0.456, 0.406])[:, None, None]
STD = np.array([0.229, 0.224, 0.225])[:, None, None]


def _conv_weights(rng, out, inp, k):
    return (rng.standard_normal((out, inp, k, k)) * np.sqrt(2.0 / (inp * k * k))).astype(np.float32)


def _bn(rng, prefix, channels, state):
    state[f"{prefix}.weight"] = rng.uniform(0.5, 1.5, channels).astype(np.float32)
    state[f"{prefix}.bias"] = rng.normal(0, 0.1, channels).astype(np.float32)
    state[f"{prefix}.running_mean"] = rng.normal(0, 0.1, channels).astype(np.float32)
    state[f"{prefix}.running_var"] = rng.uniform(0.5, 1.5, channels).astype(np.float32)
    state[f"{prefix}.num_batches_tracked"] = np.array(1000, np.int64)


def torchvision_state_dict(alpha=0.5, classes=1000, seed=0) -> dict:
    """A state dict laid out as torchvision.models.shufflenet_v2_x*_*().state_dict(), random values."""
    rng = np.random.default_rng(seed)
    c2, c3, c4, c5 = shuffle.V2_WIDTHS[alpha]
    state = {"conv1.0.weight": _conv_weights(rng, 24, 3, 3)}
    _bn(rng, "conv1.1", 24, state)
    cin = 24
    for stage, cout, repeats in zip((2, 3, 4), (c2, c3, c4), shuffle.REPEATS):
        half = cout // 2
        for i in range(repeats):
            p = f"stage{stage}.{i}"
            if i == 0:
                state[f"{p}.branch1.0.weight"] = _conv_weights(rng, cin, 1, 3)
                _bn(rng, f"{p}.branch1.1", cin, state)
                state[f"{p}.branch1.2.weight"] = _conv_weights(rng, half, cin, 1)
                _bn(rng, f"{p}.branch1.3", half, state)
            state[f"{p}.branch2.0.weight"] = _conv_weights(rng, half, cin if i == 0 else half, 1)
            _bn(rng, f"{p}.branch2.1", half, state)
            state[f"{p}.branch2.3.weight"] = _conv_weights(rng, half, 1, 3)
            _bn(rng, f"{p}.branch2.4", half, state)
            state[f"{p}.branch2.5.weight"] = _conv_weights(rng, half, half, 1)
            _bn(rng, f"{p}.branch2.6", half, state)
            cin = cout
    state["conv5.0.weight"] = _conv_weights(rng, c5, cin, 1)
    _bn(rng, "conv5.1", c5, state)
    state["fc.weight"] = (rng.standard_normal((classes, c5)) * 4 / np.sqrt(c5)).astype(np.float32)
    state["fc.bias"] = rng.normal(0, 0.1, classes).astype(np.float32)
    return state


def _conv(x, w, stride=1, pad=0, groups=1):
    c, h, wd = x.shape
    out, per_group, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    patches = np.stack([np.stack([xp[:, i:i + stride * ho:stride, j:j + stride * wo:stride] for j in range(k)], 1)
                        for i in range(k)], 1)  # (C, k, k, ho, wo)
    if groups == c and per_group == 1:           # depthwise
        return np.einsum("cijuv,cij->cuv", patches, w[:, 0])
    step = out // groups
    return np.concatenate([np.einsum("cijuv,ocij->ouv", patches[g * per_group:(g + 1) * per_group],
                                     w[g * step:(g + 1) * step]) for g in range(groups)])


def _batchnorm(x, state, prefix):
    scale = state[f"{prefix}.weight"] / np.sqrt(state[f"{prefix}.running_var"] + 1e-5)
    return (x - state[f"{prefix}.running_mean"][:, None, None]) * scale[:, None, None] + state[f"{prefix}.bias"][:, None, None]


def _maxpool(x):
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    ho, wo = (x.shape[1] - 1) // 2 + 1, (x.shape[2] - 1) // 2 + 1
    return np.max([xp[:, i:i + 2 * ho:2, j:j + 2 * wo:2] for i in range(3) for j in range(3)], axis=0)


def _channel_shuffle(x, groups):
    c, h, w = x.shape
    return x.reshape(groups, c // groups, h, w).transpose(1, 0, 2, 3).reshape(c, h, w)


def torchvision_forward(state, image_minus1_1):
    """Softmax scores of torchvision's ShuffleNetV2 in numpy, from the artifact's input ((p - 127.5) / 127.5)."""
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    x = image_minus1_1.astype(np.float64).transpose(2, 0, 1)
    x = ((x + 1) / 2 - MEAN) / STD            # torchvision's Normalize on p / 255
    x = relu(_batchnorm(_conv(x, state["conv1.0.weight"], 2, 1), state, "conv1.1"))
    x = _maxpool(x)
    for stage, repeats in zip((2, 3, 4), shuffle.REPEATS):
        for i in range(repeats):
            p, stride = f"stage{stage}.{i}", 2 if i == 0 else 1
            if stride == 1:
                x1, x2 = np.split(x, 2, axis=0)
            else:
                b1 = _batchnorm(_conv(x, state[f"{p}.branch1.0.weight"], 2, 1, x.shape[0]), state, f"{p}.branch1.1")
                x1 = relu(_batchnorm(_conv(b1, state[f"{p}.branch1.2.weight"]), state, f"{p}.branch1.3"))
                x2 = x
            y = relu(_batchnorm(_conv(x2, state[f"{p}.branch2.0.weight"]), state, f"{p}.branch2.1"))
            y = _batchnorm(_conv(y, state[f"{p}.branch2.3.weight"], stride, 1, y.shape[0]), state, f"{p}.branch2.4")
            y = relu(_batchnorm(_conv(y, state[f"{p}.branch2.5.weight"]), state, f"{p}.branch2.6"))
            x = _channel_shuffle(np.concatenate([x1, y]), 2)
    x = relu(_batchnorm(_conv(x, state["conv5.0.weight"]), state, "conv5.1"))
    logits = state["fc.weight"] @ x.mean(axis=(1, 2)) + state["fc.bias"]
    e = np.exp(logits - logits.max())
    return e / e.sum()


def write_npz(path, state):
    np.savez(path, **state)
    return path


@pytest.mark.parametrize("alpha,resolution", [(0.5, 64), (1.0, 75)])
def test_torchvision_state_dict_imports_to_equal_outputs(tmp_path, alpha, resolution):
    from mobiledeploy.model.families import family
    from mobiledeploy.model.weights import build_with_weights

    state = torchvision_state_dict(alpha)
    path = write_npz(tmp_path / "shufflenetv2.npz", state)
    loaded = build_with_weights(alpha, resolution, str(path), family=family("shufflenet_v2"))
    assert loaded.origin["kind"] == "torchvision"
    images = np.random.default_rng(1).uniform(-1, 1, (2, resolution, resolution, 3)).astype(np.float32)
    ours = loaded.model(images, training=False).numpy()
    for image, scores in zip(images, ours):
        reference = torchvision_forward(state, image)
        assert np.argmax(scores) == np.argmax(reference)
        np.testing.assert_allclose(scores, reference, atol=2e-5, rtol=1e-3)
    assert ours.max() > 0.01  # the weights give a confident, non-uniform answer: the comparison means something


def test_mobilenet_file_given_to_shufflenet_and_the_reverse(tmp_path):
    from mobiledeploy.model.mobilenet import build
    from mobiledeploy.model.families import family

    h5 = tmp_path / "mobilenet.h5"
    build(family("mobilenet_v1"), 0.25, 32).save_weights(h5.with_suffix(".weights.h5"))
    npz = write_npz(tmp_path / "shufflenet_v2_x0_5.npz", torchvision_state_dict(0.5))
    out = tmp_path / "out"
    out.mkdir()
    cases = [
        (["--arch", "shufflenet_v2", "--alpha", "0.5", "--weights", str(h5.with_suffix(".weights.h5"))], ()),
        (["--arch", "mobilenet_v2", "--alpha", "0.5", "--weights", str(npz)], ("shufflenet_v2",)),
        (["--arch", "shufflenet_v1", "--alpha", "0.5", "--weights", str(npz)], ("shufflenet_v2",)),
        (["--arch", "shufflenet_v2", "--alpha", "1.0", "--weights", str(npz)], ("--alpha 0.5",)),
    ]
    for argv, fragments in cases:
        proc = mobiledeploy("export", "--res", "64", "--out", str(out), *argv)
        assert proc.returncode == 2, proc.stderr
        assert_one_line_error(proc, *fragments)
    assert not list(out.iterdir())


def test_pytorch_pickle_is_refused_with_the_conversion(tmp_path):
    import zipfile

    pth = tmp_path / "shufflenetv2_x1-5666bf0f80.pth"
    with zipfile.ZipFile(pth, "w") as z:     # torch.save's layout: archive/data.pkl and the storages
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        z.writestr("archive/data/0", b"\x00" * 16)
    proc = mobiledeploy("export", "--arch", "shufflenet_v2", "--weights", str(pth), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, "pickle", "numpy.savez")
    assert not (tmp_path / "o").exists()
