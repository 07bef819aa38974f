"""`mobiledeploy bench` and `mobiledeploy devices`: latency on the device that matters."""
from __future__ import annotations

from pathlib import Path

import click

from ..bench.settings import DEFAULTS
from .. import api
from .common import emit_json
from .options import bench_options, insecure_option, json_option


@click.command()
@click.argument("artifact", required=False, type=click.Path())
@click.option("--device", default="local", show_default=True, help="Device name (see mobiledeploy devices list).")
@click.option("--file", "files", multiple=True,
              help="Only these model files (repeatable; default: every file the device can run).")
@bench_options
@click.option("--cpu-mask", default=None, metavar="HEX", help="Cores to run on, e.g. f0 for cores 4-7.")
@click.option("--cooldown", type=click.FloatRange(min=0, max=3600), default=DEFAULTS.cooldown,
              help="Seconds to sleep between runs.")
@insecure_option
@click.option("--use-gpu", is_flag=True, help="adb: benchmark_model with the GPU delegate.")
@click.option("--use-nnapi", is_flag=True, help="adb: benchmark_model with the NNAPI delegate.")
@click.option("--op-profiling", is_flag=True, help="adb: per-op timing table (--enable_op_profiling).")
@click.option("--benchmark-binary", type=click.Path(), help="adb: local benchmark_model (overrides the device's).")
@click.option("--history", is_flag=True, help="Show past results side by side instead of measuring.")
@click.option("--plot", type=click.Path(), default=None,
              help="With --history: also draw latency against multiply-adds into this PNG file.")
@json_option('keys "device", "artifact", "results": [{"file", "median_ms", "p90_ms", "std_ms", "cv", "runs", '
             '"model", "settings", ...}], "errors"; with --history: "results" and "between_runs" (per device: '
             '"sd_pct", "files", "pairs")')
def bench(artifact, device, files, threads, runs, warmup, processes, ci_width, max_seconds, confidence, strict, cpu_mask,
          cooldown, insecure, use_gpu, use_nnapi, op_profiling, benchmark_binary, history, plot, as_json):
    """Measure inference latency of ARTIFACT's files on a device (default ARTIFACT: newest in models/).

    The same runner runs locally (in a subprocess), on boards over SSH and, through TensorFlow's
    benchmark_model, on Android phones over adb. Results are kept; --history shows them.

    \b
    Examples:
      mobiledeploy bench models/mobilenet_v1_0.5_128 --device local --threads 2
      mobiledeploy bench --device pixel
    """
    from ..errors import MobiledeployError
    from ..progress import bar

    if history:
        rows = api.history(artifact, None if device == "local" else device)
        if plot:
            from ..bench.plot import latency_plot

            click.echo(f"plot: {latency_plot(rows, Path(plot))}", err=True)
        from ..bench.drift import between_runs

        drifts = [d for d in (between_runs(rows, name) for name in dict.fromkeys(r.device for r in rows)) if d]
        if as_json:
            emit_json({"results": [r.to_dict() for r in rows], "between_runs": [d.to_dict() for d in drifts]})
        else:
            _table(rows, "bench history", history=True)
            for d in drifts:
                click.echo(d.text())
        return
    from ..artifact.bundle import Artifact
    from ..bench.measure import latest_artifact

    path = Path(artifact) if artifact else latest_artifact()
    count = len(files) or len(Artifact.load(path).manifest.files)
    with bar(f"benchmarking on {device}", count, as_json) as advance:
        result = api.bench(path, device, files, threads=threads, runs=runs, warmup=warmup, processes=processes,
                           ci_width=ci_width, max_seconds=max_seconds, confidence=confidence, strict=strict,
                           cpu_mask=cpu_mask,
                           cooldown=cooldown, delegate="gpu" if use_gpu else "nnapi" if use_nnapi else None,
                           op_profiling=op_profiling, benchmark_binary=benchmark_binary, insecure=insecure,
                           progress=advance)
    if as_json:
        emit_json(result.to_dict())
    else:
        _table(result.records, f"{path} on {device}")
        for r in result.records:
            if r.protocol.get("verdict") == "unstable":
                click.echo(f"warning: {r.file}: unstable: {r.protocol.get('verdict_reason')}", err=True)
        for line in result.errors:
            click.echo(f"warning: {line}", err=True)
    if result.errors:
        raise MobiledeployError(f"{len(result.errors)} of {len(result.errors) + len(result.records)} files failed "
                                f"({result.errors[0]}); the others are stored")


