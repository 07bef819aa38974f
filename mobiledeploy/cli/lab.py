"""`mobiledeploy lab`: a device lab over many hosts on Dask distributed (certificates, scheduler, workers, status)."""
from __future__ import annotations

import click

from .common import emit_json
from .options import json_option

CERTS_HELP = ("This host's certificate folder from `lab certs` (e.g. lab-certs/desk1; default: certs under [lab] "
              "in mobiledeploy.toml); not for tcp:// on loopback.")
LAB_KEYS = {"scheduler": 'scheduler = "tls://labhost:8786"', "certs": 'certs = "lab-certs/NAME"'}


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def _address(address: str | None) -> str:
    if not address:
        from ..errors import MobiledeployError

        raise MobiledeployError("give the lab's ADDRESS (e.g. tls://labhost:8786), or write scheduler = "
                                "\"tls://labhost:8786\" under [lab] in mobiledeploy.toml")
    return address


def settings_defaults(path, table) -> dict:
    """mobiledeploy.toml's [lab] table (scheduler, certs) as option defaults: sweep's --lab and --lab-certs,
    `lab status` and `lab worker`'s ADDRESS and --certs, `lab scheduler`'s --certs. Checked here, naming the file."""
    from ..choices import did_you_mean
    from ..errors import MobiledeployError
    from ..lab import security

    keys = ", ".join(LAB_KEYS.values())
    if not isinstance(table, dict):
        raise MobiledeployError(f"{path}: lab = {str(table)[:40]} is not a table: write [lab] then {keys}")
    for key, value in table.items():
        if key not in LAB_KEYS:
            raise MobiledeployError(f"{path}: [lab] has no key {str(key)[:60]!r} (it takes {keys})"
                                    f"{did_you_mean(str(key), LAB_KEYS)}")
        if not isinstance(value, str) or not value.strip() or len(value) > 4096:
            raise MobiledeployError(f"{path}: [lab] {key} is not a text: write {LAB_KEYS[key]}")
    scheduler, certs = table.get("scheduler"), table.get("certs")
    if scheduler is not None:
        try:
            security.parse_address(scheduler)
        except MobiledeployError as exc:
            raise MobiledeployError(f"{path}: [lab] scheduler: {exc}") from None
    # a sweep goes to the lab only when the file names one (`sweep --lab ''` then sweeps on this host)
    sweep = {"lab_address": scheduler, **({"lab_certs": certs} if certs is not None else {})} if scheduler else {}
    connect = {k: v for k, v in (("address", scheduler), ("certs", certs)) if v is not None}
    return {"sweep": sweep, "lab": {"status": connect, "worker": dict(connect),
                                    **({"scheduler": {"certs": certs}} if certs is not None else {})}}


@click.group()
def lab():
    """One sweep over the devices of many hosts: a Dask scheduler, a worker on each host with devices.

    Every connection is mutual TLS with the lab's own CA (`lab certs`); a plain tcp:// address is accepted only
    on loopback (a lab on one machine).

    \b
    Examples:
      mobiledeploy lab certs --out lab-certs --scheduler labhost --workers desk1,rack2 --clients alice
      mobiledeploy lab scheduler --certs lab-certs/labhost --listen tls://0.0.0.0:8786
      mobiledeploy lab worker tls://labhost:8786 --certs lab-certs/desk1
      mobiledeploy lab status tls://labhost:8786 --certs lab-certs/alice
      mobiledeploy sweep --lab tls://labhost:8786 --lab-certs lab-certs/alice --device desk1-local,rpi4
      mobiledeploy pick --device rpi4 --budget-ms 8

    \b
    A host's mobiledeploy.toml may name its lab (then ADDRESS, --certs, and sweep's --lab and --lab-certs may be
    left out; `sweep --lab ''` sweeps on this host only):
      [lab]
      scheduler = "tls://labhost:8786"
      certs = "lab-certs/alice"
    """


