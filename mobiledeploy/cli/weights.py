"""`mobiledeploy weights`: which real weights exist per variant, fetching them, and taking local copies in."""
from __future__ import annotations

import click

from .common import emit_json
from .options import ARCH, json_option


@click.group()
def weights():
    """Real weights for the sweep: list the official files, fetch one, add local ones to the cache.

    \b
    Examples:
      mobiledeploy weights list --arch mobilenet_v1
      mobiledeploy weights fetch --alpha 0.5 --res 128                # Keras's .h5 into the cache
      mobiledeploy weights fetch --alpha 0.5 --res 128 --kind tflite-quant   # Google's .tgz, its .tflite kept
      mobiledeploy weights add mobilenet_v1_0.5_128_quant.tgz         # Google's archive, copied by hand
      mobiledeploy sweep --weights-dir cache --data photos/ --holdout 0.5
    """


@weights.command("list")
@click.option("--arch", "archs", default=None, metavar="LIST", help="Comma list of families (default: all).")
@json_option('key "weights": [{"arch", "alpha", "resolution", "label", "keras", "keras_url", "tflite", '
             '"tflite_archives", "archives": [{"kind", "name", "url", "member"}], "cached", "published_top1"}], '
             '"cache"')
def weights_list(archs, as_json):
    """Each official variant: its Keras .h5 (and URL), Google's TFLite archives, what the cache holds."""
    from rich.table import Table

    from .. import api
    from ..progress import out
    from ..sweep.catalog import cache_dir

    found = api.weights_list(archs)
    if as_json:
        emit_json({"weights": [e.to_dict() for e in found], "cache": str(cache_dir())})
        return
    table = Table(title=f"official weights (cache: {cache_dir()})")
    for col in ("variant", "Keras file", "Google's TFLite archives (.tgz)", "in the cache", "published"):
        table.add_column(col, no_wrap=True)
    for e in found:
        table.add_row(e.label, e.keras, ", ".join(a.name for a in e.archives) or "-", ", ".join(e.cached) or "-",
                      f"{e.published_top1:.1%}" if e.published_top1 is not None else "-")
    out.print(table)
    out.print("fetch one: mobiledeploy weights fetch --alpha A --res R [--kind tflite|tflite-quant]; add a file or "
              "archive you have: mobiledeploy weights add FILE; use them: mobiledeploy sweep --weights-dir cache "
              "(URLs: --json)")


@weights.command("fetch")
@click.option("--arch", "family", type=ARCH, default="mobilenet_v1", show_default=True, help="The family.")
@click.option("--alpha", type=float, required=True, help="Width multiplier of an official variant.")
@click.option("--res", "resolution", type=int, required=True, help="Input side of an official variant.")
@click.option("--kind", type=click.Choice(["keras-h5", "tflite", "tflite-quant"]), default="keras-h5",
              show_default=True, help="Keras's .h5, or the .tflite of Google's float or quantization-aware .tgz "
              "archive (only that file is kept).")
@json_option('key "path"')
def weights_fetch(family, alpha, resolution, kind, as_json):
    """Download one official file into the cache: Keras's .h5, or the .tflite out of Google's .tgz archive
    (MOBILEDEPLOY_WEIGHTS_URL names a mirror holding them all). Offline: put the file or archive in by hand with
    `mobiledeploy weights add FILE`."""
    from .. import api

    path = api.weights_fetch(alpha, resolution, family.name, kind)
    if as_json:
        emit_json({"path": str(path)})
    else:
        click.echo(f"cached {path}")


@weights.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@json_option('key "added": the cache files written')
def weights_add(files, as_json):
    """Copy weights FILES (official names) or Google's .tgz archives of them into the cache."""
    from .. import api

    added = [str(p) for p in api.weights_add(list(files))]
    if as_json:
        emit_json({"added": added})
        return
    for path in added:
        click.echo(f"added {path}")
