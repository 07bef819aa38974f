"""Which layers `--fallback-float N` keeps in float: the N whose float run removes the most output noise.

A float layer between two int8 layers gains almost nothing: its output is rounded to int8 again where the
next layer reads it, and that rounding (not the layer's exact-integer arithmetic) is where int8 loses.
Noise goes away only where a tensor is never rounded, i.e. where its producer and its consumer are both
float (and, for the input and output tensors, where the file's input/output is float). So the choice is
made on tensors, by measurement:

1. the converted int8 model runs on the sensitivity inputs; its output noise is the mean squared
   difference of its log-probabilities from the float model's, on the float model's top 5 classes;
2. for each tensor between two layers, the model is converted again with that pair in float, and the
   noise that disappears is the tensor's share (plus the input tensor with the first layer float and
   the output tensor with the last one, when the file's input/output is float);
3. a dynamic programme picks exactly N layers maximising the shares of the tensors they enclose.

Shares measured one at a time are treated as additive; the export's verification then measures the
chosen file as a whole.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

INPUT, OUTPUT = "<input>", "<output>"
TOP = 5                 # classes per input whose scores the noise measure compares
FLOOR = 0.5 / 256       # half an int8 softmax step: the smallest probability an int8 output can tell from 0


def output_noise(probabilities: np.ndarray, reference: np.ndarray, top: int = TOP) -> float:
    """How far a file's decision scores are from the float model's. Pure.

    Per input, the log-probabilities of the float model's `top` classes, each centred on its own mean
    (so a constant shift, which a softmax removes, costs nothing), are compared; the result is the mean
    squared difference. Logit-like, so it weighs a near-tie at the top as the top-1 decision does, and
    defined for int8 outputs too (a probability below half an int8 step counts as half a step).
    """
    p = np.asarray(probabilities, np.float64)
    r = np.asarray(reference, np.float64)
    classes = np.argsort(-r, axis=1, kind="stable")[:, :top]
    q = np.log(np.maximum(np.take_along_axis(p, classes, 1), FLOOR))
    f = np.log(np.maximum(np.take_along_axis(r, classes, 1), FLOOR))
    q -= q.mean(1, keepdims=True)
    f -= f.mean(1, keepdims=True)
    return float(((q - f) ** 2).mean())


def plan(layers: list[str], shares: dict[str, float], count: int) -> list[str]:
    """Exactly `count` of `layers` (a chain, execution order) maximising the enclosed tensors' shares. Pure.

    `shares[layer]` is the noise removed when the tensor from `layer` to the next layer is not rounded;
    `shares[INPUT]` counts when the first layer is float, `shares[OUTPUT]` when the last one is. Negative
    shares (measurement noise) count as zero. Ties keep the earliest layers.
    """
    n = len(layers)
    if not 0 <= count <= n:
        raise ValueError(f"cannot choose {count} of {n} layers")
    gain = [max(0.0, float(shares.get(layer, 0.0))) for layer in layers]
    first, last = max(0.0, shares.get(INPUT, 0.0)), max(0.0, shares.get(OUTPUT, 0.0))
    neg = float("-inf")
    # best[k][f]: best total over layers[:i+1] using k float layers, layer i float (f=1) or not (f=0)
    best = [[neg, neg] for _ in range(count + 1)]
    best[0][0] = 0.0
    if count:
        best[1][1] = first
    choice = [[[None, None] for _ in range(count + 1)]]
    for i in range(1, n):
        new = [[neg, neg] for _ in range(count + 1)]
        back = [[None, None] for _ in range(count + 1)]
        for k in range(count + 1):
            for prev in (0, 1):  # layer i int8
                if best[k][prev] > new[k][0]:
                    new[k][0], back[k][0] = best[k][prev], prev
            if k:
                for prev in (0, 1):  # layer i float: encloses the tensor from i-1 when i-1 is float too
                    value = best[k - 1][prev] + (gain[i - 1] if prev else 0.0)
                    if value > new[k][1]:
                        new[k][1], back[k][1] = value, prev
        best = new
        choice.append(back)
    totals = [best[count][0], best[count][1] + last]
    state = 0 if totals[0] >= totals[1] else 1
    picked, k = [], count
    for i in range(n - 1, -1, -1):
        if state:
            picked.append(layers[i])
        prev = choice[i][k][state] if i else None
        k -= state
        state = prev if prev is not None else 0
    return sorted(picked, key=layers.index)


def tensor_shares(calibrated: bytes, convert, inputs: np.ndarray, float_io: bool) -> tuple[list[str], dict]:
    """(layer chain, {layer or INPUT/OUTPUT: noise removed}) measured on `inputs`.

    `convert(float_layers)` returns the int8 flatbuffer with those layers in float, exactly as the
    export will build it (same ranges, same weight grid).
    """
    from ..runtime.session import Session
    from .tflite_graph import compute_ops, flatbuffer_module

    model = flatbuffer_module().convert_bytearray_to_object(calibrated)
    chain = list(dict.fromkeys(layer for layer, _, _, _ in compute_ops(model)))
    with tempfile.TemporaryDirectory(prefix="mobiledeploy-fallback-") as tmp:
        def run(data: bytes) -> np.ndarray:
            path = Path(tmp) / "model.tflite"
            path.write_bytes(data)
            session = Session(path)
            return np.concatenate([session.run(x[None]) for x in inputs])

        reference = run(calibrated)
        base = output_noise(run(convert([])), reference)
        shares = {}
        for a, b in zip(chain, chain[1:]):
            shares[a] = base - output_noise(run(convert([a, b])), reference)
        if float_io:
            shares[INPUT] = base - output_noise(run(convert(chain[:1])), reference)
            shares[OUTPUT] = base - output_noise(run(convert(chain[-1:])), reference)
    return chain, {k: v / base if base > 0 else 0.0 for k, v in shares.items()}
