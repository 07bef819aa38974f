"""`mobiledeploy quant-report`: where the int8 files lose accuracy, layer by layer."""
from __future__ import annotations


import click

from .common import emit_json
from .options import json_option

@click.command(name="quant-report")
@click.argument("artifact", type=click.Path())
@click.option("--data", type=click.Path(), default=None,
              help="Folder of images to run (default: uniform noise, which says little about real accuracy).")
@click.option("--count", type=click.IntRange(min=1), default=50, show_default=True, help="Images at most.")
@json_option('keys "artifact", "inputs", "formats", "layers", "calibration", "plot"')
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Write a PNG of the error by layer depth.")
def quant_report(artifact, data, count, as_json, plot_path):
    """Per-layer error of ARTIFACT's int8 activations against its float files (TFLite and ONNX side by side).

    \b
    rmse/scale: RMSE in int8 steps (rounding alone gives 0.29); SQNR: signal-to-noise in dB
    (higher is better); cos: mean cosine similarity; added: noise this layer adds on top of the
    layers before it. (`export --fallback-float N` chooses differently: by the output noise each
    tensor's rounding causes, measured; see the manifest's calibration.tflite_int8.noise_shares.)
    Example: mobiledeploy quant-report models/mobilenet_v1_0.25_128 --data images/ --plot err.png
    """
    from .. import api

    result = api.quant_report(artifact, data, count, plot_path)
    if as_json:
        emit_json(result)
        return
    _print_table(result)


def _fmt(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def _print_table(result: dict) -> None:
    from rich.table import Table

    from ..progress import out as console

    table = Table(title=f"{result['artifact']}: int8 vs float, {result['inputs']['count']} inputs "
                        f"from {result['inputs']['data']}")
    table.add_column("#", justify="right")
    table.add_column("layer", no_wrap=True)
    for fmt in result["formats"]:
        for col in ("scale", "rmse/scale", "SQNR dB", "cos", "added"):
            table.add_column(f"{fmt}\n{col}", justify="right")
    for row in result["layers"]:
        cells = [str(row["depth"]), row["layer"]]
        for fmt in result["formats"]:
            m = row.get(fmt)
            if not m:
                cells += [""] * 5
                continue
            cells += [_fmt(m["scale"], ".4f") or "float", _fmt(m["rmse_scale"], ".2f"), _fmt(m["sqnr_db"], ".1f"),
                      _fmt(m["cosine"], ".4f"), _fmt(m.get("added_nsr"), ".4f")]
        table.add_row(*cells)
    console.print(table)
    if "plot" in result:
        console.print(f"plot: {result['plot']}")
