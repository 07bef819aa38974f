"""`mobiledeploy devices`: the devices to measure on (local, boards over SSH, phones over adb)."""
from __future__ import annotations


import click

from ..bench.adb import TIMEOUT as ADB_TIMEOUT
from ..bench.devices import RANGES
from ..bench.ssh_connect import CONNECT_TIMEOUT, DEAD_TIMEOUT, KEEPALIVE
from .common import emit_json
from .options import insecure_option, json_option


@click.group()
def devices():
    """Devices to benchmark on: local (always), boards over SSH, phones over adb."""


@devices.command("add")
@click.argument("name")
@click.option("--ssh", "ssh_spec", metavar="USER@HOST[:PORT]", help="A Linux board reached over SSH.")
@click.option("--adb", "serial", metavar="SERIAL", help="An Android device (serial from `adb devices`).")
@click.option("--key", type=click.Path(), help="SSH private key.")
@click.option("--known-hosts", type=click.Path(), help="known_hosts file (default ~/.ssh/known_hosts).")
@click.option("--python", "python", help="Python on the board (default python3).")
@click.option("--workdir", help="Folder for the per-run temporary folder on the board (default /tmp).")
@click.option("--insecure", is_flag=True,
              help="Never check this board's host key (not recommended; a @revoked key is still refused).")
@click.option("--benchmark-binary", type=click.Path(), help="adb: local path of TensorFlow's benchmark_model.")
@click.option("--connect-timeout", type=click.FloatRange(*RANGES["connect_timeout"]), metavar="SECONDS",
              help=f"ssh: wait this long for the board to connect and answer SSH (default {CONNECT_TIMEOUT:g}).")
@click.option("--keepalive", type=click.FloatRange(*RANGES["keepalive"]), metavar="SECONDS",
              help=f"ssh: seconds between keepalive requests during a run (default {KEEPALIVE:g}).")
@click.option("--dead-timeout", type=click.FloatRange(*RANGES["dead_timeout"]), metavar="SECONDS",
              help=f"ssh: give up on a board that has not answered for this long (default {DEAD_TIMEOUT:g}).")
@click.option("--timeout", "adb_timeout", type=click.FloatRange(*RANGES["timeout"]), metavar="SECONDS",
              help=f"adb: longest wait for one adb command, e.g. a whole benchmark_model run (default {ADB_TIMEOUT:g}).")
def devices_add(name, ssh_spec, serial, key, known_hosts, python, workdir, insecure, benchmark_binary,
                connect_timeout, keepalive, dead_timeout, adb_timeout):
    """Add or replace device NAME: --ssh USER@HOST[:PORT] or --adb SERIAL."""
    from .. import api

    path = api.add_device(name, ssh=ssh_spec, adb=serial, key=key, known_hosts=known_hosts, python=python,
                          workdir=workdir, insecure=insecure, benchmark_binary=benchmark_binary,
                          connect_timeout=connect_timeout, keepalive=keepalive, dead_timeout=dead_timeout,
                          timeout=adb_timeout)
    click.echo(f"added {name} to {path}; check it with: mobiledeploy devices check {name}")


@devices.command("list")
@json_option('key "devices": {name: {"kind", ...}}')
def devices_list(as_json):
    """List configured devices."""
    from .. import api

    entries = api.list_devices()
    if as_json:
        emit_json({"devices": entries})
        return
    for name, e in entries.items():
        host = str(e.get("host"))
        host = f"[{host}]" if ":" in host else host   # an IPv6 address: the port stays readable
        where = {"local": "this machine", "ssh": f"{e.get('user')}@{host}:{e.get('port', 22)}",
                 "adb": f"adb serial {e.get('serial')}"}.get(e.get("kind"), "?")
        click.echo(f"{name:<16} {e.get('kind'):<6} {where}")


@devices.command("remove")
@click.argument("name")
def devices_remove(name):
    """Remove device NAME."""
    from .. import api

    api.remove_device(name)
    click.echo(f"removed {name}")


@devices.command("check")
@click.argument("name")
@insecure_option
@json_option('keys "device", "reachable", "machine", "cores", "tflite_runtime", ...')
def devices_check(name, insecure, as_json):
    """Reach device NAME and report architecture, CPU, runtime, free space, temperature, governor."""
    from .. import api

    info = api.check_device(name, insecure)
    runtime = info.get("tflite_runtime")
    version = info.get("tflite_runtime_version", "")
    if runtime == "tflite-runtime" and str(version).startswith("2.14"):
        info["int8_xnnpack"] = False
        info["note"] = "tflite-runtime 2.14 has no XNNPACK for int8: int8 runs slower than fp32; use ai-edge-litert"
    if as_json:
        emit_json(info)
        return
    for k, v in info.items():
        click.echo(f"{k:<24} {v}")
