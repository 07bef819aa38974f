"""Import ShuffleNet V2 weights from an ONNX file of torchvision's network.

Two layouts exist in the wild, and both are read:

- Conv + BatchNormalization: the ONNX model zoo's `shufflenet-v2-10.onnx` (torchvision 0.5 exported by a
  PyTorch that did not yet fuse batch norm) and `torch.onnx.export(..., training=TrainingMode.PRESERVE)`
  or the dynamo exporter: initializers named after torchvision's parameters (conv1.0.weight,
  conv1.1.running_mean ...), each Conv without a bias followed by a BatchNormalization node.
- Batch norm folded: `torch.onnx.export` of a model in eval mode (PyTorch >= 1.7 fuses every Conv +
  BatchNormalization pair): anonymous initializers (`onnx::Conv_612`, or plain numbers) holding each Conv's
  folded weight and bias; the classifier stays a Gemm named fc.weight / fc.bias.

Weights are found by structure, not by name: the Convs in graph order (the order torch.onnx.export writes, the
forward pass's), grouped into chains (Conv -> [BatchNormalization] -> [Relu] -> Conv), a stride-2 unit's two
chains put in torchvision's order (branch1, whose chain starts with the depthwise convolution, first) whatever
order a graph tool left them in; when every Conv's weight carries a torchvision name, the names decide. Each
convolution's kind, group and stride are checked against the layer table before anything is assigned. The
result is a torchvision state dict (folded batch norm as an identity batch norm carrying the bias), loaded by
torchvision_import. Weights stored as DequantizeLinear of int8 constants (a QDQ file) are dequantized; files
of QLinearConv or external data are refused with what to pass instead.

The file is parsed, never run, and read without external data (a path inside an ONNX file is not followed).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MobiledeployError
from . import architecture_shufflenet as shuffle
from . import families
from .architecture import MIN_RESOLUTION
from .shufflenet import BN_EPSILON
from .torchvision_import import pairs

#: Nodes a chain of convolutions passes through between one Conv and the next inside a branch.
THROUGH = ("BatchNormalization", "Relu", "Clip", "Identity", "QuantizeLinear", "DequantizeLinear")
#: Quantized operators whose weights are not a float Conv's: refused with what to pass instead.
QUANTIZED = ("QLinearConv", "ConvInteger", "QLinearMatMul", "MatMulInteger")


@dataclass
class Conv:
    """One Conv node: its weight (O, I/g, kh, kw), bias or None, group, stride, and the batch norm after it."""

    node: object
    weight: np.ndarray
    bias: np.ndarray | None
    group: int
    stride: int
    weight_name: str
    padded: bool   # PyTorch's padding: kernel // 2 zeros on every side, no dilation (what our builder does)
    bn: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float] | None = None  # scale, B, mean, var, eps

    @property
    def depthwise(self) -> bool:
        return self.group > 1 and self.group == self.weight.shape[0] and self.weight.shape[1] == 1


@dataclass
class OnnxShuffleNet:
    """What an ONNX ShuffleNet V2 file holds, as torchvision's state dict."""

    alpha: float
    outputs: int
    state: dict[str, np.ndarray]
    folded: bool   # batch norm folded into the convolutions (no statistics in the file)
    by_name: bool  # the layers were told apart by torchvision's names (else by graph structure)

    def describe(self) -> str:
        layout = "batch norm folded into the convolutions" if self.folded else "Conv + BatchNormalization"
        return f"torchvision's ShuffleNet V2 {self.alpha:g}x ({layout}, {self.outputs} outputs)"