@lab.command("certs")
@click.option("--out", default="lab-certs", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the lab's CA (OUT/ca: keep it off the lab's hosts) and one folder per party.")
@click.option("--scheduler", default=None, metavar="HOST", help="The scheduler's host name.")
@click.option("--workers", default=None, metavar="HOSTS", help="Comma list of worker host names.")
@click.option("--clients", default=None, metavar="NAMES", help="Comma list of client names (people, CI).")
@json_option('keys "out", "ca", "new_ca", "written": [{"name", "role", "folder"}], "kept"')
def certs(out, scheduler, workers, clients, as_json):
    """Write the lab's own CA and a certificate per scheduler, worker and client (keys 0600).

    Run again with the same --out to add parties: the existing CA signs them, existing ones are kept. Copy
    OUT/NAME to host NAME only; OUT/ca/ca-key.pem admits anyone to the lab: keep it offline.
    """
    from ..lab import certs as certs_mod

    result = certs_mod.make(out, scheduler, _names(workers), _names(clients))
    if as_json:
        emit_json(result)
        return
    click.echo(f"lab CA: {result['ca']}" + (" (new)" if result["new_ca"] else " (existing)"))
    for w in result["written"]:
        click.echo(f"  {w['role']:9} {w['name']}: {w['folder']}")
    for name in result["kept"]:
        click.echo(f"  kept      {name} (has a certificate already)")
    click.echo("copy each party's folder to its host only; keep the ca folder offline")


@lab.command("scheduler")
@click.option("--certs", type=click.Path(file_okay=False), default=None, help=CERTS_HELP)
@click.option("--listen", default="tls://127.0.0.1:8786", show_default=True,
              help="Address to listen on: tls://0.0.0.0:8786 for a lab over the network; tcp:// on loopback only.")
def scheduler(certs, listen):
    """Run the lab's Dask scheduler (until Ctrl-C or SIGTERM). Its dashboard is off: it would be a port without TLS."""
    from ..lab import serve

    serve.scheduler(listen, certs, on_ready=lambda addr: click.echo(f"lab scheduler: listening on {addr}"))


@lab.command("worker")
@click.argument("address", required=False)
@click.option("--certs", type=click.Path(file_okay=False), default=None, help=CERTS_HELP)
@click.option("--name", default=None, help="This host's name in the lab (default: its certificate's name).")
@click.option("--devices", "only", default=None, metavar="LIST",
              help="Serve only these of this host's devices (default: every device in its devices.toml and its "
                   "own CPU as HOST-local).")
@click.option("--no-local", is_flag=True, help="Do not serve this host's own CPU.")
def worker(address, certs, name, only, no_local):
    """Join the lab at ADDRESS, serving this host's devices (until Ctrl-C or SIGTERM).

    ADDRESS: the lab's scheduler, tls://HOST:8786 (default: scheduler under [lab] in mobiledeploy.toml).

    Each device is one Dask resource with a count of 1: one bench at a time on it, lab-wide. A worker whose
    device name another worker already serves is refused.
    """
    from ..lab import serve

    def ready(addr, facts):
        roles = ([f"serving {', '.join(sorted(facts.devices))}"] if facts.devices else []) + \
            (["exporting (TensorFlow)"] if facts.can_export else [])
        click.echo(f"lab worker {facts.host}: {' and '.join(roles)} at {addr}")

    serve.worker(_address(address), certs, name, _names(only) if only else None, not no_local, on_ready=ready)


@lab.command("status")
@click.argument("address", required=False)
@click.option("--certs", type=click.Path(file_okay=False), default=None, help=CERTS_HELP)
@json_option('keys "scheduler": {"address", "host", "version", "record_format"}, "workers": [{"address", "host", '
             '"version", "can_export", "export" (busy, idle or null), "devices": [{"name", "own_name", "state"}]}]')
def status(address, certs, as_json):
    """The lab's scheduler, its workers and their devices, each busy or idle.

    A worker with TensorFlow (can_export) takes a sweep's exports, one at a time (export: busy or idle); one
    without it serves its devices all the same.

    ADDRESS: the lab's scheduler, tls://HOST:8786 (default: scheduler under [lab] in mobiledeploy.toml).
    """
    from ..lab.client import Lab

    with Lab(_address(address), certs) as connected:
        doc = connected.status()
    if as_json:
        emit_json(doc)
        return
    s = doc["scheduler"]
    click.echo(f"scheduler {s['host']} at {s['address']} (mobiledeploy {s['version']})")
    if not doc["workers"]:
        click.echo("no worker has joined: run mobiledeploy lab worker on each host with devices")
    for w in doc["workers"]:
        click.echo(f"worker {w['host']} at {w['address']}" + (f" (exports: {w['export']})" if w["can_export"]
                                                               else " (no TensorFlow: exports elsewhere)"))
        for d in w["devices"]:
            own = f" ({d['own_name']} there)" if d["own_name"] != d["name"] else ""
            click.echo(f"  {d['name']}{own}: {d['state']}")
