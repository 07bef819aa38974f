"""MobileNetV2, the second family: cost against the published tables, memory against the paper's Table 3,
equality with keras.applications, the official-file download, and the bad inputs a user meets first."""
import json

import numpy as np
import pytest

from conftest import assert_one_line_error, mobiledeploy
from mobiledeploy.errors import MobiledeployError
from mobiledeploy.model.cost import summary
from mobiledeploy.model.families import family, v1_family, v2_family
from mobiledeploy.sweep.published import V2_TABLE


@pytest.mark.parametrize("cell", sorted(V2_TABLE), ids=lambda c: f"{c[0]}-{c[1]}")
def test_cost_matches_tf_slim_table(cell):
    alpha, res = cell
    macs, params, _ = V2_TABLE[cell]
    s = summary(alpha, res, 1001, v2_family)  # Google's checkpoints classify 1001 classes (background first)
    # TF-slim prints multiply-adds truncated to whole millions (0.35-96 computes 11.94M, printed "11"), so
    # the exact check is the truncation; at >= 100M it is also within the 1%
    assert int(s["macs"] / 1e6) == macs, s["macs"]
    if macs >= 100:
        assert abs(s["macs"] / 1e6 - macs) <= 0.01 * macs
    assert round(s["params"] / 1e6, 2) == params, s["params"]


def test_largest_materialised_activation_as_paper_table3():
    # Sandler et al. 2018, Table 3: max number of channels/memory (in Kb), 16-bit floats, at 224:
    # MobileNetV1 1600K, MobileNetV2 400K (the paper's K is 1000 bytes; the tables round)
    v1 = summary(1.0, 224, 1000, v1_family)["max_activation_bytes"]
    v2 = summary(1.0, 224, 1000, v2_family)["max_activation_bytes"]
    assert v1 == pytest.approx(1600e3, rel=0.02) and v2 == pytest.approx(400e3, rel=0.02)


def test_width_rounding_is_keras_multiple_of_8():
    widths = v2_family.widths(0.35)
    assert all(w % 8 == 0 for w in widths.values())
    assert widths["Conv1"] == 16 and widths["Conv_1"] == 1280   # the last layer keeps 1280 for alpha <= 1
    assert v2_family.widths(1.4)["Conv_1"] == 1792


@pytest.mark.parametrize("alpha", [0.35, 0.5, 0.75, 1.0, 1.3, 1.4, 0.6])
def test_alpha_read_back_from_widths(alpha):
    assert v2_family.alpha_of(v2_family.widths(alpha)) == alpha


def test_info_shows_live_memory_per_layer():
    doc = json.loads(mobiledeploy("info", "--arch", "mobilenet_v2", "--alpha", "1.0", "--res", "224", "--json",
                                  check=True).stdout)
    assert doc["architecture"] == "mobilenet_v2"
    assert int(doc["macs"] / 1e6) == 300 and round(doc["params"] / 1e6, 2) == 3.47
    assert max(row["live"] for row in doc["layers"]) == doc["max_live_bytes"]
    assert any(row["name"] == "block_16_project" for row in doc["layers"])
    # an expansion streams into its depthwise (Section 5): nothing of it is materialised
    assert next(row for row in doc["layers"] if row["name"] == "block_1_expand")["materialised"] == 0


def test_arch_typo_is_one_line_with_suggestion(tmp_path):
    proc = mobiledeploy("export", "--arch", "mobilenet_v22", "--out", tmp_path)
    assert_one_line_error(proc, "mobilenet_v22", "mobilenet_v2")
    assert not list(tmp_path.iterdir())


def test_no_official_weights_for_that_cell_says_which_exist(tmp_path):
    proc = mobiledeploy("export", "--arch", "mobilenet_v2", "--alpha", "0.25", "--res", "128", "--weights",
                        "imagenet", "--out", tmp_path)
    assert_one_line_error(proc, "MobileNetV2", "0.35", "96")
    assert not list(tmp_path.iterdir())


def test_unknown_architecture_in_a_manifest(tiny_artifact, tmp_path):
    import shutil

    art = tmp_path / "art"
    shutil.copytree(tiny_artifact, art)
    doc = json.loads((art / "manifest.json").read_text())
    doc["model"]["architecture"] = "mobilenet_v9"
    (art / "manifest.json").write_text(json.dumps(doc))
    proc = mobiledeploy("bench", art, "--device", "local", "--runs", "5")
    assert_one_line_error(proc, "manifest.json", "mobilenet_v9", "mobilenet_v2")


@pytest.mark.slow
@pytest.mark.parametrize("alpha,res", [(1.0, 224), (0.35, 96), (1.4, 160), (0.75, 130)])
def test_outputs_equal_keras_applications(alpha, res):
    """Same weights (copied by layer name) -> the same scores as keras.applications.MobileNetV2."""
    import keras

    from mobiledeploy.model.mobilenet import build

    ref = keras.applications.MobileNetV2(input_shape=(res, res, 3), alpha=alpha, weights=None)
    rng = np.random.default_rng(0)
    for layer in ref.layers:  # random batch-norm statistics, so a wrong epsilon or order would show
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape), rng.normal(0, 0.1, b.shape),
                               rng.normal(0, 0.1, m.shape), rng.uniform(0.5, 1.5, v.shape)])
    ours = build(family("mobilenet_v2"), alpha, res)
    for layer in ours.layers:
        if layer.weights:
            layer.set_weights(ref.get_layer(layer.name).get_weights())
    assert ours.count_params() == ref.count_params()
    x = rng.uniform(-1, 1, (2, res, res, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(x).numpy(), ref(x).numpy(), atol=1e-6)


@pytest.mark.slow
def test_official_h5_download_from_loopback_server(weights_server, tmp_path, monkeypatch):
    """`--weights imagenet` for V2 fetches Keras's file name from MOBILEDEPLOY_WEIGHTS_URL into the cache."""
    from h5_layout import write_keras2_h5
    from mobiledeploy.model.mobilenet import build
    from mobiledeploy.model.weights import build_with_weights

    served, url = weights_server
    src = build(v2_family, 0.35, 96)
    rng = np.random.default_rng(1)
    src.set_weights([rng.normal(0, 0.05, w.shape).astype(np.float32) if i % 3 else np.abs(w) + 1
                     for i, w in enumerate(src.get_weights())])
    write_keras2_h5(served / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96.h5", src)
    monkeypatch.setenv("MOBILEDEPLOY_WEIGHTS_URL", url)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    loaded = build_with_weights(0.35, 96, "imagenet", family=v2_family)
    assert loaded.origin["kind"] == "imagenet"
    assert (tmp_path / "keras" / "models" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96.h5").is_file()
    x = rng.uniform(-1, 1, (1, 96, 96, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.model(x).numpy(), src(x).numpy(), atol=1e-6)
    # the same file is not a v1 model, and says what it holds
    with pytest.raises(MobiledeployError, match="MobileNetV2"):
        build_with_weights(0.35, 96, str(tmp_path / "keras" / "models" /
                                         "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96.h5"))
