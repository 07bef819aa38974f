"""TFLite int8 with chosen activation ranges and float fallback layers.

One mechanism for every range choice: the converter calibrates (a float model holding each tensor's
min/max), the min/max of chosen tensors are replaced (percentile or entropy ranges computed from the
float activations of the calibration inputs, or ranges imported from a quantization-aware trained
TFLite file), and the converter's own quantizer runs on the edited statistics, so weights stay
per-channel int8 and biases are recomputed by the converter. Float fallback uses the same quantizer's
node denylist; fused tensor names ("a;b;c") become one name first, because the quantizer only matches
single-name locations. Which layers fall back is chosen in tflite_fallback.py; bias correction is in
bias_correction.py.

Imported QAT files also carry a weight grid (per-tensor uint8 scale): re-rounding those weights onto
the converter's per-channel scales (max|w|/127) adds noise on top of the trained grid, which cost more
agreement than activation rounding on the 0.25-128 reference. `snap_weights` sets each channel's
scale to a multiple of the trained step so the imported weights stay exact (see README).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import MobiledeployError
from .tflite_graph import compute_ops, flatbuffer_module, op_name

METHODS = ("minmax", "percentile", "entropy", "imported")
PERCENTILE = 99.999          # onnxruntime's default, so both formats clip alike
# onnxruntime's entropy default (128 bins into 128) can only choose the full range; TensorRT's 2048 into 128
# lets the KL search clip
HISTOGRAM_BINS = {"percentile": 2048, "entropy": 2048}
ENTROPY_QUANTIZED_BINS = 128


@dataclass
class Int8Options:
    """How the TFLite int8 file is quantized beyond the converter's defaults."""

    method: str = "minmax"
    qat_file: str | None = None        # the quantized TFLite whose ranges `imported` carries over
    fallback_float: int = 0
    bias_correction: bool = False
    sensitivity_inputs: int = 50       # inputs the fallback choice and the bias correction measure on

    @property
    def default(self) -> bool:
        return self.method == "minmax" and not self.fallback_float and not self.bias_correction


@dataclass
class WeightGrid:
    """A trained layer's weights as integers in TFLite layout and the per-tensor step they sit on."""

    integers: np.ndarray
    step: float


@dataclass
class Record:
    """What was done, for the manifest's calibration block."""

    method: str
    ranges_changed: dict = field(default_factory=dict)
    float_layers: list = field(default_factory=list)
    weights: str = "per-channel int8, scale max|w|/127 (converter)"
    noise_shares: dict = field(default_factory=dict)   # fallback: output noise each tensor's rounding adds
    bias_corrected: list = field(default_factory=list)

    def as_dict(self) -> dict:
        out = {"method": self.method, "ranges_changed": self.ranges_changed, "float_layers": self.float_layers,
               "weights": self.weights, "bias_corrected": self.bias_corrected}
        if self.noise_shares:
            out["noise_shares"] = self.noise_shares
        return out


def quantizable_layers(family=None) -> int:
    """How many layers an int8 MobileNet quantizes: every convolution (the classifier's too), every residual
    addition, the pool and the softmax."""
    from ..model.families import DEFAULT, FAMILIES

    family = family or FAMILIES[DEFAULT]
    return family.convolutions() + family.adds() + 1 + 1


def check(options: Int8Options, weights: str, layers: int) -> None:
    """User errors up front, before anything is built."""
    if options.method not in METHODS:
        raise MobiledeployError(f"unknown calibration method {options.method!r}: choose from {', '.join(METHODS)}")
    if options.fallback_float < 0:
        raise MobiledeployError(f"--fallback-float must be 0 or more, got {options.fallback_float}")
    if options.fallback_float >= layers:
        raise MobiledeployError(f"--fallback-float {options.fallback_float} would keep every one of the {layers} "
                                f"quantized layers in float: use at most {layers - 1} (or export fp32)")
    if options.method == "imported":
        path = Path(str(weights))
        if path.suffix != ".tflite" or not path.is_file():
            raise MobiledeployError("--calib-method imported carries ranges from a quantized TFLite model: pass it "
                                    f"as --weights FILE.tflite (got --weights {weights})")


