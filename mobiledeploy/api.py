"""mobiledeploy as a Python library: the same typed records and code paths as the command line.

    import mobiledeploy.api as md

    result = md.export(alpha=0.5, resolution=128, int8=True)          # ExportResult
    clf = md.load(result.artifact)                                    # a Classifier of the default file
    print(clf.predict("photo.jpg")[0].label)
    bench = md.bench(result.artifact, device="local", runs=100)       # Outcome: BenchRecords, errors
    sweep = md.sweep(alphas=[0.25, 0.5], resolutions=[128, 160])      # SweepResult: report rows, plot
    choice = md.pick(device="local", budget_ms=5)                     # PickResult (NothingFits if none)

Every function checks its arguments as the CLI does and raises MobiledeployError with the same one-line
message; the CLI (mobiledeploy/cli) is a thin layer that parses, calls these, and prints.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from .bench.settings import DEFAULTS
from .errors import MobiledeployError
from .export.options import EXPORT_DEFAULTS as XD
from .model.families import DEFAULT as DEFAULT_ARCH
from .sweep.options import SWEEP_DEFAULTS as SD
from .export.formats import CALIB_METHODS, FORMATS, IO_TYPES, SWEEP_PRECISIONS
from .runtime.classifier import TOP_K

QUANT_NOISE_SEED = 0   # quant-report without --data: the same noise every time


def _alpha_list(values) -> list[float]:
    from .model.architecture import check_alpha
    from .sweep.grid import parse_alphas

    return parse_alphas(values) if isinstance(values, str) else sorted({check_alpha(v) for v in _sequence(values)})


def _resolution_list(values) -> list[int]:
    from .model.architecture import check_resolution
    from .sweep.grid import parse_resolutions

    return parse_resolutions(values) if isinstance(values, str) else sorted({check_resolution(v)
                                                                            for v in _sequence(values)})


def _sequence(values) -> list:
    """A list from a list, tuple or set (a bare number is one item), else one error line naming the type."""
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        return [values]
    if not isinstance(values, (list, tuple, set, frozenset)):
        raise MobiledeployError(f"expected a list or a comma-separated text, got {type(values).__name__}")
    return list(values)


def _text_list(values) -> str:
    return values if isinstance(values, str) else ",".join(str(v) for v in values)


def export(alpha: float = XD.alpha, resolution: int = XD.resolution, *, int8: bool = False, formats="tflite,onnx",
           precisions=None, weights: str = XD.weights, calib=None, calib_count: int = XD.calib_count,
           calib_method: str = XD.calib_method, verify=None, verify_count: int = XD.verify_count, io: str = XD.io,
           labels=None, keep_background: bool = XD.background, out=XD.out, force: bool = False,
           fallback_float: int = XD.fallback_float, bias_correction: bool = False, quiet: bool = False,
           arch=DEFAULT_ARCH):
    """Export one verified artifact (TFLite/ONNX files, labels.txt, manifest.json); returns an ExportResult.

    arch: the model family, "mobilenet_v1" or "mobilenet_v2" (or a model.families.Family)."""
    from .choices import choose
    from .export.formats import select
    from .export.pipeline import ExportOptions, export as run_export
    from .model.architecture import check_alpha, check_resolution
    from .model.families import family

    kinds = select(_text_list(formats), _text_list(precisions) if precisions else None, int8)
    return run_export(ExportOptions(
        alpha=check_alpha(alpha), resolution=check_resolution(resolution), kinds=kinds, weights=str(weights),
        arch=family(getattr(arch, "name", arch)).name,
        calib=str(calib) if calib else None, calib_count=int(calib_count),
        calib_method=choose(calib_method, CALIB_METHODS, "calibration method", "--calib-method"),
        verify_dir=str(verify) if verify else None, verify_count=int(verify_count),
        io=choose(io, IO_TYPES, "input/output type", "--io"), out=str(out), force=force,
        labels=str(labels) if labels else None, background=keep_background, quiet=quiet,
        fallback_float=int(fallback_float), bias_correction=bias_correction))


def load(artifact, file: str | None = None, threads: int | None = None):
    """A Classifier for one file of an artifact (default: the manifest's default file, int8 TFLite first)."""
    from .runtime.classifier import Classifier

    return Classifier(artifact, file, threads)


def predict(artifact, images: Iterable, file: str | None = None, top_k: int = TOP_K, threads: int | None = None):
    """(classifier, [(image, [Prediction])]): the top-k classes of each image file."""
    from .runtime.images import load_rgb

    clf = load(artifact, file, threads)
    return clf, [(image, clf.classify(load_rgb(image), top_k)) for image in images]


def bench(artifact=None, device: str = "local", files: Iterable[str] = (), *, threads: int = DEFAULTS.threads,
          runs: int = DEFAULTS.runs, warmup: int = DEFAULTS.warmup, processes: int = DEFAULTS.processes,
          ci_width: float = DEFAULTS.ci_width, max_seconds: float = DEFAULTS.max_seconds,
          confidence: float = DEFAULTS.confidence, strict: bool = False, cpu_mask: str | None = None,
          cooldown: float = 0.0, delegate: str | None = None, op_profiling: bool = False,
          benchmark_binary=None, insecure: bool = False, progress=None):
    """Measure an artifact's files on a device (default: the newest artifact in models/); an Outcome of records.

    Each result is stored in the results store as it completes; a file that fails is named in `errors`.
    """
    from .bench.session import bench_files, latest_artifact
    from .bench.settings import BenchSettings

    settings = BenchSettings(threads=threads, runs=runs, warmup=warmup, processes=processes, ci_width=ci_width,
                             max_seconds=max_seconds, confidence=confidence, strict=strict, cpu_mask=cpu_mask,
                             cooldown=float(cooldown),
                             delegate=delegate, op_profiling=op_profiling,
                             benchmark_binary=str(Path(benchmark_binary).resolve()) if benchmark_binary else None)
    if isinstance(files, str):
        files = [files]
    path = Path(artifact) if artifact else latest_artifact()
    names = list(dict.fromkeys(files))
    outcome = bench_files(device, [(path, n) for n in names] or [(path, None)], settings, insecure, progress)
    if len(names) == 1 and outcome.errors:
        raise MobiledeployError(outcome.errors[0].split(": ", 1)[1])
    return outcome


def history(artifact=None, device: str | None = None):
    """Stored bench records, oldest first, optionally of one artifact folder and one device (None: every
    device), with each device's drift between runs: a History (records, between_runs)."""
    from .bench import store
    from .bench.drift import History, between_runs

    folder = Path(artifact).resolve() if artifact else None
    records = [r for r in store.history() if (folder is None or Path(r.artifact).resolve() == folder)
               and (device is None or r.device == device)]
    drifts = [d for d in (between_runs(records, name) for name in dict.fromkeys(r.device for r in records)) if d]
    return History(records, drifts)


def sweep(alphas=tuple(SD.alphas), resolutions=tuple(SD.resolutions), precisions=tuple(SD.precisions),
          devices=tuple(SD.devices), *, weights_dir=None, data=None, wnids=None, calib=None, calib_count: int = XD.calib_count,
          threads: int = DEFAULTS.threads, runs: int = DEFAULTS.runs, warmup: int = DEFAULTS.warmup,
          processes: int = DEFAULTS.processes, ci_width: float = DEFAULTS.ci_width,
          max_seconds: float = DEFAULTS.max_seconds, confidence: float = DEFAULTS.confidence, strict: bool = False,
          jobs: int = SD.jobs,
          measure: int | None = None, budget_ms: float | None = None, out=SD.out, plot=None,
          report_only: bool = False, insecure: bool = False, log=None, archs=DEFAULT_ARCH, again: bool = False):
    """Export, bench and evaluate every family x alpha x resolution x precision; a SweepResult (rows, fronts,
    plot). archs: "mobilenet_v1", "mobilenet_v2" or a comma list / sequence of both."""
    from .bench import devices as device_config
    from .bench.settings import BenchSettings
    from .sweep import grid
    from .sweep.pick import check_budget
    from .sweep.plan import sweep as run_sweep
    from .sweep.options import SweepOptions
    from .model.families import parse_archs

    families = [f.name for f in parse_archs(_text_list(archs))]
    names = grid.parse_devices(_text_list(devices), device_config.load())
    for flag, value, kind in (("--data", data, "dir"), ("--calib", calib, "dir"), ("--wnids", wnids, "file")):
        if value and not (Path(value).is_dir() if kind == "dir" else Path(value).is_file()):
            raise MobiledeployError(f"{flag} {value} is not a {'folder' if kind == 'dir' else 'file'}")
    if wnids and not data:
        raise MobiledeployError("--wnids needs --data (the labelled images it names)")
    if budget_ms is not None:
        check_budget(budget_ms)
    if again and report_only:
        raise MobiledeployError("--again measures every file and --report measures none: give one of them")
    # absolute: results name their artifact, and pick prints a path that works from any folder
    opts = SweepOptions(_alpha_list(alphas), _resolution_list(resolutions), grid.parse_precisions(_text_list(precisions)),
                        names, Path(out).resolve(), str(weights_dir) if weights_dir else None,
                        str(data) if data else None, str(wnids) if wnids else None, str(calib) if calib else None,
                        int(calib_count), BenchSettings(threads=threads, runs=runs, warmup=warmup, processes=processes,
                                                        ci_width=ci_width, max_seconds=max_seconds,
                                                        confidence=confidence, strict=strict), int(jobs), insecure,
                        archs=families, again=bool(again))
    return run_sweep(opts, measure, budget_ms, Path(plot) if plot else Path(out) / "sweep.png", report_only, log)


def pick(device: str, budget_ms: float, min_top1: float | None = None, precision: str | None = None,
         threads: int | None = None, refine: int = 0, log=None):
    """The most accurate measured variant whose p90 on `device` fits the budget: a PickResult.

    `refine`: up to this many rounds of measuring the chosen variant and its contenders again while the answer
    is undecided (`result.decided`). Raises mobiledeploy.outcome.NothingFits when nothing fits (exit code 3).
    """
    from .choices import choose
    from .sweep.pick import decide

    prec = choose(precision, SWEEP_PRECISIONS, "precision", "--precision") if precision else None
    return decide(device, budget_ms, min_top1, prec, threads, refine, log)


def quant_report(artifact, data=None, count: int = 50, plot_path=None) -> dict:
    """Per-layer error of an artifact's int8 activations against its float files (TFLite and ONNX side by side),
    on images from `data` (default: uniform noise); with `plot_path`, a PNG of the error by layer depth."""
    import logging

    import numpy as np

    from .artifact.bundle import Artifact
    from .errors import MobiledeployError
    from .export import quant_debug
    from .fsutil import check_output

    art = Artifact.load(artifact)
    pairs = {}
    for fmt in ("tflite", "onnx"):
        if any(e.format == fmt and e.precision == "int8" for e in art.manifest.files):
            pairs[fmt] = (art.path(art.manifest.file(fmt, "fp32")), art.path(art.manifest.file(fmt, "int8")))
    if not pairs:
        raise MobiledeployError(f"{art.folder} has no int8 file: export it with --int8")
    if plot_path and not Path(plot_path).resolve().parent.is_dir():
        raise MobiledeployError(f"cannot write the plot {plot_path}: its folder does not exist")
    if plot_path:  # before the work: a FIFO or a device there is refused, not replaced
        check_output(plot_path, "--plot")
    spec = art.manifest.input
    if data:
        from .export.calibration import read_images
        from .runtime.images import find_images

        paths = find_images(Path(data))[:count]
        if not paths:
            raise MobiledeployError(f"no images (jpg, png, bmp) in {data}")
        inputs = read_images(paths, spec).inputs
        if not len(inputs):
            raise MobiledeployError(f"no readable image in {data}")
        source = {"data": str(data), "count": int(len(inputs))}
    else:
        inputs = np.random.default_rng(QUANT_NOISE_SEED).uniform(-1, 1, (count, *spec.shape[1:])).astype(np.float32)
        source = {"data": "uniform noise", "count": count}
        logging.getLogger("mobiledeploy").warning("no --data: running uniform noise; real images give the errors "
                                                  "that matter")
    from .runtime.session import Session

    for files in pairs.values():  # the loader predict, eval and bench use: a file it refuses is one line here too
        for path in files:
            Session(path)
    result = quant_debug.report(pairs.get("tflite"), pairs.get("onnx"), inputs)
    result = {"artifact": str(art.folder), "inputs": source, **result,
              "calibration": art.manifest.calibration.get("method")}
    if plot_path:
        quant_debug.plot(result, Path(plot_path), f"{art.folder.name}: int8 activations against float "
                                                  f"({source['count']} inputs from {source['data']})")
        result["plot"] = str(plot_path)
    return result


def evaluate(artifact, data, wnids=None, files: Iterable[str] = (), keras: bool = True, progress=None) -> dict:
    """Top-1/top-5 of each file of an artifact (and of the float Keras model) on labelled images."""
    from .artifact.bundle import Artifact
    from .eval import evaluate as run_eval, read_wnids, select_entries

    art = Artifact.load(artifact)
    select_entries(art, list(files))  # a file the artifact lacks fails before any work
    wnid_list = read_wnids(Path(wnids), art.manifest.model.classes) if wnids else None
    return run_eval(art, Path(data), wnid_list, list(files), keras, progress)


__all__ = ["export", "load", "predict", "bench", "history", "sweep", "pick", "evaluate", "quant_report", "FORMATS"]
