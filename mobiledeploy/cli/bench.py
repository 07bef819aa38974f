"""`mobiledeploy bench`: latency on the device that matters, and the history of what was measured."""
from __future__ import annotations

from pathlib import Path

import click

from ..bench.settings import DEFAULTS
from .. import api
from .common import emit_csv, emit_json
from .options import bench_options, insecure_option, json_option


@click.command()
@click.argument("artifact", required=False, type=click.Path())
@click.option("--device", default="local", show_default=True,
              help="Device name (see mobiledeploy devices list); with --history, `all` shows every device.")
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
@click.option("--csv", "as_csv", is_flag=True,
              help="Print the table as CSV on stdout (one row per result: file, threads, the median and p90 with "
                   "their intervals and confidence, processes, samples, CV, verdict, runtime).")
@json_option('keys "device", "artifact", "results": [{"record_format", "device", "file", "model", "settings", '
             '"measurement": {"median": {"ms", "low", "high", "confidence"}, "p90", "samples", "processes", '
             '"verdict", "quietness", ...}, "device_facts", ...}], "errors"; with --history: "results" and '
             '"between_runs" (per device: "sd_pct", "files", "pairs")')
def bench(artifact, device, files, threads, runs, warmup, processes, ci_width, max_seconds, confidence, strict, cpu_mask,
          cooldown, insecure, use_gpu, use_nnapi, op_profiling, benchmark_binary, history, plot, as_csv, as_json):
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
        past = api.history(artifact, None if device == "all" else device)
        if plot:
            from ..bench.plot import latency_plot

            click.echo(f"plot: {latency_plot(past.records, Path(plot))}", err=True)
        if as_json:
            emit_json(past.to_dict())
        elif as_csv:
            emit_csv([_csv_row(r) for r in past.records])
        else:
            _table(past.records, "bench history", history=True)
            for d in past.between_runs:
                click.echo(d.text())
        return
    from ..artifact.bundle import Artifact
    from ..bench.session import latest_artifact

    path = Path(artifact) if artifact else latest_artifact()
    count = len(files) or len(Artifact.load(path).manifest.files)
    with bar(f"benchmarking on {device}", count, as_json or as_csv) as advance:
        result = api.bench(path, device, files, threads=threads, runs=runs, warmup=warmup, processes=processes,
                           ci_width=ci_width, max_seconds=max_seconds, confidence=confidence, strict=strict,
                           cpu_mask=cpu_mask,
                           cooldown=cooldown, delegate="gpu" if use_gpu else "nnapi" if use_nnapi else None,
                           op_profiling=op_profiling, benchmark_binary=benchmark_binary, insecure=insecure,
                           progress=advance)
    if as_json:
        emit_json(result.to_dict())
    elif as_csv:
        emit_csv([_csv_row(r) for r in result.records])
    else:
        _table(result.records, f"{path} on {device}")
        for r in result.records:
            if r.unstable:
                click.echo(f"warning: {r.file}: unstable: {r.measurement.verdict.reason}", err=True)
        for line in result.errors:
            click.echo(f"warning: {line}", err=True)
    if result.errors:
        stored = "the others are stored" if result.records else "none was stored"
        raise MobiledeployError(f"{len(result.errors)} of {len(result.errors) + len(result.records)} files failed "
                                f"({result.errors[0]}); {stored}")


def _csv_row(r) -> dict:
    """One result as a flat row (what the table shows, every figure whole)."""
    m, p90 = r.measurement, r.measurement.p90
    return {"time": r.time, "device": r.device, "artifact": r.artifact, "file": r.file, "threads": r.threads,
            "median_ms": m.median.value, "median_low": m.median.low, "median_high": m.median.high,
            "p90_ms": p90.value if p90 else None, "p90_low": p90.low if p90 else None,
            "p90_high": p90.high if p90 else None, "confidence": m.confidence, "processes": m.processes,
            "samples": m.samples, "cv": m.cv, "verdict": m.verdict.word, "noise": r.noise,
            "runtime": r.device_facts.runtime, "runtime_version": r.device_facts.runtime_version}


def _p90_header(rows) -> str:
    from ..bench.measurement import confidences_text

    c = confidences_text(r.measurement.p90 for r in rows)
    return f"p90 ms ({c} CI)" if c else "p90 ms"


def _table(rows, title, history=False):
    from rich.table import Table

    from ..progress import out as console

    table = Table(title=title)
    cols = (["time", "device", "artifact"] if history else []) + \
        ["file", "thr", "median ms", _p90_header(rows), "proc", "CV", "runtime", "flags"]
    for col in cols:
        table.add_column(col, justify="right" if "ms" in col or col in ("CV", "thr", "proc") else "left",
                         no_wrap=col != "flags")
    for r in rows:
        m, facts = r.measurement, r.device_facts
        flags = [f for f, on in (("unstable", r.unstable), ("throttled", r.throttled),
                                 ("no-xnnpack", r.format == "tflite" and not facts.xnnpack)) if on]
        cells = [r.time[5:16].replace("T", " "), r.device, r.artifact_name] if history else []
        p90 = "-" if m.p90 is None else f"{m.p90.value:.2f}" + (f" [{m.p90.low:.2f}, {m.p90.high:.2f}]"
                                                                  if m.p90.interval else "")
        cells += [r.file, str(r.threads), f"{r.median_ms:.2f}", p90, str(m.processes), f"{m.cv:.1%}",
                  f"{facts.runtime} {facts.runtime_version}", " ".join(flags)]
        table.add_row(*cells)
    console.print(table)