def _table(rows, title, history=False):
    from rich.table import Table

    from ..progress import out as console

    table = Table(title=title)
    cols = (["time", "device", "artifact"] if history else []) + \
        ["file", "thr", "median ms", "p90 ms (95% CI)", "proc", "CV", "runtime", "flags"]
    for col in cols:
        table.add_column(col, justify="right" if "ms" in col or col in ("CV", "thr") else "left",
                         no_wrap=col != "flags")
    for r in rows:
        flags = [f for f, on in (("unstable", r.unstable), ("throttled", r.throttled),
                                 ("no-xnnpack", r.format == "tflite" and not r.facts.get("xnnpack"))) if on]
        cells = [r.time[5:16].replace("T", " "), r.device, r.artifact_name] if history else []
        p90 = f"{r.p90_ms:.2f}" if r.p90_ms is not None else "-"
        if r.p90_interval:
            p90 += f" [{r.p90_interval[0]:.2f}, {r.p90_interval[1]:.2f}]"
        cells += [r.file, str(r.threads), f"{r.median_ms:.2f}", p90, str(r.protocol.get("processes", 1)), f"{r.cv:.1%}",
                  f"{r.facts.get('runtime')} {r.facts.get('runtime_version')}", " ".join(flags)]
        table.add_row(*cells)
    console.print(table)


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
@click.option("--connect-timeout", type=click.FloatRange(0.1, 600), metavar="SECONDS",
              help="ssh: wait this long for the board to connect and answer SSH (default 10).")
@click.option("--keepalive", type=click.FloatRange(0.1, 3600), metavar="SECONDS",
              help="ssh: seconds between keepalive requests during a run (default 5).")
@click.option("--dead-timeout", type=click.FloatRange(0.5, 3600), metavar="SECONDS",
              help="ssh: give up on a board that has not answered for this long (default 30).")
@click.option("--timeout", "adb_timeout", type=click.FloatRange(1, 86400), metavar="SECONDS",
              help="adb: longest wait for one adb command, e.g. a whole benchmark_model run (default 600).")
def devices_add(name, ssh_spec, serial, key, known_hosts, python, workdir, insecure, benchmark_binary,
                connect_timeout, keepalive, dead_timeout, adb_timeout):
    """Add or replace device NAME: --ssh USER@HOST[:PORT] or --adb SERIAL."""
    from ..bench import devices as dev
    from ..errors import MobiledeployError

    if bool(ssh_spec) == bool(serial):
        raise MobiledeployError("give exactly one of --ssh USER@HOST[:PORT] or --adb SERIAL")
    ssh_only = {"--key": key, "--known-hosts": known_hosts, "--python": python, "--workdir": workdir,
                "--insecure": insecure, "--connect-timeout": connect_timeout, "--keepalive": keepalive,
                "--dead-timeout": dead_timeout}
    adb_only = {"--benchmark-binary": benchmark_binary, "--timeout": adb_timeout}
    wrong = [k for k, v in (adb_only if ssh_spec else ssh_only).items() if v]
    if wrong:
        raise MobiledeployError(f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} for "
                                f"{'adb' if ssh_spec else 'ssh'} devices: drop {'it' if len(wrong) == 1 else 'them'}")
    if ssh_spec:
        entry = {"kind": "ssh", **dev.parse_ssh(ssh_spec)}
        for k, v in (("key", key), ("known_hosts", known_hosts), ("python", python), ("workdir", workdir),
                     ("connect_timeout", connect_timeout), ("keepalive", keepalive), ("dead_timeout", dead_timeout)):
            if v:
                entry[k] = str(Path(v).expanduser().resolve()) if k in ("key", "known_hosts") else v
        if insecure:
            entry["insecure"] = True
    else:
        entry = {"kind": "adb", "serial": serial}
        if benchmark_binary:
            entry["benchmark_binary"] = str(Path(benchmark_binary).resolve())
        if adb_timeout:
            entry["timeout"] = adb_timeout
    dev.add(name, entry)
    click.echo(f"added {name} to {dev.config_path()}; check it with: mobiledeploy devices check {name}")


@devices.command("list")
@json_option('key "devices": {name: {"kind", ...}}')
def devices_list(as_json):
    """List configured devices."""
    from ..bench import devices as dev

    entries = dev.load()
    if as_json:
        emit_json({"devices": entries})
        return
    for name, e in entries.items():
        where = {"local": "this machine", "ssh": f"{e.get('user')}@{e.get('host')}:{e.get('port', 22)}",
                 "adb": f"adb serial {e.get('serial')}"}.get(e.get("kind"), "?")
        click.echo(f"{name:<16} {e.get('kind'):<6} {where}")


@devices.command("remove")
@click.argument("name")
def devices_remove(name):
    """Remove device NAME."""
    from ..bench import devices as dev

    dev.remove(name)
    click.echo(f"removed {name}")


@devices.command("check")
@click.argument("name")
@insecure_option
@json_option('keys "device", "reachable", "machine", "cores", "tflite_runtime", ...')
def devices_check(name, insecure, as_json):
    """Reach device NAME and report architecture, CPU, runtime, free space, temperature, governor."""
    from ..bench import devices as dev
    from ..bench.targets import open_target

    target = open_target(name, dev.get(name), insecure)
    try:
        info = {"device": name, "reachable": True, **target.probe()}
    finally:
        target.close()
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
