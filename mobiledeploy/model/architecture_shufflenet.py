"""ShuffleNet V1 (Zhang et al. 2017, Table 1) and V2 (Ma et al. 2018, Table 5) as data: units and layer tables.

A ShuffleNet is a stem (3x3 convolution, stride 2, and a 3x3 max pool), three stages of units and a
classifier. A `Unit` says everything its builder needs; `layers()` flattens the units into the `Layer`
records every other family uses (convolutions, with `groups` for V1's pointwise group convolutions) plus
the operations a MobileNet does not have: pools, channel shuffles and concatenations (kinds "maxpool",
"avgpool", "shuffle", "concat"). They hold no weights and count no mult-adds, but they read and write
memory, which is the point of the V2 paper's memory access cost (its guideline G4).

Widths. V1 at 1x is Table 1's row for each g; the width multiplier s ("ShuffleNet s x", Table 2)
scales it, and since every grouped layer must split evenly into g groups (and the bottleneck is a
quarter of a unit's output), a stage's width is rounded to the nearest multiple of 4g and the stem to
the nearest multiple of g. At 1x this changes nothing; at 0.5x g=8 the stem gets 16 channels, as in
the authors' released models, and their 1.5x keeps the 24-channel stem (V1_STEMS). V2 has no formula: its widths are the four rows of Table 5 (0.5x, 1x,
1.5x, 2x) and any other width is refused.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import MobiledeployError
from .architecture import IMAGENET_CLASSES, Layer

#: The stem: a 3x3 convolution, stride 2, 24 channels at 1x, then a 3x3 max pool, stride 2.
STEM = 24
#: Units per stage (stages 2, 3, 4); the first of each has stride 2.
REPEATS = (4, 8, 4)

#: ShuffleNet V1, Table 1 of Zhang et al.: output channels of stages 2-4 at 1x for each number of groups g.
V1_WIDTHS = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960), 4: (272, 544, 1088), 8: (384, 768, 1536)}
#: Stem widths that are not 24 x s, read back from the papers' complexities: 1.5x keeps 24 (Table 5's 292M
#: counts it so, as do the authors' released models; 36 would give 300M) and 0.25x has 12 (Table 2's 13M;
#: 6 would give 11.0M). The released 0.5x g=8 has 16, which the rounding to a multiple of g gives anyway.
V1_STEMS = {0.25: 12, 1.5: 24}
#: The g of `--arch shufflenet_v1` (the paper's comparisons use g = 3).
V1_DEFAULT_GROUPS = 3

#: ShuffleNet V2, Table 5 of Ma et al.: width -> output channels of stages 2-4 and of conv5.
V2_WIDTHS = {0.5: (48, 96, 192, 1024), 1.0: (116, 232, 464, 1024), 1.5: (176, 352, 704, 1024),
             2.0: (244, 488, 976, 2048)}


@dataclass(frozen=True)
class Unit:
    """One ShuffleNet unit: where it sits, its sizes, and the widths of its branches."""

    name: str          # "stage2_0": layer names start with it
    version: int       # 1 or 2
    stride: int
    in_size: int
    out_size: int
    cin: int
    cout: int
    mid: int           # V1: the bottleneck (cout / 4); V2: a branch's width (cout / 2)
    groups: int        # V1: g of the second pointwise group convolution; V2: 1
    first_groups: int  # V1: g of the first one (1 in the first unit of stage 2: its input has only 24 channels)

    @property
    def branch(self) -> int:
        """Output channels of the convolution branch (V1 stride 2: what the pooled shortcut does not bring)."""
        if self.version == 1:
            return self.cout - self.cin if self.stride == 2 else self.cout
        return self.mid


def _multiple(value: float, divisor: int) -> int:
    """The nearest multiple of `divisor` (halves up), at least `divisor`."""
    return max(divisor, int(value / divisor + 0.5) * divisor)


def check_groups(groups) -> int:
    """V1's number of groups: one of Table 1's (1, 2, 3, 4, 8)."""
    if isinstance(groups, bool) or groups not in V1_WIDTHS:
        divides = "" if isinstance(groups, int) and groups > 0 and STEM % groups == 0 else (
            f" does not divide the {STEM}-channel stem and")
        raise MobiledeployError(f"ShuffleNet V1 groups g={groups}{divides} has no widths in Table 1 of Zhang et "
                                f"al.: choose g from {', '.join(map(str, V1_WIDTHS))} "
                                f"(--arch shufflenet_v1_g8; plain shufflenet_v1 is g={V1_DEFAULT_GROUPS})")
    return groups


def v2_widths(alpha: float) -> tuple[int, int, int, int]:
    """Table 5's channels for one of V2's four widths; any other width is one clear error."""
    widths = V2_WIDTHS.get(round(float(alpha), 6))
    if widths is None:
        raise MobiledeployError(f"ShuffleNet V2 has no width {float(alpha):g}x: Table 5 of Ma et al. defines "
                                f"--alpha {', '.join(f'{a:g}' for a in V2_WIDTHS)} only")
    return widths


def v1_widths(alpha: float, groups: int) -> tuple[int, tuple[int, int, int]]:
    """(stem, stage widths) of V1 with g groups at width alpha (see the module's note on rounding)."""
    check_groups(groups)
    stages = tuple(_multiple(base * alpha, 4 * groups) for base in V1_WIDTHS[groups])
    return _multiple(V1_STEMS.get(round(float(alpha), 6), STEM * alpha), groups), stages


def _pooled(size: int) -> int:
    """Side after a 3x3 stride-2 layer padded by 1 on each side (PyTorch's and ours): ceil(size / 2)."""
    return (size - 1) // 2 + 1


def stem_sizes(resolution: int) -> tuple[int, int]:
    """Sides after the stem's convolution and after its max pool."""
    conv = _pooled(resolution)
    return conv, _pooled(conv)


def units(version: int, alpha: float, resolution: int, groups: int = 1) -> list[Unit]:
    """Every unit of ShuffleNet V1 (with g = groups) or V2 at this width and input side."""
    if version == 1:
        stem, stages = v1_widths(alpha, groups)
    else:
        *stages, _ = v2_widths(alpha)
        stem = STEM
    size = stem_sizes(resolution)[1]
    cin = stem
    result = []
    for stage, (cout, repeats) in enumerate(zip(stages, REPEATS), start=2):
        for i in range(repeats):
            stride = 2 if i == 0 else 1
            out = _pooled(size) if stride == 2 else size
            if version == 1:
                first = 1 if (stage == 2 and i == 0) else groups
                result.append(Unit(f"stage{stage}_{i}", 1, stride, size, out, cin, cout, cout // 4, groups, first))
            else:
                result.append(Unit(f"stage{stage}_{i}", 2, stride, size, out, cin, cout, cout // 2, 1, 1))
            size, cin = out, cout
    return result


def conv5_channels(alpha: float) -> int:
    """V2's last 1x1 convolution (1024, or 2048 at 2x)."""
    return v2_widths(alpha)[3]


def _conv(name, kind, kernel, stride, in_size, out_size, cin, cout, act=True, groups=1, **extra) -> Layer:
    return Layer(name, kind, kernel, stride, in_size, out_size, cin, cout, f"{name}_bn",
                 f"{name}_relu" if act else None, groups=groups, **extra)


def _op(name, kind, in_size, out_size, cin, cout, kernel=1, stride=1) -> Layer:
    """A layer without weights (pool, shuffle, concat): it costs memory traffic, not mult-adds."""
    return Layer(name, kind, kernel, stride, in_size, out_size, cin, cout)


def _unit_layers(u: Unit) -> list[Layer]:
    n, s = u.name, u.stride
    if u.version == 1:
        rows = [
            _conv(f"{n}_gconv1", "pw", 1, 1, u.in_size, u.in_size, u.cin, u.mid, groups=u.first_groups,
                  block_start=True),
            *([_op(f"{n}_shuffle", "shuffle", u.in_size, u.in_size, u.mid, u.mid)] if u.groups > 1 else []),
            _conv(f"{n}_dw", "dw", 3, s, u.in_size, u.out_size, u.mid, u.mid, act=False),
        ]
        if s == 1:  # relu(x + branch): the Add ends the unit
            rows.append(_conv(f"{n}_gconv2", "pw", 1, 1, u.out_size, u.out_size, u.mid, u.branch, act=False,
                              groups=u.groups, add=f"{n}_add"))
        else:       # concat(avgpool(x), relu(branch))
            rows += [_conv(f"{n}_gconv2", "pw", 1, 1, u.out_size, u.out_size, u.mid, u.branch, groups=u.groups),
                     _op(f"{n}_pool", "avgpool", u.in_size, u.out_size, u.cin, u.cin, 3, 2),
                     _op(f"{n}_concat", "concat", u.out_size, u.out_size, u.cout, u.cout)]
        return rows
    rows = []
    if s == 2:      # branch 1: depthwise stride 2 then 1x1, on the whole input
        rows += [_conv(f"{n}_proj_dw", "dw", 3, 2, u.in_size, u.out_size, u.cin, u.cin, act=False,
                       block_start=True),
                 _conv(f"{n}_proj_pw", "pw", 1, 1, u.out_size, u.out_size, u.cin, u.mid)]
    # branch 2: on the whole input (stride 2) or on the second half of the channels (the split, stride 1)
    first_in = u.cin if s == 2 else u.mid
    rows += [_conv(f"{n}_pw1", "pw", 1, 1, u.in_size, u.in_size, first_in, u.mid, block_start=s == 1),
             _conv(f"{n}_dw", "dw", 3, s, u.in_size, u.out_size, u.mid, u.mid, act=False),
             _conv(f"{n}_pw2", "pw", 1, 1, u.out_size, u.out_size, u.mid, u.mid),
             _op(f"{n}_concat", "concat", u.out_size, u.out_size, u.cout, u.cout),
             _op(f"{n}_shuffle", "shuffle", u.out_size, u.out_size, u.cout, u.cout)]
    return rows


def layers(version: int, alpha: float, resolution: int, outputs: int | None = IMAGENET_CLASSES,
           groups: int = 1) -> list[Layer]:
    """Every layer of ShuffleNet V1 (groups g) or V2, in execution order; the classifier only when outputs is set."""
    unit_list = units(version, alpha, resolution, groups)
    conv, pooled = stem_sizes(resolution)
    stem = unit_list[0].cin
    result = [_conv("conv1", "conv", 3, 2, resolution, conv, 3, stem),
              _op("maxpool", "maxpool", conv, pooled, stem, stem, 3, 2)]
    for u in unit_list:
        result += _unit_layers(u)
    last = unit_list[-1]
    width = last.cout
    if version == 2:
        width = conv5_channels(alpha)
        result.append(_conv("conv5", "pw", 1, 1, last.out_size, last.out_size, last.cout, width))
    if outputs:
        result.append(Layer("fc", "fc", 1, 1, 1, 1, width, outputs))
    return result


def width_layers(version: int) -> tuple[str, ...]:
    """The layers whose width alpha sets: the stem and each unit's last convolution (and V2's conv5)."""
    names = ["conv1"]
    for stage, repeats in zip((2, 3, 4), REPEATS):
        names += [f"stage{stage}_{i}_{'gconv2' if version == 1 else 'pw2'}" for i in range(repeats)]
    return tuple(names + (["conv5"] if version == 2 else []))


def alpha_of(version: int, groups: int, widths: dict[str, int]) -> float | None:
    """The width a file's channel counts come from: V2's Table 5 rows, V1's usual multipliers, else None."""
    from .architecture import MIN_RESOLUTION

    candidates = tuple(V2_WIDTHS) if version == 2 else (0.25, 0.5, 0.75, 1.0, 1.5, 2.0) + tuple(
        round(k * 0.05, 2) for k in range(1, 81))
    for alpha in candidates:
        table = {layer.name: layer.cout for layer in layers(version, alpha, MIN_RESOLUTION, None, groups)
                 if layer.name in widths}
        if table == widths:
            return alpha
    return None
