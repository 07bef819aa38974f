"""`mobiledeploy sweep` and `mobiledeploy pick`: which alpha, resolution and precision fit my device."""
from __future__ import annotations

import click

from ..bench.measurement import confidences_text
from ..export.formats import SWEEP_PRECISIONS
from ..lab.client import EXPORTS, REJOIN
from ..model.families import FAMILIES
from ..sweep.pick import ACCURACY_SOURCES
from ..sweep.options import SWEEP_DEFAULTS as SD
from .. import api
from .common import emit_csv, emit_json
from .options import (bench_options, calib_count_option, insecure_option, json_option, sweep_precisions_option,
                      threads_option)


@click.command()
@click.option("--arch", "archs", default=",".join(SD.archs), show_default=True, metavar="LIST",
              help=f"Comma list of families ({', '.join(FAMILIES)}): one front across them.")
@click.option("--alphas", default=",".join(f"{a:g}" for a in SD.alphas), show_default=True,
              help="Comma list of width multipliers.")
@click.option("--res", "res", default=",".join(str(r) for r in SD.resolutions), show_default=True,
              help="Comma list of input sides (>= 32).")
@sweep_precisions_option
@click.option("--device", "device_list", default=",".join(SD.devices), show_default=True,
              help="Comma list of devices; each runs its variants strictly one at a time, devices concurrently.")
@click.option("--weights-dir", type=click.Path(), default=None,
              help="Folder of Google's mobilenet_v1|v2_<alpha>_<res>[_quant].tflite, tf2_mobilenet_v2_*_ptq.tflite "
                   "and/or Keras .h5 files, or `cache` (what `mobiledeploy weights` fetched and added); "
                   "variants without one get random weights (latency only).")
@click.option("--data", type=click.Path(), default=None, help="Labelled images: measures top-1 where weights are real.")
@click.option("--wnids", type=click.Path(), default=None, help="WordNet ids, one per class (for --data file names).")
@click.option("--calib", type=click.Path(), default=None, help="Calibration images for int8 (default: data-free).")
@click.option("--holdout", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None, metavar="F",
              help="Split --data itself: a fraction F of its images (chosen by a hash of their names, so the same "
                   "every run) evaluates, the rest calibrates int8 (instead of --calib).")
@calib_count_option
@bench_options(thread_list=True)
@click.option("--jobs", type=click.IntRange(min=0), default=SD.jobs, help="Export processes (default: one per core).")
@click.option("--measure", "measure", type=click.IntRange(min=2), default=None, metavar="K",
              help="Measure K variants spanning the grid and predict the rest (with --budget-ms: then measure "
                   "the predicted best near the budget to confirm).")
@click.option("--budget-ms", type=float, default=None, help="With --measure: the latency budget to confirm near.")
@click.option("--out", default=str(SD.out), show_default=True, type=click.Path(),
              help="Folder for the sweep's artifacts (its own: an artifact there built from other inputs is replaced).")
@click.option("--plot", type=click.Path(), default=None, help="PNG of top-1 against p90 (default OUT/sweep.png).")
@click.option("--report", "report_only", is_flag=True, help="Only report stored results for this grid; measure nothing.")
@click.option("--again", is_flag=True,
              help="Measure every file again, also those with a result stored at the same settings: a second run, "
                   "from which pick and bench --history learn how far the device moves between runs.")
@insecure_option
@click.option("--lab", "lab_address", default=None, metavar="ADDRESS",
              help="Bench on a device lab (tls://HOST:8786, see `mobiledeploy lab`): --device names the lab's devices, "
                   "exports run here, results are stored here naming each worker's host.")
@click.option("--lab-certs", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="This client's certificate folder from `lab certs` (e.g. lab-certs/alice).")
@click.option("--lab-exports", type=click.Choice(EXPORTS), default="auto", show_default=True,
              help="With --lab: where the exports run. lab: on the lab's workers that have TensorFlow, in parallel "
                   "(weights and calibration images are sent to them, the artifacts come back here); here: on this "
                   "machine; auto: the lab when a worker can export, else here.")
@click.option("--lab-rejoin", type=click.FloatRange(0, 3600), default=REJOIN, show_default=True, metavar="SECONDS",
              help="With --lab: how long a device whose worker left the lab (a crash, a restart) waits for a worker to "
                   "serve it again; the files it had not measured then go to that worker. 0: give up at once.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the table's rows as CSV on stdout (the keys of --json's rows).")
