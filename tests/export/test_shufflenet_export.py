"""ShuffleNet exported like a MobileNet: every precision of TFLite and ONNX verified against Keras, and the
converted graphs checked: no Flex (TensorFlow) ops, every compute op int8, the channel shuffle and the grouped
1x1 convolutions kept as single operations."""
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import mobiledeploy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model"))
from test_shufflenet_reference import torchvision_state_dict, write_npz  # noqa: E402

pytestmark = pytest.mark.slow

#: TFLite ops that compute; each must read int8 in the int8 file (QUANTIZE/DEQUANTIZE only at the edges)
COMPUTE = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "CONCATENATION", "TRANSPOSE", "RESHAPE",
           "STRIDED_SLICE", "SLICE", "SPLIT", "PAD", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN", "SOFTMAX"}


def _v1_keras2_h5(path, alpha, resolution):
    """ShuffleNet V1 (g=3) with random but realistic weights (He kernels, batch-norm statistics), as a Keras 2
    .h5 by layer name: mobiledeploy's own ShuffleNet file, the way a trained one would be handed over."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from h5_layout import write_keras2_h5
    from mobiledeploy.model.families import family
    from mobiledeploy.model.mobilenet import build

    rng = np.random.default_rng(3)
    model = build(family("shufflenet_v1"), alpha, resolution)
    for layer in model.layers:
        arrays = layer.get_weights()
        if len(arrays) == 4:    # batch norm: gamma, beta, mean, variance
            c = arrays[0].shape
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c), rng.normal(0, 0.1, c),
                               rng.uniform(0.5, 1.5, c)])
        elif arrays:
            kernel = arrays[0]
            fan_in = int(np.prod(kernel.shape[:-1])) if kernel.ndim == 4 and kernel.shape[-1] != 1 else 9
            scale = 4 if kernel.ndim == 2 else 1
            new = [rng.standard_normal(kernel.shape) * scale * np.sqrt(2.0 / fan_in)] + [
                rng.normal(0, 0.1, a.shape) for a in arrays[1:]]
            layer.set_weights([a.astype(np.float32) for a in new])
    write_keras2_h5(path, model)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """V2 0.5x from a torchvision state dict and V1 g=3 0.5x from a Keras .h5, both at 96, every file kind."""
    root = tmp_path_factory.mktemp("shufflenet")
    weights = {"shufflenet_v2": write_npz(root / "shufflenet_v2_x0_5.npz", torchvision_state_dict(0.5)),
               "shufflenet_v1": _v1_keras2_h5(root / "shufflenet_v1.h5", 0.5, 96)}
    out = {}
    for arch, path in weights.items():
        proc = mobiledeploy("export", "--arch", arch, "--alpha", "0.5", "--res", "96", "--int8", "--weights", str(path),
                            "--out", str(root / "models"), "--json", check=True)
        out[arch] = json.loads(proc.stdout)
    return out


@pytest.mark.parametrize("arch", ["shufflenet_v1", "shufflenet_v2"])
def test_every_precision_verified(exported, arch):
    result = exported[arch]
    assert result["weights"] == ("torchvision" if arch == "shufflenet_v2" else "keras-h5")
    manifest = json.loads(Path(result["manifest"]).read_text())
    assert manifest["model"]["architecture"] == arch
    by_name = {f["name"]: f["verification"] for f in manifest["files"]}
    assert set(by_name) == {"model_fp32.tflite", "model_int8.tflite", "model_fp32.onnx", "model_int8.onnx"}
    for name, check in by_name.items():
        if "fp32" in name:
            assert check["cosine_min"] >= 0.9999 and check["top1_agreement"] == 1.0, (name, check)
        else:   # data-free calibration of random weights: close, not equal
            assert check["cosine_mean"] >= 0.9, (name, check)


def _tflite_ops(path):
    from mobiledeploy.litert import open_interpreter

    it = open_interpreter(path, delegates=False)
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    return [(op["op_name"], [tensors[i] for i in op["inputs"] if i >= 0], [tensors[i] for i in op["outputs"]])
            for op in it._get_ops_details()], it


@pytest.mark.parametrize("arch", ["shufflenet_v1", "shufflenet_v2"])
def test_int8_tflite_graph_no_flex_every_compute_op_int8(exported, arch):
    ops, _ = _tflite_ops(Path(exported[arch]["artifact"]) / "model_int8.tflite")
    names = Counter(name for name, _, _ in ops)
    assert not [n for n in names if n.startswith("Flex") or n == "CUSTOM"], names
    assert set(names) <= COMPUTE | {"QUANTIZE", "DEQUANTIZE"}, names
    for name, inputs, outputs in ops:
        if name in COMPUTE:
            assert inputs[0]["dtype"] == np.int8 and outputs[0]["dtype"] == np.int8, (name, inputs[0]["name"])
    # one channel shuffle = RESHAPE, TRANSPOSE, RESHAPE per unit (16 units), never a Gather or a Flex op
    assert names["TRANSPOSE"] == 16


def test_grouped_convolutions_stay_one_op(exported):
    ops, _ = _tflite_ops(Path(exported["shufflenet_v1"]["artifact"]) / "model_int8.tflite")
    grouped = [(i[0]["shape"][-1], i[1]["shape"][-1]) for name, i, _ in ops
               if name == "CONV_2D" and i[1]["shape"][-1] != i[0]["shape"][-1]]
    # every grouped 1x1 convolution but stage 2's first: 31 of them, each kernel reading a third of the channels
    assert len(grouped) == 31 and all(cin == 3 * per_group for cin, per_group in grouped), grouped
    import onnx

    graph = onnx.load(Path(exported["shufflenet_v1"]["artifact"]) / "model_int8.onnx").graph
    groups = Counter(a.i for n in graph.node if n.op_type == "Conv" for a in n.attribute if a.name == "group")
    assert groups[3] == 31


def test_int8_onnx_every_convolution_quantized(exported):
    import onnx

    for arch in exported:
        graph = onnx.load(Path(exported[arch]["artifact"]) / "model_int8.onnx").graph
        produced_by = {o: n.op_type for n in graph.node for o in n.output}
        for node in graph.node:
            if node.op_type in ("Conv", "Gemm"):
                assert produced_by.get(node.input[0]) == "DequantizeLinear", (arch, node.name)
                assert produced_by.get(node.input[1]) == "DequantizeLinear", (arch, node.name)  # int8 weights


def test_imported_weights_classify_as_torchvision_does(exported):
    """The artifact's fp32 files give torchvision's answer on an image (the numpy reference forward)."""
    from test_shufflenet_reference import torchvision_forward
    from mobiledeploy.runtime.session import Session

    state = torchvision_state_dict(0.5)
    image = np.random.default_rng(7).uniform(-1, 1, (96, 96, 3)).astype(np.float32)
    reference = torchvision_forward(state, image)
    for name in ("model_fp32.tflite", "model_fp32.onnx"):
        session = Session(Path(exported["shufflenet_v2"]["artifact"]) / name)
        scores = np.asarray(session.run(image[None])).reshape(-1)
        np.testing.assert_allclose(scores, reference, atol=2e-5, rtol=1e-3)
