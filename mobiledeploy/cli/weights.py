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
      mobiledeploy weights add mobilenet_v1_0.5_128_quant.tgz         # Google's archive, copied by hand
      mobiledeploy sweep --weights-dir cache --data photos/ --holdout 0.5
    """


@weights.command("list")
@click.option("--arch", "archs", default=None, metavar="LIST", help="Comma list of families (default: all).")
@json_option('key "weights": [{"arch", "alpha", "resolution", "label", "keras", "keras_url", "tflite", '
             '"tflite_archives", "cached", "published_top1"}], "cache"')
def weights_list(archs, as_json):
    """Each official variant: its Keras .h5 (and URL), Google's TFLite files, what the cache holds."""
    from rich.table import Table

    from .. import api
    from ..progress import out
    from ..sweep.catalog import cache_dir

    found = api.weights_list(archs)
    if as_json:
        emit_json({"weights": [e.to_dict() for e in found], "cache": str(cache_dir())})
        return
    table = Table(title=f"official weights (cache: {cache_dir()})")
    for col in ("variant", "Keras file", "Google's TFLite files (in .tgz archives)", "in the cache", "published"):
        table.add_column(col, no_wrap=True)
    for e in found:
        table.add_row(e.label, e.keras, ", ".join(e.tflite), ", ".join(e.cached) or "-",
                      f"{e.published_top1:.1%}" if e.published_top1 is not None else "-")
    out.print(table)
    out.print("fetch a Keras file: mobiledeploy weights fetch --alpha A --res R; add a file or archive you have: "
              "mobiledeploy weights add FILE; use them: mobiledeploy sweep --weights-dir cache")


@weights.command("fetch")
@click.option("--arch", "family", type=ARCH, default="mobilenet_v1", show_default=True, help="The family.")
@click.option("--alpha", type=float, required=True, help="Width multiplier of an official variant.")
@click.option("--res", "resolution", type=int, required=True, help="Input side of an official variant.")
@json_option('key "path"')
def weights_fetch(family, alpha, resolution, as_json):
    """Download one official Keras .h5 file into the cache (MOBILEDEPLOY_WEIGHTS_URL names a mirror)."""
    from .. import api

    path = api.weights_fetch(alpha, resolution, family.name)
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