def calibrate(converter) -> bytes:
    """The float model with the converter's calibration statistics (min/max per tensor)."""
    converter._experimental_calibrate_only = True  # the documented path of tf.lite.experimental.QuantizationDebugger
    return converter.convert()


def recorded_ranges(calibrated: bytes) -> dict[str, tuple[float, float]]:
    """The converter's min/max per layer output."""
    model = flatbuffer_module().convert_bytearray_to_object(calibrated)
    out = {}
    for layer, _, tensor, _ in compute_ops(model):
        q = tensor.quantization
        if q is not None and q.min is not None and len(q.min):
            out.setdefault(layer, (float(q.min[0]), float(q.max[0])))
    return out


def histogram_ranges(calibrated: bytes, inputs: np.ndarray, method: str) -> dict[str, tuple[float, float]]:
    """Percentile or entropy ranges per layer, from the float activations of `inputs` (onnxruntime's histograms)."""
    from onnxruntime.quantization.calibrate import HistogramCollector

    from ..quiet import native_output_captured
    from .quant_debug import tflite_activations

    with tempfile.TemporaryDirectory(prefix="mobiledeploy-ranges-") as tmp:
        path = Path(tmp) / "calibrated.tflite"
        path.write_bytes(calibrated)
        activations = tflite_activations(path, inputs)
    collector = HistogramCollector(method=method, symmetric=False, num_bins=HISTOGRAM_BINS[method],
                                   num_quantized_bins=ENTROPY_QUANTIZED_BINS, percentile=PERCENTILE, scenario="same")
    seen = {}
    for a in activations:
        if a.layer not in seen and a.op != "SOFTMAX":  # softmax output range is fixed (1/256 steps)
            seen[a.layer] = a.values.astype(np.float32)
    with native_output_captured():  # the collector prints progress lines
        collector.collect(seen)
        found = collector.compute_collection_result()
    out = {}
    for layer, values in seen.items():
        lo, hi = float(found[layer][0]), float(found[layer][1])
        # never wider than what was seen, and zero stays representable (int8 zero points need it)
        lo = min(max(lo, float(values.min())), 0.0)
        hi = max(min(hi, float(values.max())), 0.0)
        out[layer] = (lo, hi)
    return out


def imported_ranges(path: Path) -> tuple[dict[str, tuple[float, float]], dict[str, WeightGrid]]:
    """Activation ranges and weight grids of a quantized MobileNet v1 TFLite file, by our layer names."""
    from ..model.tflite_import import layer_ops
    from ..litert import open_interpreter

    it = open_interpreter(path, delegates=False)
    details = {t["index"]: t for t in it.get_tensor_details()}
    ranges, grids = {}, {}

    def rng(index):
        t = details[index]
        scale, zero = t["quantization"]
        if not scale:
            return None
        info = np.iinfo(t["dtype"])
        return ((info.min - zero) * scale, (info.max - zero) * scale)

    _, ops = layer_ops(it, path)
    for name, op in ops:
        r = rng(op["outputs"][0])
        if r is None:
            raise MobiledeployError(f"{path} is not a quantized model (layer {name} is float): "
                                    "--calib-method imported needs a quantized .tflite")
        ranges[name] = r
        w = details[op["inputs"][1]]
        qp = w["quantization_parameters"]
        if len(qp["scales"]) == 1:  # per-tensor (TF1 QAT); per-channel files already fit our grid
            grids[name] = WeightGrid(it.get_tensor(w["index"]).astype(np.int64) - int(qp["zero_points"][0]),
                                     float(qp["scales"][0]))
    for op in it._get_ops_details():
        if op["op_name"] in ("AVERAGE_POOL_2D", "MEAN"):
            r = rng(op["outputs"][0])
            if r is not None:
                ranges["global_pool"] = r
    return ranges, grids