class Graph:
    """The nodes and constants of an ONNX graph, and who produces and consumes each tensor."""

    def __init__(self, model, source: str):
        from onnx import numpy_helper

        self.source = source
        self.nodes = list(model.graph.node)
        self.consts: dict[str, np.ndarray] = {}
        for tensor in model.graph.initializer:
            self.consts[tensor.name] = self._array(tensor, numpy_helper)
        for node in self.nodes:
            if node.op_type == "Constant":
                for attr in node.attribute:
                    if attr.name == "value":
                        self.consts[node.output[0]] = self._array(attr.t, numpy_helper)
        self.producer = {out: node for node in self.nodes for out in node.output}
        self.consumers: dict[str, list] = {}
        for node in self.nodes:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.position = {id(node): i for i, node in enumerate(self.nodes)}

    def _array(self, tensor, numpy_helper) -> np.ndarray:
        from onnx import TensorProto

        if tensor.data_location == TensorProto.EXTERNAL:
            raise MobiledeployError(f"{self.source} keeps its weights in external data files; mobiledeploy does not "
                                    "follow paths written inside a model: save it as one file "
                                    "(onnx.save(onnx.load(PATH), 'one.onnx', save_as_external_data=False))")
        try:
            return numpy_helper.to_array(tensor)
        except (ValueError, TypeError, KeyError) as exc:
            raise MobiledeployError(f"{self.source} has a damaged tensor {tensor.name!r}: "
                                    f"{(str(exc).strip().splitlines() or [type(exc).__name__])[0]}") from None

    def const(self, name: str) -> np.ndarray | None:
        """The value of a tensor computed from constants only: an initializer, a Constant, through Identity,
        or a DequantizeLinear of constants (a QDQ file's weights); None for anything computed from the input."""
        if name in self.consts:
            return self.consts[name]
        node = self.producer.get(name)
        if node is None:
            return None
        if node.op_type == "Identity":
            return self.const(node.input[0])
        if node.op_type == "DequantizeLinear":
            parts = [self.const(n) if n else None for n in node.input]
            if parts[0] is None or parts[1] is None:
                return None
            x, scale = parts[0].astype(np.float64), parts[1].astype(np.float64)
            zero = parts[2].astype(np.float64) if len(parts) > 2 and parts[2] is not None else np.zeros_like(scale)
            if scale.ndim == 1 and scale.size > 1:  # per channel along `axis` (default 1)
                axis = next((a.i for a in node.attribute if a.name == "axis"), 1) % x.ndim
                shape = [1] * x.ndim
                shape[axis] = -1
                scale, zero = scale.reshape(shape), zero.reshape(shape)
            return ((x - zero) * scale).astype(np.float32)
        return None

    def attr(self, node, name: str, default):
        from onnx import helper

        for a in node.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default

    def sole_consumer(self, tensor: str):
        users = self.consumers.get(tensor, [])
        return users[0] if len(users) == 1 else None


def read_model(path: Path):
    """The parsed ONNX ModelProto (no external data); one clear error for a damaged or foreign file."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, OSError, RuntimeError, TypeError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MobiledeployError(f"cannot read {path} as an ONNX model: {detail}") from None
    if not model.graph.node:
        raise MobiledeployError(f"{path} is not an ONNX model: it holds no graph (a damaged or foreign file?)")
    return model


def _convs(graph: Graph) -> list[Conv]:
    out = []
    for node in graph.nodes:
        if node.op_type != "Conv":
            continue
        weight = graph.const(node.input[1]) if len(node.input) > 1 else None
        if weight is None or weight.ndim != 4:
            raise MobiledeployError(f"{graph.source}: Conv {node.name or node.output[0]!r} takes its weight from the "
                                    "graph's input, not from a constant: not an exported model")
        bias = graph.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        strides = list(graph.attr(node, "strides", [1, 1]))
        k = weight.shape[-1]
        auto_pad = graph.attr(node, "auto_pad", b"NOTSET")
        padded = (auto_pad in (b"NOTSET", "NOTSET", b"", "") and list(graph.attr(node, "pads", [0] * 4)) == [k // 2] * 4
                  and set(graph.attr(node, "dilations", [1, 1])) == {1} and weight.shape[-2] == k)
        conv = Conv(node, weight.astype(np.float32), None if bias is None else bias.astype(np.float32),
                    int(graph.attr(node, "group", 1)), int(strides[0]) if strides else 1, node.input[1], padded)
        bn = graph.sole_consumer(node.output[0])
        if bn is not None and bn.op_type == "BatchNormalization":
            parts = [graph.const(n) for n in bn.input[1:5]]
            if any(p is None for p in parts) or len(parts) != 4:
                raise MobiledeployError(f"{graph.source}: BatchNormalization {bn.name or bn.output[0]!r} has no "
                                        "constant statistics (a model exported for training?)")
            conv.bn = (*(p.astype(np.float64) for p in parts), float(graph.attr(bn, "epsilon", 1e-5)))
        out.append(conv)
    return out


def _classifier(graph: Graph) -> tuple[np.ndarray, np.ndarray] | None:
    """(weight (out, in), bias) of the last Gemm, or MatMul (+ Add), with a constant weight: torchvision's fc."""
    for node in reversed(graph.nodes):
        if node.op_type == "Gemm":
            b = graph.const(node.input[1])
            if b is None or b.ndim != 2:
                continue
            weight = b if graph.attr(node, "transB", 0) else b.T
            if graph.attr(node, "transA", 0):
                raise MobiledeployError(f"{graph.source}: its classifier Gemm transposes its input (transA=1): "
                                        "not torchvision's Linear layer")
            c = graph.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
            bias = np.zeros(weight.shape[0]) if c is None else np.broadcast_to(c, (weight.shape[0],))
            return (weight * graph.attr(node, "alpha", 1.0)).astype(np.float32), \
                (bias * graph.attr(node, "beta", 1.0)).astype(np.float32)
        if node.op_type == "MatMul":
            b = graph.const(node.input[1])
            if b is None or b.ndim != 2:
                continue
            add = graph.sole_consumer(node.output[0])
            bias = None
            if add is not None and add.op_type == "Add":
                other = [n for n in add.input if n != node.output[0]]
                bias = graph.const(other[0]) if other else None
            bias = np.zeros(b.shape[1]) if bias is None else np.broadcast_to(bias, (b.shape[1],))
            return b.T.astype(np.float32), np.asarray(bias, np.float32)
    return None


