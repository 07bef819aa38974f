"""`mobiledeploy info`: the analytic cost of a MobileNet v1 configuration, per layer."""
from __future__ import annotations

import click

from ..model.cost import summary
from .common import emit_json
from .options import json_option, shape_options


@click.command()
@shape_options
@click.option("--classes", type=click.IntRange(1, 1_000_000), default=1000, show_default=True,
              help="Classifier outputs.")
@json_option("keys macs, params, layers, pointwise_macs_share, ...")
def info(alpha, resolution, classes, as_json):
    """Multiply-adds and parameters of MobileNet v1, per layer, computed analytically.

    Counted as the paper does: convolution and classifier weights plus the classifier bias, no
    batch norm. Example: mobiledeploy info --alpha 0.5 --res 128
    """
    s = summary(alpha, resolution, classes)
    if as_json:
        emit_json(s)
        return
    from rich.table import Table

    from ..progress import out as console

    table = Table(title=f"MobileNet v1 alpha {alpha:g}, {resolution}x{resolution}, {classes} classes")
    for col in ("layer", "type", "input", "output"):
        table.add_column(col)
    table.add_column("mult-adds", justify="right")
    table.add_column("params", justify="right")
    for row in s["layers"]:
        table.add_row(row["name"], row["kind"], row["input"], row["output"],
                      f"{row['macs']:,}", f"{row['params']:,}")
    table.add_section()
    table.add_row("total", "", "", "", f"{s['macs']:,}", f"{s['params']:,}")
    console.print(table)
    console.print(f"{s['macs'] / 1e6:.1f}M mult-adds, {s['params'] / 1e6:.3f}M parameters; 1x1 convolutions: "
                  f"{s['pointwise_macs_share']:.1%} of mult-adds, {s['pointwise_params_share']:.1%} of parameters")
