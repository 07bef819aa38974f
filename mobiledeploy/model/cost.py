"""Analytic cost model: multiply-adds, parameters and activation memory per layer, from a family's layer table.

Counted the papers' way: convolution, depthwise and classifier weights plus the classifier bias;
batch-norm parameters and statistics are not counted (they fold into the convolutions). Residual
additions cost no multiply-adds.

Activation memory follows Table 3 of Sandler et al. (2018): 16-bit values, and only the tensors an
engine must materialise count. In MobileNet v1 that is every layer's output; in MobileNetV2 the
expansion and depthwise outputs of a block can be streamed in slices (Section 5), so only the
bottleneck outputs are materialised. The paper's figure is the largest materialised tensor: 1600K
for v1 1.0-224, 400K for v2 1.0-224.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from . import architecture as arch
from . import families

#: Table 3's element size: 16-bit floats.
ACTIVATION_BYTES = 2


@dataclass(frozen=True)
class LayerCost:
    """Cost of one weighted layer."""

    name: str
    kind: str
    input: str
    output: str
    macs: int
    params: int
    materialised: int   # bytes of its output an engine must hold (0 when it streams), 16-bit values
    live: int           # bytes materialised while it runs: its output plus a residual input kept for an Add


def layer_costs(alpha: float, resolution: int, outputs: int = arch.IMAGENET_CLASSES,
                family: families.Family = families.v1_family) -> list[LayerCost]:
    """Multiply-adds, parameters and activation memory of every weighted layer."""
    rows = []
    kept = 0  # the block input a residual Add still needs
    specs = family.layers(alpha, resolution, outputs)
    for i, spec in enumerate(specs):
        if spec.kind == "dw":
            weights = spec.kernel * spec.kernel * spec.cin
        else:
            weights = spec.kernel * spec.kernel * spec.cin * spec.cout
        bias = spec.cout if spec.kind == "fc" else 0
        macs = weights * spec.out_size * spec.out_size
        if spec.block_start:
            block_adds = any(s.add for s in specs[i:_block_end(specs, i)])
            kept = spec.in_size * spec.in_size * spec.cin * ACTIVATION_BYTES if block_adds else 0
        size = 0 if spec.streamed else spec.out_size * spec.out_size * spec.cout * ACTIVATION_BYTES
        rows.append(LayerCost(
            spec.name, spec.kind,
            f"{spec.in_size}x{spec.in_size}x{spec.cin}", f"{spec.out_size}x{spec.out_size}x{spec.cout}",
            macs, weights + bias, size, size + kept))
        if spec.add:
            kept = 0
    return rows


def _block_end(specs, start: int) -> int:
    """Index after the last layer of the block starting at `start`."""
    for j in range(start + 1, len(specs)):
        if specs[j].block_start:
            return j
    return len(specs)


def summary(alpha: float, resolution: int, outputs: int = arch.IMAGENET_CLASSES,
            family: families.Family = families.v1_family) -> dict:
    """Totals, the share of 1x1 convolutions and the largest materialised activation, plus per-layer rows."""
    rows = layer_costs(alpha, resolution, outputs, family)
    macs = sum(r.macs for r in rows)
    params = sum(r.params for r in rows)
    # the papers list the classifier ("Fully Connected") apart from "Conv 1x1"
    pointwise = [r for r in rows if r.kind == "pw"]
    return {
        "architecture": family.name,
        "alpha": alpha,
        "resolution": resolution,
        "outputs": outputs,
        "macs": macs,
        "params": params,
        "pointwise_macs_share": sum(r.macs for r in pointwise) / macs,
        "pointwise_params_share": sum(r.params for r in pointwise) / params,
        "max_activation_bytes": max(r.materialised for r in rows),
        "max_live_bytes": max(r.live for r in rows),
        "layers": [asdict(r) for r in rows],
    }
