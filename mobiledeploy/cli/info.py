"""`mobiledeploy info`: the analytic cost of a MobileNet configuration, per layer: multiply-adds,
parameters and the activation memory that must be live (Table 3 of Sandler et al. 2018)."""
from __future__ import annotations

import click

from ..model.cost import summary
from .common import emit_json
from .options import json_option, shape_options


@click.command()
@shape_options
@click.option("--classes", type=click.IntRange(1, 1_000_000), default=1000, show_default=True,
              help="Classifier outputs.")
@click.option("--precision", type=click.Choice(["fp32", "int8"]), default="fp32", show_default=True,
              help="Bytes a value takes in the memory access cost (fp32 4, int8 1).")
@json_option("keys architecture, macs, params, max_activation_bytes, max_live_bytes, layers, ...")
def info(family, alpha, resolution, classes, precision, as_json):
    """Multiply-adds, parameters, activation memory and memory access of a network, per layer, computed analytically.

    Counted as the papers do: convolution and classifier weights plus the classifier bias, no batch
    norm. Memory is the MobileNetV2 paper's Table 3 method: 16-bit values, only tensors an engine must
    materialise (v2's expansion and depthwise outputs stream inside a block); "live" adds the block
    input a residual addition keeps. "MAC" is the ShuffleNet V2 paper's memory access cost: the bytes a
    layer reads and writes (input, output, weights) at --precision; pools, shuffles and concatenations
    count too.

    Examples: mobiledeploy info --alpha 0.5 --res 128;  mobiledeploy info --arch mobilenet_v2
    """
    s = summary(alpha, resolution, classes, family, precision)
    if as_json:
        emit_json(s)
        return
    from rich.table import Table

    from ..progress import out as console

    table = Table(title=f"{family.title_for(alpha, resolution)}, {classes} classes")
    for col in ("layer", "type", "input", "output"):
        table.add_column(col)
    for col in ("mult-adds", "params", "materialised", "live", f"MAC {precision}"):
        table.add_column(col, justify="right")
    for row in s["layers"]:
        table.add_row(row["name"], row["kind"], row["input"], row["output"], f"{row['macs']:,}",
                      f"{row['params']:,}", _kib(row["materialised"]), _kib(row["live"]), _kib(row["mac"]))
    table.add_section()
    table.add_row("total / max", "", "", "", f"{s['macs']:,}", f"{s['params']:,}",
                  _kib(s["max_activation_bytes"]), _kib(s["max_live_bytes"]), _kib(s["mac_bytes"]))
    console.print(table)
    console.print(f"{s['macs'] / 1e6:.1f}M mult-adds, {s['params'] / 1e6:.3f}M parameters; 1x1 convolutions: "
                  f"{s['pointwise_macs_share']:.1%} of mult-adds, {s['pointwise_params_share']:.1%} of parameters; "
                  f"largest materialised activation {s['max_activation_bytes'] / 1000:.0f}K (16-bit, the "
                  f"MobileNetV2 paper's Table 3: v1 1600K, v2 400K at 1.0-224); memory access "
                  f"{s['mac_bytes'] / 1e6:.1f} MB at {precision} (the ShuffleNet V2 paper's MAC)")


def _kib(count: int) -> str:
    return f"{count / 1000:,.0f}K" if count else "streamed"
