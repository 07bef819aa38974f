"""`mobiledeploy quant-report`: where the int8 files lose accuracy, layer by layer."""
from __future__ import annotations

from pathlib import Path

import click

from .common import emit_json
from .options import json_option

NOISE_SEED = 0


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
    import numpy as np

    from ..artifact.bundle import Artifact
    from ..errors import MobiledeployError
    from ..export import quant_debug

    art = Artifact.load(artifact)
    pairs = {}
    for fmt in ("tflite", "onnx"):
        if any(e.format == fmt and e.precision == "int8" for e in art.manifest.files):
            pairs[fmt] = (art.path(art.manifest.file(fmt, "fp32")), art.path(art.manifest.file(fmt, "int8")))
    if not pairs:
        raise MobiledeployError(f"{art.folder} has no int8 file: export it with --int8")
    if plot_path and not Path(plot_path).resolve().parent.is_dir():
        raise MobiledeployError(f"cannot write the plot {plot_path}: its folder does not exist")
    spec = art.manifest.input
    if data:
        from ..export.calibration import read_images
        from ..runtime.images import find_images

        paths = find_images(Path(data))[:count]
        if not paths:
            raise MobiledeployError(f"no images (jpg, png, bmp) in {data}")
        inputs = read_images(paths, spec).inputs
        if not len(inputs):
            raise MobiledeployError(f"no readable image in {data}")
        source = {"data": str(data), "count": int(len(inputs))}
    else:
        inputs = np.random.default_rng(NOISE_SEED).uniform(-1, 1, (count, *spec.shape[1:])).astype(np.float32)
        source = {"data": "uniform noise", "count": count}
        click.echo("warning: no --data: running uniform noise; real images give the errors that matter", err=True)
    from ..runtime.session import Session

    for files in pairs.values():  # the loader predict, eval and bench use: a file it refuses is one line here too
        for path in files:
            Session(path)
    result = quant_debug.report(pairs.get("tflite"), pairs.get("onnx"), inputs)
    result = {"artifact": str(art.folder), "inputs": source, **result,
              "calibration": art.manifest.calibration.get("method")}
    if plot_path:
        quant_debug.plot(result, Path(plot_path), f"{art.folder.name}: int8 activations against float "
                                                  f"({source['count']} inputs from {source['data']})")
        result["plot"] = str(plot_path)
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
