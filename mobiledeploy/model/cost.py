"""Analytic cost model: multiply-adds and parameters per layer, computed from the architecture table.

Counted the paper's way: convolution, depthwise and classifier weights plus the classifier bias;
batch-norm parameters and statistics are not counted (they fold into the convolutions).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from . import architecture as arch


@dataclass(frozen=True)
class LayerCost:
    """Cost of one weighted layer."""

    name: str
    kind: str
    input: str
    output: str
    macs: int
    params: int


def layer_costs(alpha: float, resolution: int, outputs: int = arch.IMAGENET_CLASSES) -> list[LayerCost]:
    """Multiply-adds and parameters of every weighted layer."""
    rows = []
    for spec in arch.layers(alpha, resolution, outputs):
        if spec.kind == "dw":
            weights = spec.kernel * spec.kernel * spec.cin
        else:
            weights = spec.kernel * spec.kernel * spec.cin * spec.cout
        bias = spec.cout if spec.kind == "fc" else 0
        macs = weights * spec.out_size * spec.out_size
        rows.append(LayerCost(
            spec.name, spec.kind,
            f"{spec.in_size}x{spec.in_size}x{spec.cin}", f"{spec.out_size}x{spec.out_size}x{spec.cout}",
            macs, weights + bias))
    return rows


def summary(alpha: float, resolution: int, outputs: int = arch.IMAGENET_CLASSES) -> dict:
    """Totals and the share of 1x1 convolutions, plus the per-layer rows, as plain data."""
    rows = layer_costs(alpha, resolution, outputs)
    macs = sum(r.macs for r in rows)
    params = sum(r.params for r in rows)
    # the paper's Table 2 lists the classifier ("Fully Connected") apart from "Conv 1x1"
    pointwise = [r for r in rows if r.kind == "pw"]
    return {
        "alpha": alpha,
        "resolution": resolution,
        "outputs": outputs,
        "macs": macs,
        "params": params,
        "pointwise_macs_share": sum(r.macs for r in pointwise) / macs,
        "pointwise_params_share": sum(r.params for r in pointwise) / params,
        "layers": [asdict(r) for r in rows],
    }
