"""`mobiledeploy predict` and `mobiledeploy eval`: use an artifact."""
from __future__ import annotations

from pathlib import Path

import click

from .common import emit_json, user_errors


@click.command()
@click.argument("artifact", type=click.Path())
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--file", "file_name", default=None, help="Model file of the artifact (default: int8 TFLite).")
@click.option("--top", type=click.IntRange(1, 100), default=5, show_default=True, help="Classes to show.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Inference threads.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per run (key \"images\").")
@user_errors
def predict(artifact, images, file_name, top, threads, as_json):
    """Classify IMAGES with one file of ARTIFACT, preprocessed exactly as its manifest says.

    Example: mobiledeploy predict models/mobilenet_v1_0.50_128 photo.jpg
    """
    from ..runtime.classifier import Classifier
    from ..runtime.images import load_rgb

    clf = Classifier(artifact, file_name, threads)
    out = []
    for image in images:
        preds = clf.classify(load_rgb(image), top)
        out.append({"image": image, "top": [p.__dict__ for p in preds]})
    if as_json:
        emit_json({"artifact": str(clf.artifact.folder), "file": clf.entry["name"], "images": out})
        return
    for item in out:
        click.echo(f"{item['image']}  ({clf.entry['name']})")
        for p in item["top"]:
            click.echo(f"  {p['score']:7.4f}  {p['index']:4d}  {p['label']}")


@click.command(name="eval")
@click.argument("artifact", type=click.Path())
@click.option("--data", required=True, type=click.Path(),
              help="Labelled images: one subfolder per class (index, label or WordNet id), or file names "
                   "that start with the WordNet id (n01440764_x.JPEG).")
@click.option("--wnids", type=click.Path(), default=None,
              help="WordNet ids in class order, one per line (for wnid-labelled data).")
@click.option("--file", "files", multiple=True, help="Only these model files (repeatable).")
@click.option("--no-keras", is_flag=True, help="Skip the float Keras model (needs TensorFlow).")
@click.option("--json", "as_json", is_flag=True, help='Print one JSON object with "results".')
@user_errors
def evaluate(artifact, data, wnids, files, no_keras, as_json):
    """Top-1 and top-5 accuracy of every file of ARTIFACT and of the float Keras model.

    Example: mobiledeploy eval models/mobilenet_v1_0.50_128 --data imagenet-val/
    """
    from ..artifact.bundle import Artifact
    from ..artifact.labels import read_labels
    from ..eval import evaluate as run_eval
    from ..progress import bar

    art = Artifact.load(artifact)
    wnid_list = read_labels(Path(wnids)) if wnids else None
    keras = not no_keras
    if keras:
        import importlib.util

        if importlib.util.find_spec("tensorflow") is None:  # looked up, not imported (imports take seconds)
            click.echo("warning: TensorFlow is not installed: the float Keras row is skipped", err=True)
            keras = False
    total = len([e for e in art.manifest["files"] if not files or e["name"] in files]) + int(keras)
    with bar("evaluating", total, as_json) as advance:
        result = run_eval(art, Path(data), wnid_list, list(files), keras, advance)
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
@click.option("--images", required=True, type=click.Path(), help="Folder of real images (jpg, png, bmp).")
@click.option("--out", required=True, type=click.Path(), help="Folder for the vectors (one subfolder per file).")
@user_errors
def testvectors(artifact, images, out):
    """Write test vectors for other implementations of ARTIFACT's preprocessing (the Android app).

    For each TFLite file: raw RGB images, the exact input tensors the Python runtime makes, LiteRT's raw
    outputs and top-5, and a copy of the manifest. Example:
    mobiledeploy testvectors models/mobilenet_v1_0.50_128 --images photos/ --out android_demo/testvectors
    """
    from ..artifact.testvectors import images_from, write

    for folder in write(artifact, images_from(images), Path(out)):
        click.echo(str(folder))