@json_option('keys "rows", "predictor", "between_runs", "run", "plot"')
def sweep(archs, alphas, res, precisions, device_list, weights_dir, data, wnids, calib, holdout, calib_count, threads,
          runs, warmup,
          processes, ci_width, max_seconds, confidence, strict, jobs, measure, budget_ms, out, plot, report_only,
          again, insecure, lab_address, lab_certs, lab_exports, lab_rejoin, as_csv, as_json):
    """Export, bench and evaluate MobileNets over family x alpha x resolution x precision; report the Pareto front.

    Artifacts whose manifest records the same alpha, resolution, weights and calibration are reused;
    results are stored as they arrive, so an interrupted sweep resumes where it stopped.

    \b
    Examples:
      mobiledeploy sweep --device local
      mobiledeploy sweep --arch mobilenet_v1,mobilenet_v2 --alphas 0.5,1.0 --res 160,224 --device local
      mobiledeploy sweep --alphas 0.25,0.5 --res 128,160 --device rpi4,pixel --weights-dir ~/mobilenets
      mobiledeploy sweep --device rpi4 --measure 6 --budget-ms 30
      mobiledeploy sweep --device rpi4 --again      # a second run: pick then states the drift between runs
      mobiledeploy sweep --lab tls://labhost:8786 --lab-certs lab-certs/alice --device pixel7,rpi4
      mobiledeploy pick --device rpi4 --budget-ms 30
    """
    from ..errors import MobiledeployError
    from ..sweep import report

    import contextlib

    if lab_certs and not lab_address and click.get_current_context().get_parameter_source("lab_certs") \
            is not click.core.ParameterSource.DEFAULT_MAP:   # [lab] certs in mobiledeploy.toml, `--lab ''`: here
        raise MobiledeployError("--lab-certs goes with --lab ADDRESS (the lab's scheduler)")
    for name, value, default in (("--lab-exports", lab_exports, "auto"), ("--lab-rejoin", lab_rejoin, REJOIN)):
        if value != default and not lab_address:
            raise MobiledeployError(f"{name} goes with --lab ADDRESS (the lab's scheduler)")
    if lab_address:
        from ..lab.client import Lab

        lab = Lab(lab_address, lab_certs, exports=lab_exports, rejoin=lab_rejoin)
    else:
        lab = None
    with lab if lab is not None else contextlib.nullcontext():
        result = api.sweep(alphas, res, precisions, device_list, archs=archs, weights_dir=weights_dir, data=data,
                           wnids=wnids, calib=calib, holdout=holdout, calib_count=calib_count, threads=threads,
                           runs=runs, warmup=warmup, processes=processes, ci_width=ci_width, max_seconds=max_seconds,
                           confidence=confidence, strict=strict, jobs=jobs, measure=measure, budget_ms=budget_ms,
                           out=out, plot=plot, report_only=report_only, again=again, insecure=insecure,
                           log=(lambda line: None) if as_json or as_csv else None, lab=lab)
    if as_json:
        emit_json(result.to_dict())
    elif as_csv:
        emit_csv([r.to_dict() for r in result.report.rows])
    else:
        devices = sorted({r.device for r in result.report.rows})
        counts = sorted({r.threads for r in result.report.rows})
        report.table(result.report, f"sweep: {', '.join(devices)}, {'/'.join(map(str, counts))} thread(s)")
        click.echo(f"plot: {result.plot}")
        for line in result.errors:
            click.echo(f"warning: {line}", err=True)
    if result.errors:
        raise MobiledeployError(f"{len(result.errors)} export(s)/bench(es) failed "
                                f"({'listed above' if not as_json else 'see run.errors'}); the rest is stored: "
                                "fix and re-run")


@click.command()
@click.option("--device", required=True, help="Device name the results were measured on.")
@click.option("--budget-ms", type=float, required=True, help="Latency budget: the variant's measured p90 must fit.")
@click.option("--min-top1", type=click.FloatRange(0, 1), default=None, help="Lowest acceptable top-1 (fraction, e.g. 0.6).")
@click.option("--precision", type=click.Choice(SWEEP_PRECISIONS), default=None,
              help="Only results of this one precision.")
@threads_option(help_text="Only results measured with this many threads")
@click.option("--refine", type=click.IntRange(0, 10), default=0, is_flag=False, flag_value=2, show_default=True,
              help="While the answer is undecided (a variant that would change it fits on its p90 but not on the "
                   "upper bound), measure the chosen one and those contenders again, interleaved, with twice the "
                   "processes and three times the time cap, for up to N rounds (--refine alone: 2).")
