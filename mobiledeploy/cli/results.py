"""`mobiledeploy results`: what the results store holds, as a table, a file, or a teammate's file taken in."""
from __future__ import annotations

import click

from .common import emit_json
from .options import json_option


def _filters(f):
    f = click.option("--device", default=None, metavar="NAME", help="Only this device's results.")(f)
    f = click.option("--artifact", default=None, type=click.Path(), metavar="DIR",
                     help="Only this artifact folder's results.")(f)
    f = click.option("--within", default=None, type=click.Path(), metavar="DIR",
                     help="Only artifacts under this folder (a sweep's --out).")(f)
    f = click.option("--family", default=None, metavar="ARCH", help="Only this family (e.g. mobilenet_v2).")(f)
    f = click.option("--since", default=None, metavar="WHEN",
                     help="Only results measured since a date (2026-12-01) or within an age (7d, 12h).")(f)
    f = click.option("--run", default=None, metavar="ID", help="Only the results of this sweep run.")(f)
    return f


@click.group()
def results():
    """The results store: every measurement bench, sweep and pick --refine made, with its interval and verdict.

    \b
    Where: results.db in MOBILEDEPLOY_HOME (SQLite), or a team's PostgreSQL named by --store,
    MOBILEDEPLOY_STORE or [store] url in mobiledeploy.toml (see docs/store.md).
    \b
    Examples:
      mobiledeploy results list --device rpi4 --since 7d
      mobiledeploy results export --format csv --out results.csv
      mobiledeploy results import teammate.jsonl          # or an old results.jsonl
      mobiledeploy results prune --older-than 90d --dry-run
      mobiledeploy --store postgresql://me@dbhost/lab results init
    """


@results.command("list")
@_filters
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the newest N.")
@json_option('key "results": the records as stored (record_format 2), "store"')
def results_list(device, artifact, within, family, since, run, limit, as_json):
    """The stored results, oldest first, with their p90 and its interval."""
    from rich.table import Table

    from .. import api
    from ..bench import store
    from ..progress import out

    found = api.results(device, artifact, family, since, within, run)
    if limit:
        found = found[-limit:]
    if as_json:
        emit_json({"results": [r.to_dict() for r in found], "store": store.where()})
        return
    confs = {r.p90.confidence for r in found if r.p90.low is not None}
    conf = f" [{next(iter(confs)):.0%} CI]" if len(confs) == 1 else " [CI]" if confs else ""
    table = Table(title=f"{len(found)} result{'s' if len(found) != 1 else ''} in {store.where()}")
    for col in ("time", "device", "variant", "file", "threads", f"p90 ms{conf}", "verdict", "quiet"):
        table.add_column(col, no_wrap=True)
    for r in found:
        p90 = r.p90
        interval = f" [{p90.low:.3g}, {p90.high:.3g}]" if p90.low is not None else ""
        table.add_row(r.time[:16].replace("T", " "), r.device, r.artifact_name, r.file, str(r.threads),
                      f"{p90.value:.3g}{interval}", "stable" if r.measurement.verdict.stable else "unstable",
                      "yes" if r.noise is None else "no")
    out.print(table)


@results.command("export")
@_filters
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "json"]), default="jsonl", show_default=True,
              help="csv: one row a result for a spreadsheet; jsonl: one record a line (results import reads it); "
                   "json: records and measured accuracies in one object (results import reads it).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The file to write (replaced whole).")
@json_option('keys "written", "out", "format"')
def results_export(device, artifact, within, family, since, run, fmt, out, as_json):
    """Write the stored results to a file, to share them or keep them."""
    from .. import api

    n = api.results_export(out, fmt, device=device, artifact=artifact, family=family, since=since, within=within,
                           run=run)
    if as_json:
        emit_json({"written": n, "out": out, "format": fmt})
    else:
        click.echo(f"wrote {n} result{'s' if n != 1 else ''} to {out} ({fmt})")


@results.command("import")
@click.argument("file", type=click.Path())
@json_option('keys "read", "added", "known", "skipped", "accuracy_added", "store"')
def results_import(file, as_json):
    """Take in a `results export` file (jsonl or json) or an old results.jsonl; every record is checked,
    records already stored are not stored twice."""
    from .. import api
    from ..bench import store

    got = api.results_import(file)
    if as_json:
        emit_json({**got, "store": store.where()})
    else:
        click.echo(f"added {got['added']} of {got['read']} results to {store.where()} ({got['known']} already "
                   f"there, {got['skipped']} not records)")


@results.command("prune")
@_filters
@click.option("--older-than", default=None, metavar="AGE",
              help="Only results measured before this age (90d, 12h) or date (2026-06-01).")
@click.option("--dry-run", is_flag=True, help="Say how many would go; delete nothing.")
@json_option('keys "pruned" (or would be, with --dry-run), "dry_run"')
def results_prune(device, artifact, within, family, since, run, older_than, dry_run, as_json):
    """Delete stored results (at least one of --older-than or a filter is required)."""
    from .. import api

    n = api.results_prune(older_than, dry_run, device=device, artifact=artifact, family=family, since=since,
                          within=within, run=run)
    if as_json:
        emit_json({"pruned": n, "dry_run": dry_run})
    else:
        click.echo(f"{'would delete' if dry_run else 'deleted'} {n} result{'s' if n != 1 else ''}")


@results.command("send")
@json_option('keys "added", "kept_as", "store"')
def results_send(as_json):
    """Send the results kept in unsent.jsonl while the store's server was out of reach."""
    from .. import api

    got = api.results_send()
    if as_json:
        emit_json(got)
    elif got["kept_as"]:
        click.echo(f"sent {got['added']} new results to {got['store']} (the file is kept as {got['kept_as']})")
    else:
        click.echo("nothing to send")


@results.command("init")
@json_option('key "done"')
def results_init(as_json):
    """Create the store's schema (a team's PostgreSQL database needs this once; SQLite does it by itself)."""
    from .. import api

    done = api.results_init()
    if as_json:
        emit_json({"done": done})
    else:
        click.echo(done)