def with_ranges(calibrated: bytes, ranges: dict[str, tuple[float, float]]) -> bytes:
    """The calibrated model with the min/max of the named layers' outputs replaced."""
    fb = flatbuffer_module()
    model = fb.convert_bytearray_to_object(calibrated)
    g = model.subgraphs[0]
    touched = set()
    for layer, op, tensor, _ in compute_ops(model):
        if layer in ranges and tensor.quantization is not None and tensor.quantization.min is not None:
            lo, hi = ranges[layer]
            tensor.quantization.min, tensor.quantization.max = [float(lo)], [float(hi)]
            touched.add(op.outputs[0])
    # ops that must keep their input's scale (RESHAPE after the classifier) follow the edited tensor
    for op in g.operators:
        if op.inputs is not None and len(op.inputs) and op.inputs[0] in touched and op.outputs[0] not in touched:
            if op_name(model, op) == "RESHAPE":
                src, dst = g.tensors[op.inputs[0]].quantization, g.tensors[op.outputs[0]].quantization
                if dst is not None and dst.min is not None:
                    dst.min, dst.max = list(src.min), list(src.max)
    return bytes(fb.convert_object_to_bytearray(model))


def with_single_names(calibrated: bytes, layers: list[str]) -> tuple[bytes, set[str]]:
    """Rename the chosen layers' fused output tensors ("a;b;c") to one name each, for the node denylist."""
    fb = flatbuffer_module()
    model = fb.convert_bytearray_to_object(calibrated)
    g = model.subgraphs[0]
    names, float_outputs, float_inputs = set(), set(), set()
    for layer, op, tensor, _ in compute_ops(model):
        if layer in layers:
            tensor.name = f"mobiledeploy_float/{layer}".encode()
            names.add(tensor.name.decode())
            float_outputs.add(op.outputs[0])
            float_inputs.add(op.inputs[0])
    missing = set(layers) - {n.split("/", 1)[1] for n in names}
    if missing:
        raise MobiledeployError(f"unexpected: no layer {sorted(missing)} in the converted model (report it)")
    # a RESHAPE between two float layers (classifier -> softmax) stays float too, or the quantizer rounds
    # the logits to int8 between them and the float head gains nothing
    for k, op in enumerate(g.operators):
        if op_name(model, op) == "RESHAPE" and op.inputs[0] in float_outputs and op.outputs[0] in float_inputs:
            tensor = g.tensors[op.outputs[0]]
            tensor.name = f"mobiledeploy_float/reshape_{k}".encode()
            names.add(tensor.name.decode())
    return bytes(fb.convert_object_to_bytearray(model)), names


def quantize(calibrated: bytes, io_dtype, float_layers: list[str]) -> bytes:
    """Run the converter's quantizer on (edited) statistics; the named layers stay float."""
    from tensorflow.lite.python import convert

    nodes: set[str] = set()
    if float_layers:
        calibrated, nodes = with_single_names(calibrated, float_layers)
    return convert.mlir_quantize(calibrated, input_data_type=io_dtype, output_data_type=io_dtype,
                                 denylisted_nodes=nodes or None)


def channel_factors(integers: np.ndarray) -> np.ndarray:
    """Per row (channel) of trained integers, the step multiple f whose int8 grid loses the least.

    Candidates: 1 (every weight exact, the few beyond +-127 clipped), each whole multiple up to the smallest
    that fits every weight (multiples of f stay exact, the rest are re-rounded), and max|k|/127 (the
    converter's own scale: everything re-rounded, nothing clipped). Google's files have one to four outliers
    (up to 203 steps) in about one channel per layer; which choice loses least depends on the channel.
    Pure; the loss is the sum of squared differences in trained steps.
    """
    rows = np.asarray(integers, np.int64)
    peak = np.abs(rows).max(1)
    best = np.ones(len(rows), np.float64)
    for r, row in enumerate(rows):
        # a channel of zeros (Google's MobileNetV2 QAT file has some) keeps the trained step itself: factor 1
        candidates = [float(f) for f in range(1, max(1, int(np.ceil(peak[r] / 127))) + 1)]
        if peak[r] > 127:
            candidates.append(peak[r] / 127)
        losses = [float(((row - f * np.clip(np.round(row / f), -127, 127)) ** 2).sum()) for f in candidates]
        best[r] = candidates[int(np.argmin(losses))]
    return best


