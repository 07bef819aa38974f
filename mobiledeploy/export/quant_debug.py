"""Per-layer error of int8 activations against float: tensor dumps of the TFLite and ONNX files.

The int8 file and the float file of the same format run on the same inputs; at every quantized layer the
int8 activation (dequantized) is compared with the float activation (accumulated error: what the int8
model really computes at that depth, not the error of one layer in isolation). TFLite tensors are read
with LiteRT's `experimental_preserve_all_tensors` and the builtin kernels (XNNPACK would hide the
intermediate tensors; its int8 rounding can differ by one step), ONNX tensors by exposing the QDQ
model's dequantized activations as graph outputs. The metrics are pure functions of arrays.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MobiledeployError

COMPUTE_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MEAN", "AVERAGE_POOL_2D", "SOFTMAX")
# Keras layer names in TFLite tensor names: v1 (conv1, conv_dw_3, conv_pw_3, conv_preds) and V2 (Conv1,
# expanded_conv_project, block_3_expand/depthwise/project/add, Conv_1); a fused activation or batch norm
# names the tensor after itself (block_3_expand_relu, bn_Conv1, out_relu: ALIASES); ShuffleNet's units
# (stage3_1_gconv2, stage2_0_proj_pw, stage4_0_concat, conv5)
LAYER = re.compile(r"(?:^|/)(conv1|conv_(?:dw|pw)_\d+|global_pool|conv_preds|Conv1|Conv_1|bn_Conv1|out_relu|"
                   r"expanded_conv_(?:depthwise|project)|block_\d+_(?:expand|depthwise|project|add)|"
                   r"stage\d+_\d+_(?:gconv[12]|proj_dw|proj_pw|pw[12]|dw|add|pool|concat)|conv5|maxpool)"
                   r"(?:_relu|_BN|_bn)?(?:_\d+)?(?:/|;|$)")
ALIASES = {"bn_Conv1": "Conv1", "out_relu": "Conv_1"}
#: V2's Dense classifier shares the Keras name "predictions" with v1's softmax: its rows say predictions_fc
DENSE = "predictions_fc"
ONNX_LAYER = {"pooled": "global_pool", "logits4d": "conv_preds", "logits_fc": DENSE, "predictions": "predictions"}


@dataclass
class Activation:
    """One layer's output over all inputs (N x ...), float values, and the int8 scale when quantized."""

    layer: str
    op: str
    values: np.ndarray
    scale: float | None


def errors(reference: np.ndarray, values: np.ndarray, scale: float | None) -> dict:
    """RMSE in quantization steps, SQNR in dB and cosine of `values` against `reference` (same shape)."""
    ref = np.asarray(reference, np.float64).reshape(len(reference), -1)
    val = np.asarray(values, np.float64).reshape(len(values), -1)
    diff = val - ref
    noise = float((diff ** 2).sum())
    signal = float((ref ** 2).sum())
    rmse = float(np.sqrt((diff ** 2).mean()))
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(val, axis=1)
    cosine = np.where(norms > 0, (ref * val).sum(1) / np.where(norms > 0, norms, 1), 1.0)
    if noise == 0:
        sqnr = float("inf")
    elif signal == 0:
        sqnr = float("-inf")
    else:
        sqnr = 10 * np.log10(signal / noise)
    return {"rmse": rmse, "rmse_scale": rmse / scale if scale else None, "sqnr_db": float(sqnr),
            "cosine": float(cosine.mean())}


def layer_name(tensor_name: str, op: str) -> str:
    """The Keras layer a TFLite tensor belongs to (conv_dw_3, conv_preds, ...), else the op in lower case."""
    if op == "SOFTMAX":
        return "predictions"
    if op == "FULLY_CONNECTED":
        return DENSE
    match = LAYER.search(tensor_name)
    return ALIASES.get(match.group(1), match.group(1)) if match else op.lower()