def _chains(graph: Graph, convs: list[Conv]) -> list[list[Conv]]:
    """Convolutions linked output to input (through batch norm, ReLU, Q/DQ), chains ordered as torchvision's
    forward pass computes them: by their first Conv in the graph, and of two chains reading one tensor (a
    stride-2 unit), the one starting with the depthwise convolution (branch1) first."""
    by_output = {c.node.output[0]: c for c in convs}
    following: dict[int, Conv] = {}
    heads = []
    for conv in convs:
        tensor = conv.node.input[0]
        previous = None
        for _ in range(8):
            if tensor in by_output:
                previous = by_output[tensor]
                break
            node = graph.producer.get(tensor)
            if node is None or node.op_type not in THROUGH or graph.sole_consumer(tensor) is None:
                break
            tensor = node.input[0]
        if previous is None or id(previous) in following:
            heads.append(conv)
        else:
            following[id(previous)] = conv
    chains = []
    for head in heads:
        chain = [head]
        while id(chain[-1]) in following:
            chain.append(following[id(chain[-1])])
        chains.append(chain)
    chains.sort(key=lambda chain: graph.position[id(chain[0].node)])
    i = 0
    while i < len(chains):  # chains reading the same tensor: depthwise-first (branch1) before the other
        j = i + 1
        while j < len(chains) and chains[j][0].node.input[0] == chains[i][0].node.input[0]:
            j += 1
        chains[i:j] = sorted(chains[i:j], key=lambda chain: not chain[0].depthwise)
        i = j
    return chains


def _not_shufflenet(source: str, graph: Graph, convs: list[Conv], expected: int) -> MobiledeployError:
    """What a file holds when its convolutions are not ShuffleNet V2's."""
    quantized = sorted({n.op_type for n in graph.nodes if n.op_type in QUANTIZED})
    if quantized:
        return MobiledeployError(f"{source} is a quantized ONNX model ({', '.join(quantized)}): import its float "
                                 "file (shufflenet-v2-10.onnx, or torch.onnx.export of the float model) and let "
                                 "mobiledeploy quantize it (--int8)")
    count = len(convs) + (1 if _classifier(graph) is not None else 0)
    other = families.of_convolutions(count)
    if other is not None and other is not families.shufflenet_v2_family:
        what = (f"as {other.title} has (mobiledeploy imports ONNX for ShuffleNet V2 only; {other.title} takes "
                f"{other.real_weights})")
    else:
        what = "as no network mobiledeploy knows has"
    return MobiledeployError(f"{source} is not a ShuffleNet V2 ONNX model: it has {count} convolutions and fully "
                             f"connected layers, {what}; torchvision's ShuffleNet V2 has {expected} ({expected - 1} "
                             "Conv and a Gemm)")