@click.option("--accuracy", type=click.Choice(ACCURACY_SOURCES), default="auto", show_default=True,
              help="The one top-1 to rank by: measured here (on --data), published (the papers' checkpoints), or "
                   "auto (measured when any variant has it). Never both on one scale.")
@click.option("--max-int8-drop", type=click.FloatRange(0, 100), default=None, metavar="POINTS",
              help="An int8 variant may lose at most this many top-1 points against its own fp32 file, judged on "
                   "the upper bound of the paired drop measured on the same images (sweep --data).")
@click.option("--within", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Only results of artifacts under DIR (a sweep's --out): another sweep's never stand in.")
@click.option("--real-weights", "real_only", is_flag=True, help="Only results of artifacts with real weights.")
@json_option('"chosen", "reason", "ranked_by", "decided", "tied", "contenders", "noisy", "refined", "neighbours", '
             '"artifact", "deploy", "note", "also_in", "between_runs"')
def pick(device, budget_ms, min_top1, precision, threads, refine, accuracy, max_int8_drop, within, real_only, as_json):
    """The most accurate measured variant whose p90 latency on DEVICE fits the budget, and how to deploy it.

    "Fits" is judged on the upper bound of the p90's interval (at the confidence it was measured with: bench and
    sweep --confidence), and, when the store has seen the device's files in two runs, on where another run's p90
    may land (the device's drift between runs). Accuracy is ranked by one source (--accuracy). Variants that
    cannot be told apart are named as tied, and the fixed rule that broke the tie is stated, so two runs give
    the same answer; a variant that might fit and would change the answer makes it "undecided" (named;
    --refine measures more when a longer run can settle it), and so does a result it rests on that was
    measured while other work used the device's cores.
    Exit code 3 when nothing fits (one line names the fastest measured variant and its p90).

    \b
    Examples:
      mobiledeploy pick --device rpi4 --budget-ms 20 --min-top1 0.6 --refine
      mobiledeploy pick --device rpi4 --budget-ms 15 --max-int8-drop 1 --within models/sweep
    """
    from ..outcome import NothingFits

    log = None if as_json else (lambda line: click.echo(line, err=True))
    try:
        result = api.pick(device, budget_ms, min_top1, precision, threads, refine, log, accuracy=accuracy,
                          max_int8_drop=max_int8_drop, within=within, real_only=real_only)
    except NothingFits as exc:
        if as_json:
            emit_json({"chosen": None, "reason": exc.line, **exc.detail})
            raise NothingFits(exc.line, shown=True, detail=exc.detail) from None
        raise
    if as_json:
        emit_json(result.to_dict())
        return
    chosen = result.chosen
    from ..model.families import family

    click.echo(f"pick: {chosen.label} ({family(chosen.arch).title}) on {device} ({chosen.threads} thr): "
               f"{chosen.p90.text('p90')} <= {budget_ms:g} ms, top-1 {_acc(chosen)}")
    click.echo(f"why: {result.reason}" + (" (not on the front: the front's points are listed)" if chosen.on_front is False else ""))
    for r in result.contenders:
        click.echo(f"  undecided against {r.label}: {r.p90.text('p90')} holds the budget, top-1 {_acc(r)}")
    if result.between_runs:
        click.echo(f"  {result.between_runs.text(chosen.label)}")
    for name, n in (("faster on the front", result.faster), ("more accurate on the front", result.more_accurate)):
        if n:
            over = (" (over budget)" if n.p90_ms > budget_ms else
                    f" (its {confidences_text([n.p90]) or 'upper'} bound {n.p90_high:.2f} ms is over budget)"
                    if n.p90_high > budget_ms else "")
            click.echo(f"  {name}: {n.label} p90 {n.p90_ms:.2f} ms{over}, top-1 {_acc(n)}")
    click.echo(f"artifact: {chosen.artifact} ({chosen.file})")
    click.echo(f"deploy: {result.deploy}")
    if result.note:
        click.echo(f"note: {result.note}")
    if result.also_in:
        shown = ", ".join(result.also_in[:3]) + (f" and {len(result.also_in) - 3} more" if len(result.also_in) > 3 else "")
        click.echo(f"note: {result.chosen.label} was measured from {len(result.also_in) + 1} artifact folders; this "
                   f"answer is {result.chosen.artifact}'s (also: {shown}); pick --within FOLDER answers for one "
                   "sweep's artifacts")


def _acc(r) -> str:
    if r.top1 is None:
        return "unknown (no real weights, no published number)"
    return f"{r.top1:.1%} {r.top1_source}"
