"""The Keras builder and every way of loading weights into it."""

import numpy as np
import pytest

from mobiledeploy.errors import MobiledeployError
from mobiledeploy.quiet import import_tf
from conftest import assert_one_line_error, mobiledeploy
from h5_layout import write_keras2_h5

import_tf()
import keras  # noqa: E402

from mobiledeploy.model.mobilenet import build_mobilenet_v1  # noqa: E402
from mobiledeploy.model.weights import build_with_weights  # noqa: E402


def randomize_bn(model, seed=0):
    """Give every batch norm non-trivial statistics so that equality tests mean something."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.2, n), rng.normal(0, 0.2, n),
                               rng.uniform(0.5, 2.0, n)])
    return model


@pytest.mark.parametrize("alpha,res", [(0.25, 128), (0.5, 160), (1.0, 224)])
def test_equals_keras_applications_mobilenet(alpha, res):
    ref = randomize_bn(keras.applications.MobileNet(input_shape=(res, res, 3), alpha=alpha, weights=None))
    ours = build_mobilenet_v1(alpha, res)
    ref_layers = {layer.name for layer in ref.layers if layer.weights}
    our_layers = {layer.name for layer in ours.layers if layer.weights}
    assert ref_layers == our_layers
    for name in our_layers:
        ours.get_layer(name).set_weights(ref.get_layer(name).get_weights())
    x = np.random.default_rng(1).uniform(-1, 1, (1, res, res, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(x).numpy(), ref(x).numpy(), atol=1e-5)


def test_any_resolution_and_background_class():
    model = build_mobilenet_v1(0.3, 100, classes=10, background=True)
    assert model.output_shape == (1, 11)
    assert model.get_layer("conv_pw_13").output.shape[1:3] == (4, 4)


@pytest.mark.parametrize("kwargs", [{"alpha": 0}, {"alpha": -1}, {"alpha": "abc"}, {"resolution": 16},
                                    {"classes": 0}])
def test_builder_rejects_bad_arguments(kwargs):
    with pytest.raises(MobiledeployError):
        build_mobilenet_v1(**kwargs)


def test_keras2_h5_loads_by_name(tmp_path):
    src = randomize_bn(build_mobilenet_v1(0.25, 128))
    write_keras2_h5(tmp_path / "w.h5", src)
    loaded = build_with_weights(0.25, 128, str(tmp_path / "w.h5"))
    assert loaded.origin["kind"] == "keras-h5"
    for layer in src.layers:
        for a, b in zip(layer.get_weights(), loaded.model.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_keras3_weights_file_loads(tmp_path):
    src = randomize_bn(build_mobilenet_v1(0.25, 128))
    src.save_weights(tmp_path / "w.weights.h5")
    loaded = build_with_weights(0.25, 128, str(tmp_path / "w.weights.h5"))
    x = np.zeros((1, 128, 128, 3), np.float32) + 0.3
    np.testing.assert_allclose(loaded.model(x).numpy(), src(x).numpy(), atol=1e-6)


def test_h5_for_another_alpha_says_what_it_holds(tmp_path):
    write_keras2_h5(tmp_path / "w.h5", build_mobilenet_v1(0.5, 128))
    with pytest.raises(MobiledeployError, match="alpha 0.5"):
        build_with_weights(0.25, 128, str(tmp_path / "w.h5"))


def test_imagenet_weights_download_through_keras_cache(weights_server, tmp_path, monkeypatch):
    served, url = weights_server
    src = randomize_bn(build_mobilenet_v1(0.25, 128))
    write_keras2_h5(served / "mobilenet_2_5_128_tf.h5", src)
    monkeypatch.setenv("MOBILEDEPLOY_WEIGHTS_URL", url)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    loaded = build_with_weights(0.25, 128, "imagenet")
    assert loaded.origin["kind"] == "imagenet"
    assert (tmp_path / "keras" / "models" / "mobilenet_2_5_128_tf.h5").is_file()
    np.testing.assert_array_equal(loaded.model.get_layer("conv1").get_weights()[0],
                                  src.get_layer("conv1").get_weights()[0])


def test_imagenet_offline_names_file_and_place(tmp_path):
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "128", "--weights", "imagenet", "--out", tmp_path)
    line = assert_one_line_error(proc, "mobilenet_2_5_128_tf.h5", "models/")
    assert "--weights" in line
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_tflite_round_trip_restores_the_model(tmp_path):
    """Our own fp32 TFLite export imports back into Keras with the same outputs (BN folded into bias)."""
    from mobiledeploy.export.tflite import Converter

    src = randomize_bn(build_mobilenet_v1(0.5, 96))
    with Converter(src) as conv:
        (tmp_path / "m.tflite").write_bytes(conv.convert("fp32"))
    loaded = build_with_weights(0.5, 96, str(tmp_path / "m.tflite"))
    assert loaded.origin["kind"] == "tflite"
    x = np.random.default_rng(2).uniform(-1, 1, (2, 96, 96, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.model(x).numpy(), src(x).numpy(), atol=2e-5)


@pytest.mark.slow
def test_tflite_for_another_alpha_says_what_it_holds(tmp_path):
    from mobiledeploy.export.tflite import Converter

    with Converter(build_mobilenet_v1(0.5, 96)) as conv:
        (tmp_path / "m.tflite").write_bytes(conv.convert("fp32"))
    with pytest.raises(MobiledeployError, match=r"alpha 0.5 at 96x96"):
        build_with_weights(0.25, 96, str(tmp_path / "m.tflite"))
