"""`mobiledeploy bench` and `mobiledeploy devices`: latency on the device that matters."""
from __future__ import annotations

from pathlib import Path

import click

from .common import emit_json, json_option, user_errors


@click.command()
@click.argument("artifact", required=False, type=click.Path())
@click.option("--device", default="local", show_default=True, help="Device name (see mobiledeploy devices list).")
@click.option("--file", "files", multiple=True,
              help="Only these model files (repeatable; default: every file the device can run).")
@click.option("--threads", type=click.IntRange(1, 1024), default=1, show_default=True, help="Inference threads (1 to 1024).")
@click.option("--runs", type=click.IntRange(min=2), default=50, show_default=True, help="Measured inferences.")
@click.option("--warmup", type=click.IntRange(min=0), default=10, show_default=True)
@click.option("--cpu-mask", default=None, metavar="HEX", help="Cores to run on, e.g. f0 for cores 4-7.")
@click.option("--cooldown", type=click.FloatRange(min=0), default=0.0, help="Seconds to sleep between runs.")
@click.option("--insecure", is_flag=True,
              help="Accept an unknown SSH host key for this connection only (never written to known_hosts).")
@click.option("--use-gpu", is_flag=True, help="adb: benchmark_model with the GPU delegate.")
@click.option("--use-nnapi", is_flag=True, help="adb: benchmark_model with the NNAPI delegate.")
@click.option("--op-profiling", is_flag=True, help="adb: per-op timing table (--enable_op_profiling).")
@click.option("--benchmark-binary", type=click.Path(), help="adb: local benchmark_model (overrides the device's).")
@click.option("--history", is_flag=True, help="Show past results side by side instead of measuring.")
@click.option("--plot", type=click.Path(), default=None,
              help="With --history: also draw latency against multiply-adds into this PNG file.")
@json_option('keys "device", "artifact", "results": [{"file", "runs", "median_ms", "mean_ms", "p90_ms", '
             '"std_ms", "cv", "model", ...}]; with --history: "results" only')
@user_errors
def bench(artifact, device, files, threads, runs, warmup, cpu_mask, cooldown, insecure, use_gpu, use_nnapi,
          op_profiling, benchmark_binary, history, plot, as_json):
    """Measure inference latency of ARTIFACT's files on a device (default ARTIFACT: newest in models/).

    The same runner runs locally (in a subprocess), on boards over SSH and, through TensorFlow's
    benchmark_model, on Android phones over adb. Results are kept; --history shows them.

    \b
    Examples:
      mobiledeploy bench models/mobilenet_v1_0.5_128 --device local --threads 2
      mobiledeploy bench --device pixel
    """
    from pathlib import Path

    from ..bench import measure, store
    from ..errors import MobiledeployError
    from ..progress import bar

    if history:
        rows = [r for r in store.history() if (not artifact or Path(r["artifact"]) == Path(artifact))
                and (device == "local" or r["device"] == device)]
        if plot:
            from ..report import latency_plot

            click.echo(f"plot: {latency_plot(rows, Path(plot))}", err=True)
        if as_json:
            emit_json({"results": rows})
        else:
            _table(rows, "bench history", history=True)
        return
    if cpu_mask:
        try:
            if int(cpu_mask, 16) <= 0:
                raise ValueError
        except ValueError:
            raise MobiledeployError(f"--cpu-mask takes a hex mask of cores such as f0, got {cpu_mask!r}") from None
    path = Path(artifact) if artifact else measure.latest_artifact()
    settings = {"threads": threads, "runs": runs, "warmup": warmup, "cpu_mask": cpu_mask, "cooldown": cooldown}
    if use_gpu or use_nnapi or op_profiling or benchmark_binary:
        from ..bench import devices as dev

        if dev.get(device).get("kind") != "adb":
            raise MobiledeployError("--use-gpu, --use-nnapi, --op-profiling and --benchmark-binary are for adb devices")
        settings.update(delegate="gpu" if use_gpu else "nnapi" if use_nnapi else None, op_profiling=op_profiling,
                        benchmark_binary=str(Path(benchmark_binary).resolve()) if benchmark_binary else None)
    from ..artifact.bundle import Artifact

    art = Artifact.load(path)
    with bar(f"benchmarking on {device}", len(files) or len(art.manifest.files), as_json) as advance:
        results = measure.run(art, device, list(files), settings, insecure, advance)
    if as_json:
        emit_json({"device": device, "artifact": str(path), "results": results})
        return
    _table(results, f"{path} on {device}")


def _table(rows, title, history=False):
    from rich.table import Table

    from ..progress import out as console

    table = Table(title=title)
    cols = (["time", "device", "artifact"] if history else []) + \
        ["file", "thr", "median ms", "p90 ms", "std ms", "CV", "runtime", "flags"]
    for col in cols:
        table.add_column(col, justify="right" if "ms" in col or col in ("CV", "thr") else "left",
                         no_wrap=col != "flags")
    for r in rows:
        flags = [f for f, on in (("unstable", r.get("unstable")), ("throttled", r.get("throttled")),
                                 ("no-xnnpack", r["format"] == "tflite" and not r.get("xnnpack"))) if on]
        cells = [r["time"][5:16].replace("T", " "), r["device"], r["artifact_name"]] if history else []
        p90 = f"{r['p90_ms']:.2f}" if r.get("p90_ms") is not None else "-"
        cells += [r["file"], str(r["settings"]["threads"]), f"{r['median_ms']:.2f}", p90,
                  f"{r['std_ms']:.2f}", f"{r['cv']:.1%}", f"{r.get('runtime')} {r.get('runtime_version')}",
                  " ".join(flags)]
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
@user_errors
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
@user_errors
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
@user_errors
def devices_remove(name):
    """Remove device NAME."""
    from ..bench import devices as dev

    dev.remove(name)
    click.echo(f"removed {name}")


@devices.command("check")
@click.argument("name")
@click.option("--insecure", is_flag=True,
              help="Accept an unknown SSH host key for this connection only (never written to known_hosts).")
@json_option('keys "device", "reachable", "machine", "cores", "tflite_runtime", ...')
@user_errors
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
