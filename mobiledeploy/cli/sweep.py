"""`mobiledeploy sweep` and `mobiledeploy pick`: which alpha, resolution and precision fit my device."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import emit_json, user_errors

NOTHING_FITS = 3   # pick's answer "no variant fits": not a failure (1) nor a user error (2); scripts test for it


def _grid(alphas, res, precision):
    from ..sweep import grid

    return grid.parse_alphas(alphas), grid.parse_resolutions(res), grid.parse_precisions(precision)


def _check_inputs(data, wnids, calib):
    from ..errors import MobiledeployError

    for flag, value, kind in (("--data", data, "dir"), ("--calib", calib, "dir"), ("--wnids", wnids, "file")):
        if value and not (Path(value).is_dir() if kind == "dir" else Path(value).is_file()):
            raise MobiledeployError(f"{flag} {value} is not a {'folder' if kind == 'dir' else 'file'}")
    if wnids and not data:
        raise MobiledeployError("--wnids needs --data (the labelled images it names)")


def _report_doc(devices, threads, precisions, cells):
    from ..bench import store
    from ..sweep import accuracy, rows

    return rows.build(store.history(), accuracy.load(), devices, threads, precisions, cells)


@click.command()
@click.option("--alphas", default="0.25,0.5,0.75,1.0", show_default=True, help="Comma list of width multipliers.")
@click.option("--res", "res", default="128,160,192,224", show_default=True, help="Comma list of input sides (>= 32).")
@click.option("--precision", default="fp32,int8", show_default=True, help="Comma list of TFLite precisions.")
@click.option("--device", "device_list", default="local", show_default=True,
              help="Comma list of devices; each runs its variants strictly one at a time, devices concurrently.")
@click.option("--weights-dir", type=click.Path(), default=None,
              help="Folder of Google's mobilenet_v1_<alpha>_<res>[_quant].tflite and/or Keras .h5 files; "
                   "variants without one get random weights (latency only).")
@click.option("--data", type=click.Path(), default=None, help="Labelled images: measures top-1 where weights are real.")
@click.option("--wnids", type=click.Path(), default=None, help="WordNet ids, one per class (for --data file names).")
@click.option("--calib", type=click.Path(), default=None, help="Calibration images for int8 (default: data-free).")
@click.option("--calib-count", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--runs", type=click.IntRange(min=2), default=50, show_default=True)
@click.option("--warmup", type=click.IntRange(min=0), default=10, show_default=True)
@click.option("--jobs", type=click.IntRange(min=0), default=0, help="Export processes (default: one per core).")
@click.option("--measure", "measure", type=click.IntRange(min=2), default=None, metavar="K",
              help="Measure K variants spanning the grid and predict the rest (with --budget-ms: then measure "
                   "the predicted best near the budget to confirm).")
@click.option("--budget-ms", type=float, default=None, help="With --measure: the latency budget to confirm near.")
@click.option("--out", default="models/sweep", show_default=True, type=click.Path(),
              help="Folder for the sweep's artifacts (its own: an artifact there built from other inputs is replaced).")
@click.option("--plot", type=click.Path(), default=None, help="PNG of top-1 against p90 (default OUT/sweep.png).")
@click.option("--report", "report_only", is_flag=True, help="Only report stored results for this grid; measure nothing.")
@click.option("--insecure", is_flag=True, help="Accept unknown SSH host keys.")
@click.option("--json", "as_json", is_flag=True, help='One JSON object: "rows", "predictor", "run", "plot".')
@user_errors
def sweep(alphas, res, precision, device_list, weights_dir, data, wnids, calib, calib_count, threads, runs, warmup,
          jobs, measure, budget_ms, out, plot, report_only, insecure, as_json):
    """Export, bench and evaluate MobileNet v1 over alpha x resolution x precision; report the Pareto front.

    Artifacts whose manifest records the same alpha, resolution, weights and calibration are reused;
    results are stored as they arrive, so an interrupted sweep resumes where it stopped.

    \b
    Examples:
      mobiledeploy sweep --device local
      mobiledeploy sweep --alphas 0.25,0.5 --res 128,160 --device rpi4,pixel --weights-dir ~/mobilenets
      mobiledeploy sweep --device rpi4 --measure 6 --budget-ms 30
      mobiledeploy pick --device rpi4 --budget-ms 30
    """
    from ..bench import devices
    from ..errors import MobiledeployError
    from ..sweep import grid, report
    from ..sweep.run import SweepOptions, run

    a, r, p = _grid(alphas, res, precision)
    names = grid.parse_devices(device_list, devices.load())
    _check_inputs(data, wnids, calib)
    if budget_ms is not None and not 0 < budget_ms < float("inf"):
        raise MobiledeployError(f"--budget-ms must be a positive number of milliseconds, got {budget_ms:g}")
    cells = [(x, y) for x in a for y in r]
    # absolute: results name their artifact, and pick prints a path that works from any folder
    opts = SweepOptions(a, r, p, names, Path(out).resolve(), weights_dir, data, wnids, calib, calib_count, threads, runs,
                        warmup, jobs, insecure)
    runs_done = []
    if not report_only:
        log = (lambda line: None) if as_json else None
        try:
            if measure and measure < len(cells):
                opts.cells = grid.spanning(cells, measure)
                runs_done.append(run(opts, log))
                if budget_ms:
                    confirm = _near_budget(_report_doc(names, threads, p, cells), budget_ms)
                    if confirm:
                        opts.cells = confirm
                        runs_done.append(run(opts, log))
            else:
                runs_done.append(run(opts, log))
        except KeyboardInterrupt:
            from ..bench import store

            click.echo(f"interrupted: every result finished so far is kept in {store.path()}; run the same "
                       "command again to resume", err=True)
            sys.exit(130)
    doc = _report_doc(names, threads, p, cells)
    failures = [line for rd in runs_done for line in rd["errors"]]
    if not doc["rows"] and failures:
        raise MobiledeployError(f"{failures[0]}" + (f" (and {len(failures) - 1} more failures)" if len(failures) > 1 else ""))
    if not doc["rows"]:
        raise MobiledeployError("no stored results for this grid on " + ", ".join(names) +
                                ": run the sweep without --report first")
    plot_path = Path(plot) if plot else Path(out) / "sweep.png"
    plot_path.parent.mkdir(parents=True, exist_ok=True)
    report.plot(doc, plot_path)
    doc.update(run=runs_done, plot=str(plot_path))
    if as_json:
        emit_json(doc)
    else:
        report.table(doc, f"sweep: {', '.join(names)}, {threads} thread(s)")
        click.echo(f"plot: {plot_path}")
        for line in failures:
            click.echo(f"warning: {line}", err=True)
    if failures:
        raise MobiledeployError(f"{len(failures)} export(s)/bench(es) failed ({'listed above' if not as_json else 'see run.errors'}"
                                "); the rest is stored: fix and re-run")


def _near_budget(doc: dict, budget_ms: float) -> list[tuple[float, int]]:
    """Cells whose predicted p90 fits the budget and are the most accurate (two per device): measure to confirm."""
    picks = []
    for device in sorted({r["device"] for r in doc["rows"]}):
        predicted = sorted((r for r in doc["rows"] if r["device"] == device and r["latency"] == "predicted"
                            and r["p90_ms"] <= budget_ms), key=lambda r: -(r["top1"] or 0))
        for r in predicted[:2]:
            if (r["alpha"], r["resolution"]) not in picks:
                picks.append((r["alpha"], r["resolution"]))
    return picks


@click.command()
@click.option("--device", required=True, help="Device name the results were measured on.")
@click.option("--budget-ms", type=float, required=True, help="Latency budget: the variant's measured p90 must fit.")
@click.option("--min-top1", type=click.FloatRange(0, 1), default=None, help="Lowest acceptable top-1 (fraction, e.g. 0.6).")
@click.option("--precision", default=None, help="Only fp32 or int8.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Only results measured with N threads.")
@click.option("--json", "as_json", is_flag=True, help='One JSON object: "chosen", "reason", "neighbours", "deploy".')
@user_errors
def pick(device, budget_ms, min_top1, precision, threads, as_json):
    """The most accurate measured variant whose p90 latency on DEVICE fits the budget, and how to deploy it.

    Exit code 3 when nothing fits (one line names the fastest measured variant and its p90).

    Example: mobiledeploy pick --device rpi4 --budget-ms 20 --min-top1 0.6
    """
    from ..bench import devices, store
    from ..errors import MobiledeployError
    from ..sweep import accuracy, front, grid, rows
    from ..sweep.pick import choose, deploy_command

    if not 0 < budget_ms < float("inf"):
        raise MobiledeployError(f"--budget-ms must be a positive number of milliseconds, got {budget_ms:g}")
    kind = devices.get(device).get("kind")
    precs = grid.parse_precisions(precision) if precision else None
    records = store.history()
    doc = rows.build(records, accuracy.load(), [device], threads, precs)
    if not doc["rows"]:
        what = " ".join(x for x in (precision and f"{precision}", threads and f"{threads}-thread") if x)
        raise MobiledeployError(f"no stored {what + ' ' if what else ''}results for {device} in {store.path()}: "
                                f"run mobiledeploy sweep --device {device} first")
    chosen, why = choose(doc["rows"], budget_ms, min_top1)
    if chosen is None:
        if as_json:
            emit_json({"chosen": None, "reason": why})
        else:
            click.echo(why)
        sys.exit(NOTHING_FITS)
    fr = front.pareto([r for r in doc["rows"] if r["threads"] == chosen["threads"]])
    faster, better = front.neighbours(fr, chosen)
    result = {"chosen": chosen, "reason": why, "neighbours": {"faster": faster, "more_accurate": better},
              "artifact": chosen["artifact"], "deploy": deploy_command(chosen, kind), "note": None}
    if chosen.get("weights") == "random":
        # its latency is real but it classifies nothing: say how to get the same shape with real weights
        result["note"] = (f"this artifact has random weights (latency only): before deploying, export it with real "
                          f"weights: mobiledeploy export --alpha {chosen['alpha']:g} --res {chosen['resolution']} "
                          f"--int8 --weights imagenet (or a Google .tflite)")
    if as_json:
        emit_json(result)
        return
    click.echo(f"pick: {chosen['label']} on {device} ({chosen['threads']} thr): p90 {chosen['p90_ms']:.2f} ms "
               f"<= {budget_ms:g} ms, top-1 {_acc(chosen)}")
    click.echo(f"why: {why}" + ("" if chosen["on_front"] else " (not on the front: the front's points are listed)"))
    for name, n in (("faster on the front", faster), ("more accurate on the front", better)):
        if n:
            over = " (over budget)" if n["p90_ms"] > budget_ms else ""
            click.echo(f"  {name}: {n['label']} p90 {n['p90_ms']:.2f} ms{over}, top-1 {_acc(n)}")
    click.echo(f"artifact: {chosen['artifact']} ({chosen['file']})")
    click.echo(f"deploy: {result['deploy']}")
    if result["note"]:
        click.echo(f"note: {result['note']}")


def _acc(r: dict) -> str:
    if r["top1"] is None:
        return "unknown (no real weights, no published number)"
    return f"{r['top1']:.1%} {r['top1_source']}"