def snap_weights(quantized: bytes, grids: dict[str, WeightGrid]) -> tuple[bytes, int]:
    """Put each int8 convolution's per-channel scale on a multiple of its trained step; (model, layers snapped).

    A channel whose trained integers fit in [-127, 127] keeps them exactly (scale = step); a wider one takes
    the multiple of the step that loses least (`channel_factors`). The int32 bias is re-expressed on the
    new scale.
    """
    fb = flatbuffer_module()
    model = fb.convert_bytearray_to_object(quantized)
    g = model.subgraphs[0]
    done = 0
    for layer, op, _, kind in compute_ops(model):
        grid = grids.get(layer)
        if grid is None or kind not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        w = g.tensors[op.inputs[1]]
        if w.type != 9 or w.quantization is None or w.quantization.scale is None:  # 9: INT8; a float layer
            continue
        axis = w.quantization.quantizedDimension
        k = grid.integers
        if k.shape != tuple(w.shape) and k.shape[0] == w.shape[0] + 1:
            k = k[1:]  # the trained classifier has a background output at index 0; ours dropped it
        if k.shape != tuple(w.shape):
            continue
        moved = np.moveaxis(k, axis, 0).reshape(k.shape[axis], -1)
        factor = channel_factors(moved)
        shape = [1] * k.ndim
        shape[axis] = -1
        q = np.clip(np.round(k / factor.reshape(shape)), -127, 127).astype(np.int8)
        new_scales = (grid.step * factor).astype(np.float64)
        old_scales = np.asarray(w.quantization.scale, np.float64)
        model.buffers[w.buffer].data = np.frombuffer(q.tobytes(), np.uint8)
        w.quantization.scale = [float(s) for s in new_scales]
        w.quantization.zeroPoint = [0] * len(new_scales)
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            b = g.tensors[op.inputs[2]]
            old = np.frombuffer(bytes(model.buffers[b.buffer].data), np.int32).astype(np.float64)
            bias_scale_old = np.asarray(b.quantization.scale, np.float64)
            bias_scale_new = bias_scale_old / old_scales * new_scales  # input scale x weight scale
            new = np.round(old * bias_scale_old / bias_scale_new)
            model.buffers[b.buffer].data = np.frombuffer(new.astype(np.int32).tobytes(), np.uint8)
            b.quantization.scale = [float(s) for s in bias_scale_new]
        done += 1
    return bytes(fb.convert_object_to_bytearray(model)), done


def convert_int8(converter, io_dtype, options: Int8Options, inputs: np.ndarray) -> tuple[bytes, Record]:
    """Int8 flatbuffer with the chosen ranges, fallback layers and bias correction, and what was done."""
    calibrated = calibrate(converter)
    record = Record(options.method)
    grids: dict[str, WeightGrid] = {}
    ranges: dict[str, tuple[float, float]] = {}
    if options.method in ("percentile", "entropy"):
        ranges = histogram_ranges(calibrated, inputs, options.method)
    elif options.method == "imported":
        ranges, grids = imported_ranges(Path(options.qat_file))
        record.weights = ("per-channel int8 on the imported file's trained grid (scale = the step, or the "
                          "multiple of it that loses least for channels wider than +-127)")
    if ranges:
        before = recorded_ranges(calibrated)
        record.ranges_changed = {k: [round(v[0], 5), round(v[1], 5)] for k, v in ranges.items()
                                 if k in before and not np.allclose(before[k], v, rtol=1e-4, atol=1e-6)}
        calibrated = with_ranges(calibrated, ranges)

    def build(float_layers: list[str]) -> bytes:
        data = quantize(calibrated, io_dtype, float_layers)
        return snap_weights(data, grids)[0] if grids else data

    if options.fallback_float:
        from .tflite_fallback import plan, tensor_shares

        chain, shares = tensor_shares(calibrated, build, inputs[:options.sensitivity_inputs],
                                      float_io=io_dtype.name == "float32")
        record.float_layers = plan(chain, shares, options.fallback_float)
        record.noise_shares = {k: round(v, 4) for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}
    data = build(record.float_layers)
    if options.bias_correction:
        from .bias_correction import correct_biases

        data, record.bias_corrected = correct_biases(data, calibrated, inputs[:options.sensitivity_inputs])
    return data, record