def tflite_activations(path: Path, inputs: np.ndarray) -> list[Activation]:
    """Every compute op's output of a TFLite file, in execution order, dequantized to float."""
    from ..quiet import native_output_captured
    from ..litert import interpreter_module
    from ..runtime.preprocess import quantize

    mod, _, _ = interpreter_module()
    kwargs = {"model_path": str(path), "experimental_preserve_all_tensors": True}
    if hasattr(mod, "OpResolverType"):
        kwargs["experimental_op_resolver_type"] = mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        with native_output_captured():
            it = mod.Interpreter(**kwargs)
            it.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise MobiledeployError(f"cannot load TFLite model {path}: {(str(exc).splitlines() or ['?'])[0]}") from None
    details = {t["index"]: t for t in it.get_tensor_details()}
    ops = [op for op in it._get_ops_details() if op["op_name"] in COMPUTE_OPS]
    inp = it.get_input_details()[0]
    dumps: list[list[np.ndarray]] = [[] for _ in ops]
    for x in inputs:
        if np.dtype(inp["dtype"]).kind in "iu":
            scale, zero = inp["quantization"]
            tensor = quantize(x[None].astype(np.float64), scale, int(zero), np.dtype(inp["dtype"]))
        else:
            tensor = x[None].astype(np.float32)
        it.set_tensor(inp["index"], tensor)
        it.invoke()
        for k, op in enumerate(ops):
            dumps[k].append(it.get_tensor(op["outputs"][0]).copy())
    out = []
    for op, values in zip(ops, dumps):
        t = details[op["outputs"][0]]
        arr = np.concatenate(values)
        scale, zero = t["quantization"]
        quantized = np.dtype(t["dtype"]).kind in "iu" and scale
        if quantized:
            arr = (arr.astype(np.float64) - zero) * scale
        out.append(Activation(layer_name(t["name"], op["op_name"]), op["op_name"], arr.astype(np.float64),
                              float(scale) if quantized else None))
    return out


def onnx_activations(fp32_path: Path, int8_path: Path, inputs: np.ndarray) -> tuple[list[Activation], list[Activation]]:
    """(float, int8) activations at every tensor the QDQ file quantizes, in graph order."""
    import onnx
    from onnx import numpy_helper

    qmodel = onnx.load(str(int8_path))
    inits = {i.name: i for i in qmodel.graph.initializer}
    picked = []  # (float tensor name, dequantized tensor name in the int8 file, scale)
    dq_of = {n.input[0]: n.output[0] for n in qmodel.graph.node if n.op_type == "DequantizeLinear"}
    for node in qmodel.graph.node:
        if node.op_type != "QuantizeLinear" or node.input[0] in inits or node.input[0] == "input":
            continue
        name = node.input[0].removesuffix("_QuantizeLinear_Input")
        layer = ONNX_LAYER.get(name, name.removesuffix("_relu").removesuffix("_out"))
        if name == "logits" or not (layer in ONNX_LAYER.values() or LAYER.search(layer)):
            continue  # the reshape shares the logits' scale; nothing new to see there
        scale = float(numpy_helper.to_array(inits[node.input[1]]).reshape(-1)[0])
        picked.append((name, layer, dq_of[node.output[0]], scale))
    if not picked:
        raise MobiledeployError(f"{int8_path} has no quantized activations (not a QDQ int8 file)")
    fvals = _run_onnx(onnx.load(str(fp32_path)), [p[0] for p in picked], inputs)
    qvals = _run_onnx(qmodel, [p[2] for p in picked], inputs)
    floats = [Activation(layer, "", fvals[name], None) for name, layer, _, _ in picked]
    quants = [Activation(layer, "", qvals[dq], scale) for _, layer, dq, scale in picked]
    return floats, quants


def _run_onnx(model, names: list[str], inputs: np.ndarray) -> dict:
    """Values of the named tensors (made graph outputs) for each input, concatenated."""
    import onnx
    import onnxruntime as ort

    existing = {o.name for o in model.graph.output}
    for name in names:
        if name not in existing:
            model.graph.output.append(onnx.ValueInfoProto(name=name))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # graph optimizations would fuse the QDQ pairs away and with them the tensors we want to read
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0].name
    runs = [session.run(names, {feed: x[None].astype(np.float32)}) for x in inputs]
    return {name: np.concatenate([r[k] for r in runs]).astype(np.float64) for k, name in enumerate(names)}


