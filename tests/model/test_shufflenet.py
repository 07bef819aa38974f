"""ShuffleNet V1 and V2, the third and fourth families: stage-by-stage shapes against the papers' architecture
tables, their complexity tables (mult-adds, parameters) within 2%, channel shuffle against a numpy reference,
memory access cost, and the bad inputs a user meets first (one line each, nothing written)."""
import json

import numpy as np
import pytest

from conftest import assert_one_line_error, mobiledeploy
from mobiledeploy.errors import MobiledeployError
from mobiledeploy.model import architecture_shufflenet as shuffle
from mobiledeploy.model.cost import summary
from mobiledeploy.model.families import FAMILIES, family

V1_NAMES = {1: "shufflenet_v1_g1", 2: "shufflenet_v1_g2", 3: "shufflenet_v1", 4: "shufflenet_v1_g4",
            8: "shufflenet_v1_g8"}

# Zhang et al. 2017 (ShuffleNet), Table 1: stage output channels at 1x and "Complexity" (MFLOPs, i.e.
# mult-adds) at 224x224 for g = 1, 2, 3, 4, 8.
TABLE1 = {1: ((144, 288, 576), 143), 2: ((200, 400, 800), 140), 3: ((240, 480, 960), 137),
          4: ((272, 544, 1088), 133), 8: ((384, 768, 1536), 137)}
# Table 2: complexity of ShuffleNet s x (one number per width; g = 3 is the paper's default). Table 5 (the
# comparison with MobileNet) adds 1.5x and 2x, g = 3: 292 and 524 MFLOPs.
TABLE2 = {0.25: 13, 0.5: 38, 1.0: 140}
TABLE5_V1 = {1.5: 292, 2.0: 524}
# Ma et al. 2018 (ShuffleNet V2), Table 5: FLOPs (mult-adds, millions) and # of weights (millions) at 224.
TABLE5_V2 = {0.5: (41, 1.4), 1.0: (146, 2.3), 1.5: (299, 3.5), 2.0: (591, 7.4)}
# torchvision's parameter counts of shufflenet_v2_x*_* (its docs' "num_params"): ours plus the batch norms'
# learned scale and shift (2 per channel) must give them exactly.
TORCHVISION_PARAMS = {0.5: 1_366_792, 1.0: 2_278_604, 1.5: 3_503_624, 2.0: 7_393_996}


def within(ours_millions, published, rel=0.02, printed_digits=0):
    """Within 2% of the table, or equal to it at the precision the table prints (13M is 12.5M to 13.5M)."""
    return abs(ours_millions - published) <= rel * published or round(ours_millions, printed_digits) == published


@pytest.mark.parametrize("g", sorted(TABLE1))
def test_v1_complexity_table1_row(g):
    widths, mflops = TABLE1[g]
    fam = family(V1_NAMES[g])
    assert fam.groups == g
    assert tuple(fam.widths(1.0)[f"stage{s}_{n - 1}_gconv2"] for s, n in zip((2, 3, 4), shuffle.REPEATS)) == widths
    macs = summary(1.0, 224, 1000, fam)["macs"] / 1e6
    assert abs(macs - mflops) <= 0.02 * mflops, (g, macs)


@pytest.mark.parametrize("alpha", sorted(TABLE2))
def test_v1_complexity_table2_width(alpha):
    macs = summary(alpha, 224, 1000, family("shufflenet_v1"))["macs"] / 1e6
    # 0.25x computes 13.3M: 2.3% above the printed 13, which stands for 12.5M-13.5M
    assert within(macs, TABLE2[alpha]), macs


@pytest.mark.parametrize("alpha", sorted(TABLE5_V1))
def test_v1_complexity_table5_width(alpha):
    macs = summary(alpha, 224, 1000, family("shufflenet_v1"))["macs"] / 1e6
    assert abs(macs - TABLE5_V1[alpha]) <= 0.02 * TABLE5_V1[alpha], macs


@pytest.mark.parametrize("alpha", sorted(TABLE5_V2))
def test_v2_complexity_table5_row(alpha):
    mflops, mparams = TABLE5_V2[alpha]
    s = summary(alpha, 224, 1000, family("shufflenet_v2"))
    assert abs(s["macs"] / 1e6 - mflops) <= 0.02 * mflops, s["macs"]
    # the table prints one decimal (0.5x: 1.36M prints 1.4)
    assert within(s["params"] / 1e6, mparams, printed_digits=1), s["params"]


