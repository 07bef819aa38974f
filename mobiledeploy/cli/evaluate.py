"""`mobiledeploy eval`: an artifact's files' top-1/top-5 on labelled images."""
from __future__ import annotations


import click

from .. import api
from .common import emit_json
from .options import json_option


@click.command(name="eval")
@click.argument("artifact", type=click.Path())
@click.option("--data", required=True, type=click.Path(),
              help="Labelled images: one subfolder per class (index, label or WordNet id), or file names "
                   "that start with the WordNet id (n01440764_x.JPEG).")
@click.option("--wnids", type=click.Path(), default=None,
              help="WordNet ids in class order, one per line (for wnid-labelled data).")
@click.option("--file", "files", multiple=True, help="Only these model files (repeatable; default: all).")
@click.option("--no-keras", is_flag=True, help="Skip the float Keras model (needs TensorFlow).")
@json_option('keys "artifact", "data", "n", "results": [{"file", "format", "precision", "n", "top1", "top5", '
             '"correct" (per image right or wrong, hex: 4 images a character), "agreement_with_float"}]')
def evaluate(artifact, data, wnids, files, no_keras, as_json):
    """Top-1 and top-5 accuracy of every file of ARTIFACT and of the float Keras model.

    Example: mobiledeploy eval models/mobilenet_v1_0.5_128 --data imagenet-val/
    """
    from ..artifact.bundle import Artifact
    from ..eval import select_entries
    from ..progress import bar

    art = Artifact.load(artifact)
    entries = select_entries(art, list(files))  # a file the artifact lacks fails before any work
    keras = not no_keras
    if keras:
        import importlib.util

        if importlib.util.find_spec("tensorflow") is None:  # looked up, not imported (imports take seconds)
            click.echo("warning: TensorFlow is not installed: the float Keras row is skipped", err=True)
            keras = False
    total = len(entries) + int(keras)
    with bar("evaluating", total, as_json) as advance:
        result = api.evaluate(art.folder, data, wnids, files, keras, advance)
    if as_json:
        result.pop("predictions")
        emit_json(result)
        return
    from rich.table import Table

    from ..progress import out as console

    table = Table(title=f"{art.folder} on {data} ({result['n']} images)")
    for col in ("file", "top-1", "top-5", "agrees with float\nstrict", "agrees with float\ntie-aware"):
        table.add_column(col, justify="left" if col == "file" else "right", no_wrap=True)
    for r in result["results"]:
        table.add_row(r["file"], f"{r['top1']:.1%}", f"{r['top5']:.1%}",
                      *(f"{r[k]:.1%}" if k in r else "" for k in ("agreement_with_float",
                                                                   "agreement_with_float_tie_aware")))
    console.print(table)
