"""`mobiledeploy testvectors`: vectors other implementations of the preprocessing are checked against."""
from __future__ import annotations

from pathlib import Path

import click

from .common import emit_json
from .options import json_option


@click.command()
@click.argument("artifact", type=click.Path())
@click.option("--data", type=click.Path(), required=True, help="Folder of real images (jpg, png, bmp).")
@click.option("--out", required=True, type=click.Path(), help="Folder for the vectors (one subfolder per file).")
@json_option('key "folders": the folders written')
def testvectors(artifact, data, out, as_json):
    """Write test vectors for other implementations of ARTIFACT's preprocessing (the Android app).

    For each TFLite file: raw RGB images, the exact input tensors the Python runtime makes, LiteRT's raw
    outputs and top-5, and a copy of the manifest. Example:
    mobiledeploy testvectors models/mobilenet_v1_0.5_128 --data photos/ --out android_demo/testvectors
    """
    from ..runtime.testvectors import images_from, write

    folders = [str(f) for f in write(artifact, images_from(data), Path(out))]
    if as_json:
        emit_json({"folders": folders})
        return
    for folder in folders:
        click.echo(folder)