def compare(floats: list[Activation], quants: list[Activation]) -> dict[str, dict]:
    """Errors per layer name, matching float and int8 activations by layer (first occurrence wins)."""
    by_layer = {}
    for a in floats:
        by_layer.setdefault(a.layer, a)
    out = {}
    for q in quants:
        f = by_layer.get(q.layer)
        if f is None or q.layer in out or f.values.size != q.values.size:
            continue
        out[q.layer] = {"op": q.op or f.op, "scale": q.scale, "quantized": q.scale is not None,
                        **errors(f.values.reshape(q.values.shape), q.values, q.scale)}
    return out


def added_noise(rows: list[dict], key: str = "tflite") -> list[float | None]:
    """Noise-to-signal ratio each layer adds on top of the previous one (the report's sensitivity).

    Accumulated SQNR falls with depth; the drop at a layer is what quantizing that layer (its weights and
    its output) added. Pure: works on the report's rows, in depth order.
    """
    out, previous = [], 0.0
    for row in rows:
        m = row.get(key)
        if not m or not np.isfinite(m["sqnr_db"]):
            out.append(None)
            continue
        nsr = 10 ** (-m["sqnr_db"] / 10)
        out.append(max(0.0, nsr - previous))
        previous = nsr
    return out


def report(tflite: tuple[Path, Path] | None, onnx_files: tuple[Path, Path] | None, inputs: np.ndarray) -> dict:
    """The per-layer table: {"layers": [{"layer", "depth", "tflite": {...}, "onnx": {...}}], ...}.

    `tflite` and `onnx_files` are (fp32 path, int8 path) pairs, either may be None.
    """
    columns: dict[str, dict[str, dict]] = {}
    order: list[str] = []
    if tflite:
        floats = tflite_activations(tflite[0], inputs)
        quants = tflite_activations(tflite[1], inputs)
        columns["tflite"] = compare(floats, quants)
        order += [a.layer for a in quants]
    if onnx_files:
        floats, quants = onnx_activations(onnx_files[0], onnx_files[1], inputs)
        columns["onnx"] = compare(floats, quants)
        order += [a.layer for a in quants]
    layers = list(dict.fromkeys(name for name in order if any(name in c for c in columns.values())))
    rows = [{"layer": name, "depth": depth, **{k: c.get(name) for k, c in columns.items()}}
            for depth, name in enumerate(layers)]
    for key in columns:
        for row, noise in zip(rows, added_noise(rows, key)):
            if row.get(key):
                row[key]["added_nsr"] = noise
    return {"n": int(len(inputs)), "formats": list(columns), "layers": rows}


def plot(result: dict, path: Path, title: str) -> Path:
    """PNG of SQNR (dB) and RMSE (in quantization steps) by layer depth, one line per format; atomic write."""
    from ..plotting import pyplot, save

    plt = pyplot()

    rows = result["layers"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), dpi=110, sharex=True)
    for key, style in (("tflite", "o-"), ("onnx", "s--")):
        pts = [(r["depth"], r[key]) for r in rows if r.get(key)]
        if not pts:
            continue
        xs = [d for d, _ in pts]
        top.plot(xs, [m["sqnr_db"] for _, m in pts], style, label=f"{key} int8", markersize=4)
        bottom.plot(xs, [m["rmse_scale"] if m["rmse_scale"] is not None else np.nan for _, m in pts], style,
                    label=f"{key} int8", markersize=4)
    top.set_ylabel("SQNR vs float (dB)\nhigher is better")
    bottom.set_ylabel("RMSE / int8 scale\n(quantization steps)")
    bottom.axhline(1 / np.sqrt(12), color="grey", lw=0.8, ls=":")
    bottom.annotate("rounding alone (0.29)", (0, 1 / np.sqrt(12)), fontsize=7, color="grey",
                    textcoords="offset points", xytext=(2, 3))
    bottom.set_xticks(range(len(rows)))
    bottom.set_xticklabels([r["layer"] for r in rows], rotation=70, fontsize=7)
    bottom.set_xlabel("layer (depth order)")
    top.set_title(title, fontsize=10)
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)
