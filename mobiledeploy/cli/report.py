"""`mobiledeploy report` and `mobiledeploy serve`: the results page, as one HTML file or live from the store."""
from __future__ import annotations

import click

from .common import emit_json
from .options import json_option


def filter_options(fn):
    """--device, --artifact, --within, --family, --since: which stored results the page shows."""
    fn = click.option("--since", default=None, metavar="WHEN",
                      help="Only results measured since WHEN: a date (2025-01-31), a time (2025-01-31T12:00, UTC "
                           "unless it says) or an age (30m, 12h, 7d, 2w).")(fn)
    fn = click.option("--family", "families", multiple=True, metavar="LIST",
                      help="Only these families (mobilenet_v1, mobilenet_v2; repeatable or a comma list).")(fn)
    fn = click.option("--within", type=click.Path(file_okay=False), default=None, metavar="DIR",
                      help="Only results of artifacts under DIR (a sweep's --out).")(fn)
    fn = click.option("--artifact", "artifacts", multiple=True, metavar="DIR",
                      help="Only results of this artifact folder (repeatable).")(fn)
    return click.option("--device", "devices", multiple=True, metavar="NAME",
                        help="Only these devices (repeatable or a comma list; default: every device).")(fn)


@click.command()
@click.option("--out", default="report.html", show_default=True, type=click.Path(dir_okay=False),
              help="The HTML file to write (replaced whole: written to a temporary file, then renamed).")
@filter_options
@json_option('keys "out", "generated", "records", "filters", "devices": [{"device", "results", "variants", '
             '"front", "not_quiet", "between_runs", "budgets": [{"from_ms", "chosen", "threads", "decided"}]}], '
             '"side_by_side"')
def report(out, devices, artifacts, within, families, since, as_json):
    """Write the results page: one self-contained HTML file that works offline (plotly and the data inside it).

    Per device: the measured front (p90 with its interval against top-1, measured or published and labelled
    so; hover a point for its variant, family, precision, file size, mult-adds, verdict, quietness, runtime and
    versions), pick's answer for a budget you choose (pick's own answers, computed here at every budget where
    they change), each file's history with the change between runs and the device's drift, and what was not
    measured quietly, marked. Then the devices side by side for the same variant.

    \b
    Examples:
      mobiledeploy report                                   # report.html of everything stored
      mobiledeploy report --device rpi4 --since 7d --out rpi4.html
      mobiledeploy report --within models/sweep --family mobilenet_v2 --json
    """
    from .. import api
    from ..artifact.labels import printable

    doc = api.report(out, device=devices, artifact=artifacts, within=within, family=families, since=since)
    if as_json:
        emit_json({"out": str(out), **doc.summary()})
        return
    click.echo(f"wrote {printable(str(out))}: {doc.records} results on {len(doc.devices)} device(s)"
               + (f" ({printable(doc.filters.text())})" if doc.filters.text() else ""))
    for d in doc.devices:
        click.echo(f"  {printable(d.device)}: {len(d.rows)} measured variants, {len(d.front)} on the front"
                   + (f", {len(d.not_quiet)} not measured quietly" if d.not_quiet else "")
                   + (f"; {printable(d.drift.text())}" if d.drift else ""))


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Loopback needs no token; any other address (0.0.0.0: every one) "
                   "needs the access token printed at start.")
@click.option("--port", type=click.IntRange(0, 65535), default=8731, show_default=True,
              help="Port (0: any free one; the address is printed).")
@click.option("--require-token", is_flag=True,
              help="Ask for the token on loopback too (a machine other people log in to).")
@filter_options
def serve(host, port, require_token, devices, artifacts, within, families, since):
    """Serve the results page live from the store: read-only, rendered anew on every request.

    On loopback (the default) anyone on this machine may read it. On any other address it prints an access token
    once: open the printed address (it ends in ?token=...; the page then keeps it in a cookie and drops it from
    the address) or send `Authorization: Bearer TOKEN`; a request without it gets 401. The token is never
    logged. / is the page, /data.json its data. Ctrl-C stops it.

    \b
    Examples:
      mobiledeploy serve                                  # http://127.0.0.1:8731/
      mobiledeploy serve --host 0.0.0.0 --device rpi4     # for the team: prints the token once
    """
    from ..report import filters, serve as serving

    f = filters.make(devices, artifacts, within, families, since)
    server = serving.make_server(host, port, f, require_token)
    try:
        where = serving.address(server)
        if server.token:
            click.echo(f"serving the results page on {where} (read-only); access token, shown only now:")
            click.echo(f"  {where}?token={server.token}")
        else:
            click.echo(f"serving the results page on {where} (read-only, this machine only)")
        click.echo("Ctrl-C stops it", err=True)
        server.serve_forever()
    finally:
        server.server_close()