def _alpha(source: str, layout: list[tuple[str, str, str]], chains_convs: list[Conv]) -> float:
    """V2's width from the stage widths the file's convolutions have (stage 2's is twice its first unit's pw2)."""
    out_channels = {prefix: conv.weight.shape[0] for (_, prefix, _), conv in zip(layout, chains_convs)}
    stage2 = 2 * int(out_channels.get("stage2.0.branch2.5", 0))
    stage3 = 2 * int(out_channels.get("stage3.0.branch2.5", 0))
    for alpha, widths in shuffle.V2_WIDTHS.items():
        if widths[0] == stage2 and widths[1] == stage3:
            return alpha
    raise MobiledeployError(f"{source} has ShuffleNet V2's layers with stage widths {stage2}, {stage3}: no width "
                            f"of Table 5 (Ma et al.) has them ({', '.join(f'{a:g}x' for a in shuffle.V2_WIDTHS)})")


def read_onnx(path: Path) -> OnnxShuffleNet:
    """torchvision's ShuffleNet V2 in an ONNX file, as its state dict; MobiledeployError for anything else."""
    source = str(path)
    graph = Graph(read_model(path), source)
    convs = _convs(graph)
    # the layer names and kinds do not depend on the width: the 0.5x table gives the order to match
    layout = [p for p in pairs(0.5) if p[2] != "bn"]
    expected = len(layout) + 1
    classifier = _classifier(graph)
    if len(convs) != len(layout) or classifier is None:
        raise _not_shufflenet(source, graph, convs, expected)
    prefixes = [prefix for _, prefix, _ in layout]
    names = [c.weight_name.removesuffix(".weight") for c in convs]
    by_name = sorted(names) == sorted(prefixes) and all(c.weight_name.endswith(".weight") for c in convs)
    if by_name:
        index = {name: c for name, c in zip(names, convs)}
        ordered = [index[p] for p in prefixes]
    else:
        ordered = [c for chain in _chains(graph, convs) for c in chain]
    strides = {layer.name: layer.stride for layer in shuffle.layers(2, 0.5, MIN_RESOLUTION, None)}
    for (layer, prefix, kind), conv in zip(layout, ordered):
        stride = strides[layer]
        if (kind == "dw") != conv.depthwise or (kind == "conv" and conv.group != 1) or conv.stride != stride:
            got = "depthwise" if conv.depthwise else f"group {conv.group}"
            raise MobiledeployError(f"{source} is not torchvision's ShuffleNet V2: its convolution for {layer} "
                                    f"({prefix}) is {got}, stride {conv.stride}, weight {tuple(conv.weight.shape)}; "
                                    f"ShuffleNet V2's is {'depthwise' if kind == 'dw' else 'a plain convolution'}, "
                                    f"stride {stride}")
        if not conv.padded:
            raise MobiledeployError(f"{source}: its convolution for {layer} ({prefix}) is not padded as torchvision's "
                                    f"(pads {conv.weight.shape[-1] // 2} on every side, no dilation), so these weights "
                                    "would not compute what they computed there")
    alpha = _alpha(source, layout, ordered)
    state: dict[str, np.ndarray] = {}
    folded = False
    for (_, prefix, _), conv in zip(layout, ordered):
        bn_prefix = prefix[:-1] + str(int(prefix[-1]) + 1)  # conv1.0 -> conv1.1, branch2.5 -> branch2.6
        state[f"{prefix}.weight"] = conv.weight
        channels = conv.weight.shape[0]
        bias = np.zeros(channels) if conv.bias is None else conv.bias.astype(np.float64)
        if conv.bn is not None:
            scale, shift, mean, var, eps = conv.bn
            # BN(Wx + b) = scale (Wx + b - mean) / sqrt(var + eps) + shift: the Conv's bias moves into the mean,
            # and the file's epsilon into the variance, so our batch norm (epsilon 1e-5) computes the same
            mean, var = mean - bias, np.maximum(var + eps - BN_EPSILON, 0.0)
        else:  # folded: an identity batch norm carrying the bias, (x - 0) / sqrt(1 - eps + eps) * 1 + b
            folded = True
            scale, shift, mean, var = np.ones(channels), bias, np.zeros(channels), np.full(channels, 1 - BN_EPSILON)
        for key, value in zip(("weight", "bias", "running_mean", "running_var"), (scale, shift, mean, var)):
            state[f"{bn_prefix}.{key}"] = np.asarray(value, np.float32)
    state["fc.weight"], state["fc.bias"] = classifier
    return OnnxShuffleNet(alpha, int(classifier[0].shape[0]), state, folded, by_name)