@pytest.mark.parametrize("alpha", sorted(TORCHVISION_PARAMS))
def test_v2_parameters_equal_torchvision_exactly(alpha):
    fam = family("shufflenet_v2")
    layers = fam.layers(alpha, 224, 1000)
    bn_channels = sum(layer.cout for layer in layers if layer.bn and layer.kind in ("conv", "dw", "pw"))
    assert summary(alpha, 224, 1000, fam)["params"] + 2 * bn_channels == TORCHVISION_PARAMS[alpha]


def _stage_outputs(model, fam):
    last = {1: "relu", 2: "shuffle"}[fam.version]
    names = ["conv1_relu", "maxpool"] + [f"stage{s}_{n - 1}_{last}" for s, n in zip((2, 3, 4), shuffle.REPEATS)]
    if fam.version == 2:
        names.append("conv5_relu")
    return [tuple(model.get_layer(n).output.shape[1:]) for n in names] + [tuple(model.output.shape[1:])]


@pytest.mark.parametrize("g", [1, 3, 8])
def test_v1_keras_stage_shapes_as_table1(g):
    from mobiledeploy.model.mobilenet import build

    fam = family(V1_NAMES[g])
    c2, c3, c4 = TABLE1[g][0]
    model = build(fam, 1.0, 224)
    # Table 1: Conv1 112x112x24, MaxPool 56x56, Stage2 28x28, Stage3 14x14, Stage4 7x7, FC 1000
    assert _stage_outputs(model, fam) == [(112, 112, 24), (56, 56, 24), (28, 28, c2), (14, 14, c3), (7, 7, c4),
                                          (1000,)]
    # 3 x 3 bottleneck of a quarter of the output; the first pointwise layer of stage 2 is not grouped
    assert model.get_layer("stage2_0_gconv1").groups == 1 and model.get_layer("stage2_1_gconv1").groups == g
    assert model.get_layer("stage3_1_gconv1").filters == c3 // 4
    conv = [layer for layer in fam.layers(1.0, 224, 1000) if layer.kind in ("conv", "dw", "pw", "fc")]
    assert model.count_params() == summary(1.0, 224, 1000, fam)["params"] + 4 * sum(
        layer.cout for layer in conv if layer.bn)


@pytest.mark.parametrize("alpha,widths", [(a, w) for a, w in shuffle.V2_WIDTHS.items()])
def test_v2_keras_stage_shapes_as_table5(alpha, widths):
    from mobiledeploy.model.mobilenet import build

    fam = family("shufflenet_v2")
    c2, c3, c4, c5 = widths
    model = build(fam, alpha, 224)
    assert _stage_outputs(model, fam) == [(112, 112, 24), (56, 56, 24), (28, 28, c2), (14, 14, c3), (7, 7, c4),
                                          (7, 7, c5), (1000,)]


def test_any_resolution_keeps_sides_as_the_table_says():
    from mobiledeploy.model.mobilenet import build

    for name in ("shufflenet_v1", "shufflenet_v2"):
        fam = family(name)
        model = build(fam, 0.5, 100)
        specs = {layer.name: layer for layer in fam.layers(0.5, 100, 1000)}
        for key in ("conv1", "maxpool", "stage2_0_dw", "stage3_0_dw", "stage4_3_dw"):
            assert model.get_layer(key).output.shape[1] == specs[key].out_size   # 100 -> 50 -> 25 -> 13 -> 7 -> 4
        assert specs["stage4_3_dw"].out_size == 4


