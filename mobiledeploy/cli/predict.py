"""`mobiledeploy predict`: the top classes of images, by an artifact's file."""
from __future__ import annotations


import click

from .. import api
from ..artifact.labels import printable
from .common import emit_json
from .options import json_option, threads_option, top_k_option


@click.command()
@click.argument("artifact", type=click.Path())
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--file", "file_name", default=None,
              help="Model file of the artifact (default: the manifest's default, int8 TFLite first).")
@top_k_option
@threads_option()
@json_option('keys "artifact", "file", "images": [{"image", "top": [{"index", "label", "score"}]}]')
def predict(artifact, images, file_name, top_k, threads, as_json):
    """Classify IMAGES with one file of ARTIFACT, preprocessed exactly as its manifest says.

    Example: mobiledeploy predict models/mobilenet_v1_0.5_128 photo.jpg
    """

    clf, answers = api.predict(artifact, images, file_name, top_k, threads)
    out = [{"image": image, "top": [p.__dict__ for p in preds]} for image, preds in answers]
    if as_json:
        emit_json({"artifact": str(clf.artifact.folder), "file": clf.entry.name, "images": out})
        return
    # labels and file names are data: printed through `printable`, never raw (an ESC in labels.txt would be a
    # terminal escape sequence); --json escapes them by itself
    for item in out:
        click.echo(f"{printable(str(item['image']))}  ({clf.entry.name})")
        for p in item["top"]:
            click.echo(f"  {p['score']:7.4f}  {p['index']:4d}  {printable(p['label'])}")
