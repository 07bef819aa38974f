"""torchvision's ShuffleNet V2 as an ONNX file: built here with the onnx package in exactly the layouts the
exporters write, imported with `--weights FILE.onnx`, the Keras outputs against the file's own outputs run by
onnxruntime.

The graph is torchvision's forward pass as torch.onnx.export writes it (NCHW input normalised by torchvision's
mean/std, logits out): Conv [+ BatchNormalization] + Relu, MaxPool with pads 1, Split for `x.chunk(2, 1)`,
Concat, the channel shuffle as Reshape (1, 2, c/2, h, w) -> Transpose (0, 2, 1, 3, 4) -> Reshape (1, c, h, w),
ReduceMean over (2, 3) for `x.mean([2, 3])`, Gemm transB=1 for the Linear. Two layouts:

- "zoo": opset 10, every Conv without bias followed by a BatchNormalization, initializers named after
  torchvision's parameters (the ONNX model zoo's shufflenet-v2-10.onnx, torchvision 0.5 exported before PyTorch
  fused batch norm; today `training=TrainingMode.PRESERVE`);
- "folded": opset 17, batch norm folded into each Conv's weight and bias under anonymous names
  (`onnx::Conv_612`), what `torch.onnx.export` of an eval-mode model writes since PyTorch 1.7.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error, mobiledeploy
from mobiledeploy.model import architecture_shufflenet as shuffle
from test_shufflenet_reference import MEAN, STD, torchvision_state_dict


class _Writer:
    """Nodes and initializers of a torchvision-style graph, named as torch.onnx.export names them."""

    def __init__(self, state, folded, opset):
        self.state, self.folded, self.opset = state, folded, opset
        self.nodes, self.inits, self.count = [], [], 600

    def name(self, kind, anonymous=False):
        """A node output (/Conv_601_output_0) or an anonymous constant (onnx::Conv_602), as torch names them."""
        self.count += 1
        return f"onnx::{kind}_{self.count}" if anonymous else f"/{kind}_{self.count}_output_0"

    def init(self, name, array):
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, outputs=1, **attrs):
        from onnx import helper

        names = [self.name(op) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, names, name=names[0].rsplit("_output", 1)[0], **attrs))
        return names if outputs > 1 else names[0]

    def conv(self, x, prefix, stride=1, relu=True):
        """torchvision's Conv2d(bias=False) + BatchNorm2d [+ ReLU] at `prefix` (conv1.0 -> bn conv1.1)."""
        s = self.state
        w = s[f"{prefix}.weight"]
        bn = prefix[:-1] + str(int(prefix[-1]) + 1)
        k, group = w.shape[-1], (w.shape[0] if w.shape[1] == 1 else 1)
        attrs = dict(kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4, group=group,
                     dilations=[1, 1])
        if self.folded:
            factor = s[f"{bn}.weight"] / np.sqrt(s[f"{bn}.running_var"] + 1e-5)
            weight = self.init(self.name("Conv", True), (w * factor[:, None, None, None]).astype(np.float32))
            bias = self.init(self.name("Conv", True), (s[f"{bn}.bias"] - s[f"{bn}.running_mean"] * factor).astype(np.float32))
            y = self.node("Conv", [x, weight, bias], **attrs)
        else:
            y = self.node("Conv", [x, self.init(f"{prefix}.weight", w)], **attrs)
            y = self.node("BatchNormalization", [y, *(self.init(f"{bn}.{k}", s[f"{bn}.{k}"]) for k in
                                                       ("weight", "bias", "running_mean", "running_var"))],
                          epsilon=1e-5, momentum=0.9)
        return self.node("Relu", [y]) if relu else y

    def split(self, x, channels):
        if self.opset < 13:
            return self.node("Split", [x], 2, axis=1, split=[channels // 2] * 2)
        return self.node("Split", [x, self.init(self.name("Split", True), np.array([channels // 2] * 2))], 2,
                         axis=1)

    def shuffle(self, x, channels, size):
        y = self.node("Reshape", [x, self.init(self.name("Reshape", True), np.array([1, 2, channels // 2, size, size]))])
        y = self.node("Transpose", [y], perm=[0, 2, 1, 3, 4])
        return self.node("Reshape", [y, self.init(self.name("Reshape", True), np.array([1, channels, size, size]))])


def torchvision_onnx(state, alpha, resolution, folded, branch2_first=False):
    """torchvision's ShuffleNetV2 forward pass as an onnx ModelProto in the "zoo" or "folded" layout.
    branch2_first: a stride-2 unit's branch2 nodes before branch1's (a valid order a graph tool may leave)."""
    from onnx import TensorProto, checker, helper

    opset = 17 if folded else 10
    g = _Writer(state, folded, opset)
    x = g.conv("input", "conv1.0", 2)
    x = g.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    for u in shuffle.units(2, alpha, resolution):
        stage, index = u.name.removeprefix("stage").split("_")
        p = f"stage{stage}.{index}"
        if u.stride == 1:
            kept, y = g.split(x, u.cin)
        else:
            y = x
        first_branch = len(g.nodes)
        if u.stride == 2:
            kept = g.conv(g.conv(x, f"{p}.branch1.0", 2, relu=False), f"{p}.branch1.2")
        branch1 = g.nodes[first_branch:]
        start = len(g.nodes)
        y = g.conv(g.conv(g.conv(y, f"{p}.branch2.0"), f"{p}.branch2.3", u.stride, relu=False), f"{p}.branch2.5")
        if branch2_first and u.stride == 2:
            g.nodes[first_branch:] = g.nodes[start:] + branch1
        x = g.shuffle(g.node("Concat", [kept, y], axis=1), u.cout, u.out_size)
    x = g.conv(x, "conv5.0")
    x = g.node("ReduceMean", [x], axes=[2, 3], keepdims=0)
    logits = "output"
    g.nodes.append(helper.make_node("Gemm", [x, g.init("fc.weight", state["fc.weight"]),
                                             g.init("fc.bias", state["fc.bias"])], [logits], name="/fc/Gemm",
                                    alpha=1.0, beta=1.0, transB=1))
    classes = state["fc.weight"].shape[0]
    graph = helper.make_graph(g.nodes, "main_graph",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, resolution, resolution])],
                              [helper.make_tensor_value_info(logits, TensorProto.FLOAT, [1, classes])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="pytorch",
                              producer_version="2.3.0" if folded else "1.2")
    model.ir_version = 8 if folded else 5
    checker.check_model(model, full_check=True)
    return model


def write_onnx(path: Path, model) -> Path:
    import onnx

    onnx.save(model, str(path))
    return path


def onnx_probabilities(path: Path, images: np.ndarray) -> np.ndarray:
    """The file's own outputs (logits, as torchvision's) through onnxruntime, as softmax scores, for images in
    the artifact's input convention ((p - 127.5) / 127.5, NHWC): torchvision's normalisation is done here."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = []
    for image in images:
        x = (((image.astype(np.float64).transpose(2, 0, 1) + 1) / 2 - MEAN) / STD)[None].astype(np.float32)
        logits = session.run(None, {"input": x})[0][0].astype(np.float64)
        e = np.exp(logits - logits.max())
        out.append(e / e.sum())
    return np.array(out)


def _images(resolution, count=3, seed=1):
    return np.random.default_rng(seed).uniform(-1, 1, (count, resolution, resolution, 3)).astype(np.float32)


@pytest.mark.parametrize("alpha,resolution,folded,branch2_first", [
    (0.5, 64, False, False),   # the model zoo's layout, named initializers
    (1.0, 96, True, False),    # torch.onnx.export today: folded, anonymous
    (0.5, 64, True, True),     # folded, anonymous, a stride-2 unit's branches in the other valid order
])
def test_onnx_file_imports_to_the_files_own_outputs(tmp_path, alpha, resolution, folded, branch2_first):
    from mobiledeploy.model.families import family
    from mobiledeploy.model.weights import build_with_weights

    state = torchvision_state_dict(alpha)
    path = write_onnx(tmp_path / "shufflenet_v2.onnx", torchvision_onnx(state, alpha, resolution, folded, branch2_first))
    loaded = build_with_weights(alpha, resolution, str(path), family=family("shufflenet_v2"))
    assert loaded.origin["kind"] == "onnx"
    assert loaded.origin["layout"] == ("folded" if folded else "conv+bn")
    assert loaded.origin["matched"] == ("structure" if folded else "names")
    images = _images(resolution)
    ours = loaded.model(images, training=False).numpy()
    theirs = onnx_probabilities(path, images)
    assert ours.max() > 0.01  # confident, non-uniform answers: the comparison means something
    np.testing.assert_array_equal(ours.argmax(1), theirs.argmax(1))
    np.testing.assert_allclose(ours, theirs, atol=2e-5, rtol=1e-3)


def test_export_from_onnx_gives_the_files_outputs(tmp_path):
    """`export --arch shufflenet_v2 --weights FILE.onnx`: the artifact records where its weights came from,
    and its fp32 file computes what the ONNX file computes."""
    from mobiledeploy.runtime.session import Session

    alpha, resolution = 0.5, 96
    path = write_onnx(tmp_path / "shufflenet-v2.onnx", torchvision_onnx(torchvision_state_dict(alpha, seed=3), alpha,
                                                                        resolution, folded=True))
    proc = mobiledeploy("export", "--arch", "shufflenet_v2", "--alpha", alpha, "--res", resolution, "--formats",
                        "tflite", "--weights", path, "--out", tmp_path / "models", "--json", check=True)
    artifact = Path(json.loads(proc.stdout)["artifact"])
    manifest = json.loads((artifact / "manifest.json").read_text())
    assert manifest["model"]["architecture"] == "shufflenet_v2"
    assert manifest["model"]["weights"]["kind"] == "onnx" and manifest["model"]["weights"]["layout"] == "folded"
    images = _images(resolution, seed=4)
    session = Session(artifact / "model_fp32.tflite")
    ours = np.array([session.run(image[None])[0] for image in images])
    np.testing.assert_allclose(ours, onnx_probabilities(path, images), atol=5e-5, rtol=1e-3)


def test_our_own_onnx_export_imports_back(tmp_path):
    """mobiledeploy's own ShuffleNet V2 ONNX file (NHWC input, batch norm folded, softmax out) is the same
    network: importing it gives the weights it was written from."""
    from mobiledeploy.export.onnx_writer import keras_to_onnx
    from mobiledeploy.model.families import family
    from mobiledeploy.model.weights import build_with_weights

    v2 = family("shufflenet_v2")
    source = write_onnx(tmp_path / "torch.onnx", torchvision_onnx(torchvision_state_dict(0.5), 0.5, 64, folded=False))
    original = build_with_weights(0.5, 64, str(source), family=v2).model
    ours = write_onnx(tmp_path / "ours.onnx", keras_to_onnx(original, 0.5, 64, v2))
    again = build_with_weights(0.5, 64, str(ours), family=v2)
    assert again.origin["layout"] == "folded"
    images = _images(64)
    np.testing.assert_allclose(again.model(images, training=False).numpy(), original(images, training=False).numpy(),
                               atol=1e-5, rtol=1e-3)


def test_mobilenet_onnx_wrong_width_and_damaged_file_are_one_line_each(tmp_path):
    from mobiledeploy.export.onnx_writer import keras_to_onnx
    from mobiledeploy.model.families import family
    from mobiledeploy.model.mobilenet import build

    v1 = family("mobilenet_v1")
    mobilenet = write_onnx(tmp_path / "mobilenet_v1.onnx", keras_to_onnx(build(v1, 0.25, 32), 0.25, 32, v1))
    shufflenet = write_onnx(tmp_path / "shufflenet_v2_x0_5.onnx",
                            torchvision_onnx(torchvision_state_dict(0.5), 0.5, 64, folded=True))
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(shufflenet.read_bytes()[:5000])
    out = tmp_path / "out"
    out.mkdir()
    cases = [
        (["--arch", "shufflenet_v2", "--alpha", "0.5", "--weights", mobilenet], ("MobileNet v1", "not a ShuffleNet V2")),
        (["--arch", "shufflenet_v2", "--alpha", "1.0", "--weights", shufflenet], ("0.5x", "--alpha 0.5")),
        (["--arch", "mobilenet_v2", "--alpha", "0.5", "--weights", shufflenet], ("--arch shufflenet_v2",)),
        (["--arch", "shufflenet_v1", "--alpha", "0.5", "--weights", shufflenet], ("--arch shufflenet_v2",)),
        (["--arch", "shufflenet_v2", "--alpha", "0.5", "--weights", damaged], ("cannot read", "as an ONNX model")),
    ]
    for argv, fragments in cases:
        proc = mobiledeploy("export", "--res", "64", "--formats", "tflite", "--out", out, *argv)
        assert proc.returncode == 2, proc.stderr
        assert_one_line_error(proc, *fragments)
    assert not list(out.iterdir())


def test_quantized_onnx_files_qdq_imports_qoperator_is_refused(tmp_path):
    """The model zoo also has ShuffleNet V2 quantized by onnxruntime: shufflenet-v2-12-qdq.onnx (int8 weights
    through DequantizeLinear: imported, dequantized) and shufflenet-v2-12-int8.onnx (QLinearConv: no float Conv
    left; one line naming the float file). Both made here by onnxruntime's own quantizer from a folded file."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    from mobiledeploy.model.families import family
    from mobiledeploy.model.weights import build_with_weights

    alpha, resolution = 0.5, 64
    float_file = write_onnx(tmp_path / "float.onnx", torchvision_onnx(torchvision_state_dict(alpha), alpha, resolution,
                                                                      folded=True))
    images = _images(resolution, count=4)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{"input": (((i.transpose(2, 0, 1) + 1) / 2 - MEAN) / STD)[None].astype(np.float32)}
                               for i in images])

        def get_next(self):
            return next(self.items, None)

    files = {}
    for name, fmt in (("qdq", QuantFormat.QDQ), ("int8", QuantFormat.QOperator)):
        files[name] = tmp_path / f"shufflenet-v2-12-{name}.onnx"
        quantize_static(str(float_file), str(files[name]), Reader(), quant_format=fmt, per_channel=True)
    v2 = family("shufflenet_v2")
    loaded = build_with_weights(alpha, resolution, str(files["qdq"]), family=v2)
    assert loaded.origin["kind"] == "onnx" and loaded.origin["layout"] == "folded"
    ours = loaded.model(images, training=False).numpy()
    reference = onnx_probabilities(float_file, images)
    # int8 weights (per channel) instead of the float ones: close to the float file, not equal
    assert 0 < np.abs(ours - reference).max() < 0.05
    np.testing.assert_array_equal(ours.argmax(1), reference.argmax(1))
    proc = mobiledeploy("export", "--arch", "shufflenet_v2", "--alpha", alpha, "--res", resolution, "--weights",
                        files["int8"], "--out", tmp_path / "out")
    assert_one_line_error(proc, "quantized ONNX model", "QLinearConv", "float")
    assert not (tmp_path / "out").exists()