def _torch_shuffle(nchw, groups):
    """PyTorch's channel_shuffle (torchvision): view(b, g, c/g, h, w), transpose(1, 2), flatten."""
    b, c, h, w = nchw.shape
    return nchw.reshape(b, groups, c // groups, h, w).transpose(0, 2, 1, 3, 4).reshape(b, c, h, w)


@pytest.mark.parametrize("groups,channels", [(2, 8), (3, 12), (8, 48), (2, 116)])
def test_channel_shuffle_equals_numpy_reference(groups, channels):
    from mobiledeploy.quiet import import_tf

    import_tf()
    from mobiledeploy.model.shufflenet import custom_layers

    shuffle_layer, _ = custom_layers()
    x = np.random.default_rng(groups).standard_normal((2, 5, 3, channels)).astype(np.float32)
    ours = np.asarray(shuffle_layer(groups)(x))
    reference = _torch_shuffle(x.transpose(0, 3, 1, 2), groups).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(ours, reference)
    # channel j*g + i comes from i*(c/g) + j: the groups interleave
    assert ours[0, 0, 0, 1] == x[0, 0, 0, channels // groups]


def test_memory_access_cost_every_family_and_precision():
    for fam in FAMILIES.values():
        fp32 = summary(1.0, 224, 1000, fam, "fp32")
        int8 = summary(1.0, 224, 1000, fam, "int8")
        assert fp32["mac_bytes"] == 4 * int8["mac_bytes"] > 0
        assert fp32["mac_bytes"] == sum(row["mac"] for row in fp32["layers"])
    # the V2 paper's MAC of a 1x1 convolution: hw(c1 + c2) + c1 c2 (elements); grouped: c1 c2 / g
    rows = {r["name"]: r for r in summary(1.0, 224, 1000, family("shufflenet_v2"), "int8")["layers"]}
    assert rows["stage3_1_pw1"]["mac"] == 14 * 14 * (116 + 116) + 116 * 116
    rows = {r["name"]: r for r in summary(1.0, 224, 1000, family("shufflenet_v1"), "int8")["layers"]}
    assert rows["stage3_1_gconv2"]["mac"] == 14 * 14 * (120 + 480) + 120 * 480 // 3 + 3 * 14 * 14 * 480  # + its Add
    # layers without weights cost memory traffic, not mult-adds (the paper's G4)
    assert rows["stage3_1_shuffle"]["macs"] == 0 and rows["stage3_1_shuffle"]["mac"] == 2 * 14 * 14 * 120


def test_mobilenet_cost_unchanged_by_memory_access():
    s = summary(1.0, 224, 1000, family("mobilenet_v1"))
    assert s["macs"] == 568_740_352 and s["params"] == 4_210_088  # Howard et al.: 569M, 4.2M


def test_info_prints_paper_cost_and_memory_access():
    doc = json.loads(mobiledeploy("info", "--arch", "shufflenet_v2", "--alpha", "1.0", "--res", "224", "--json",
                                  check=True).stdout)
    assert doc["architecture"] == "shufflenet_v2" and round(doc["macs"] / 1e6) == 145
    assert doc["mac_bytes"] > 0 and doc["precision"] == "fp32" and all("mac" in row for row in doc["layers"])
    int8 = json.loads(mobiledeploy("info", "--arch", "shufflenet_v1_g8", "--precision", "int8", "--json",
                                   check=True).stdout)
    assert int8["precision"] == "int8" and int8["architecture"] == "shufflenet_v1_g8"
    text = mobiledeploy("info", "--arch", "shufflenet_v1", "--alpha", "0.5", "--res", "160", check=True).stdout
    assert "stage2_0_shuffle" in text and "memory access" in text


def test_alpha_read_back_from_widths():
    for name in ("shufflenet_v1", "shufflenet_v1_g8", "shufflenet_v2"):
        fam = family(name)
        for alpha in ((0.5, 1.0, 1.5, 2.0) if fam.version == 2 else (0.25, 0.5, 1.0, 1.5, 2.0)):
            assert fam.alpha_of(fam.widths(alpha)) == alpha


def test_unknown_v2_width_and_groups_are_errors():
    with pytest.raises(MobiledeployError, match="Table 5"):
        family("shufflenet_v2").layers(0.75, 224, 1000)
    with pytest.raises(MobiledeployError, match="does not divide"):
        family("shufflenet_v1_g5")
    assert family("shufflenet_v1_g3") is family("shufflenet_v1")


@pytest.mark.parametrize("argv,fragments", [
    (["--arch", "shufflenet_v1_g5"], ("g=5", "does not divide", "1, 2, 3, 4, 8")),
    (["--arch", "shufflenet_v1_g6"], ("g=6", "Table 1")),
    (["--arch", "shufflenet_v2", "--alpha", "0.75"], ("0.75", "0.5, 1, 1.5, 2")),
])
def test_bad_shape_one_line_nothing_written(tmp_path, argv, fragments):
    for command in (["info"], ["export", "--weights", "none", "--out", str(tmp_path)]):
        proc = mobiledeploy(*command, *argv)
        assert proc.returncode == 2
        assert_one_line_error(proc, *fragments)
    assert not list(tmp_path.iterdir())


def test_published_top1_ranks_shufflenet_beside_mobilenets():
    from mobiledeploy.sweep.published import top1

    assert top1(1.0, 224, "fp32", "shufflenet_v2") == pytest.approx(0.694)   # Ma et al. Table 8: 30.6% error
    assert top1(0.5, 224, "fp32", "shufflenet_v1_g8") == pytest.approx(0.577)  # Zhang et al. Table 2: 42.3%
    assert top1(1.0, 224, "fp32", "shufflenet_v1") == pytest.approx(0.674)   # g = 3: 32.6%
    assert top1(1.0, 160, "fp32", "shufflenet_v2") is None and top1(1.0, 224, "int8", "shufflenet_v2") is None
    for name in FAMILIES:  # every family has a published table
        assert any(top1(a, 224, "fp32", name) for a in (0.25, 0.5, 1.0)), name
