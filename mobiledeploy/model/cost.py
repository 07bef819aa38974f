"""Analytic cost model: multiply-adds, parameters and activation memory per layer, from a family's layer table.

Counted the papers' way: convolution, depthwise and classifier weights plus the classifier bias;
batch-norm parameters and statistics are not counted (they fold into the convolutions). Residual
additions cost no multiply-adds.

Activation memory follows Table 3 of Sandler et al. (2018): 16-bit values, and only the tensors an
engine must materialise count. In MobileNet v1 that is every layer's output; in MobileNetV2 the
expansion and depthwise outputs of a block can be streamed in slices (Section 5), so only the
bottleneck outputs are materialised. The paper's figure is the largest materialised tensor: 1600K
for v1 1.0-224, 400K for v2 1.0-224.

Memory access cost (MAC) is Section 2 of Ma et al. (2018, ShuffleNet V2): what a layer must read and
write, h w c1 + h' w' c2 + weights (for a 1x1 convolution: hw(c1 + c2) + c1 c2 / g), here in bytes at a
precision (fp32 4 bytes a value, int8 1). Layers without weights count too (pools, channel shuffles,
concatenations: guideline G4, element-wise operations are not free), and a layer that ends in a
residual Add also reads both summands and writes the sum (3 h w c more).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from . import architecture as arch
from . import families

#: Table 3's element size: 16-bit floats.
ACTIVATION_BYTES = 2
#: Bytes a value of each precision takes, for memory access cost.
VALUE_BYTES = {"fp32": 4, "int8": 1}
#: Layer kinds that hold weights (the others are pools, shuffles, concatenations).
WEIGHTED = ("conv", "dw", "pw", "fc")


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
    mac: int = 0        # memory access cost in bytes at the summary's precision: inputs, outputs and weights


def layer_costs(alpha: float, resolution: int, outputs: int = arch.IMAGENET_CLASSES,
                family: families.Family = families.v1_family, precision: str = "fp32") -> list[LayerCost]:
    """Multiply-adds, parameters, activation memory and memory access cost of every layer."""
    rows = []
    kept = 0  # the block input a residual Add still needs
    value = VALUE_BYTES[precision]
    specs = family.layers(alpha, resolution, outputs)
    for i, spec in enumerate(specs):
        if spec.kind not in WEIGHTED:
            weights = 0
        elif spec.kind == "dw":
            weights = spec.kernel * spec.kernel * spec.cin
        else:
            weights = spec.kernel * spec.kernel * spec.cin * spec.cout // spec.groups
        bias = spec.cout if spec.kind == "fc" else 0
        macs = weights * spec.out_size * spec.out_size
        out_values = spec.out_size * spec.out_size * spec.cout
        access = spec.in_size * spec.in_size * spec.cin + out_values + weights + bias
        if spec.add:
            access += 3 * out_values
        if spec.block_start:
            block_adds = any(s.add for s in specs[i:_block_end(specs, i)])
            kept = spec.in_size * spec.in_size * spec.cin * ACTIVATION_BYTES if block_adds else 0
        size = 0 if spec.streamed else spec.out_size * spec.out_size * spec.cout * ACTIVATION_BYTES
        rows.append(LayerCost(
            spec.name, spec.kind,
            f"{spec.in_size}x{spec.in_size}x{spec.cin}", f"{spec.out_size}x{spec.out_size}x{spec.cout}",
            macs, weights + bias, size, size + kept, access * value))
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
            family: families.Family = families.v1_family, precision: str = "fp32") -> dict:
    """Totals, the share of 1x1 convolutions, the largest materialised activation and the memory access cost
    (at `precision`), plus per-layer rows."""
    alpha = family.check_alpha(alpha)  # `info` builds nothing: its alpha is judged against the family here
    rows = layer_costs(alpha, resolution, outputs, family, precision)
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
        "precision": precision,
        "mac_bytes": sum(r.mac for r in rows),
        "layers": [asdict(r) for r in rows],
    }
