"""`mobiledeploy predict` and `mobiledeploy eval`: use an artifact."""
from __future__ import annotations

from pathlib import Path

import click

from .. import api
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
    for item in out:
        click.echo(f"{item['image']}  ({clf.entry.name})")
        for p in item["top"]:
            click.echo(f"  {p['score']:7.4f}  {p['index']:4d}  {p['label']}")


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
             '"agreement_with_float"}]')
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
