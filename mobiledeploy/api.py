"""mobiledeploy as a Python library: the same typed records and code paths as the command line.

    import mobiledeploy.api as md

    result = md.export(alpha=0.5, resolution=128, int8=True)          # ExportResult
    clf = md.load(result.artifact)                                    # a Classifier of the default file
    print(clf.predict("photo.jpg")[0].label)
    bench = md.bench(result.artifact, device="local", runs=100)       # BenchResult of BenchRecords
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
from .export.calibration import CALIB_COUNT
from .export.formats import CALIB_METHODS, FORMATS, IO_TYPES, SWEEP_PRECISIONS
from .runtime.classifier import TOP_K


def _alpha_list(values) -> list[float]:
    from .choices import checked_list
    from .model.architecture import check_alpha

    if isinstance(values, str):
        return checked_list(values, "--alphas", "0.25,0.5", check_alpha)
    return sorted({check_alpha(v) for v in values})


def _resolution_list(values) -> list[int]:
    from .choices import checked_list
    from .model.architecture import check_resolution

    if isinstance(values, str):
        return checked_list(values, "--res", "128,160", check_resolution)
    return sorted({check_resolution(v) for v in values})


def _text_list(values) -> str:
    return values if isinstance(values, str) else ",".join(str(v) for v in values)


def export(alpha: float = 1.0, resolution: int = 224, *, int8: bool = False, formats="tflite,onnx",
           precisions=None, weights: str = "auto", calib=None, calib_count: int = CALIB_COUNT,
           calib_method: str = "minmax", verify=None, verify_count: int = 50, io: str = "int8", labels=None,
           keep_background: bool = False, out="models", force: bool = False, fallback_float: int = 0,
           bias_correction: bool = False, quiet: bool = False, arch="mobilenet_v1"):
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
    """Measure an artifact's files on a device (default: the newest artifact in models/); a BenchResult.

    Each result is stored in the results store as it completes; a file that fails is named in `errors`.
    """
    from .artifact.bundle import Artifact
    from .bench import measure
    from .bench.settings import BenchSettings

    settings = BenchSettings(threads=threads, runs=runs, warmup=warmup, processes=processes, ci_width=ci_width,
                             max_seconds=max_seconds, confidence=confidence, strict=strict, cpu_mask=cpu_mask,
                             cooldown=float(cooldown),
                             delegate=delegate, op_profiling=op_profiling,
                             benchmark_binary=str(Path(benchmark_binary).resolve()) if benchmark_binary else None)
    path = Path(artifact) if artifact else measure.latest_artifact()
    return measure.run(Artifact.load(path), device, list(files), settings, insecure, progress)


def history(artifact=None, device: str | None = None):
    """Stored bench records, oldest first, optionally of one artifact folder and one device."""
    from .bench import store

    return [r for r in store.history() if (not artifact or Path(r.artifact) == Path(artifact))
            and (device is None or r.device == device)]


def sweep(alphas=(0.25, 0.5, 0.75, 1.0), resolutions=(128, 160, 192, 224), precisions=SWEEP_PRECISIONS,
          devices=("local",), *, weights_dir=None, data=None, wnids=None, calib=None, calib_count: int = CALIB_COUNT,
          threads: int = DEFAULTS.threads, runs: int = DEFAULTS.runs, warmup: int = DEFAULTS.warmup,
          processes: int = DEFAULTS.processes, ci_width: float = DEFAULTS.ci_width,
          max_seconds: float = DEFAULTS.max_seconds, confidence: float = DEFAULTS.confidence, strict: bool = False,
          jobs: int = 0,
          measure: int | None = None, budget_ms: float | None = None, out="models/sweep", plot=None,
          report_only: bool = False, insecure: bool = False, log=None, archs="mobilenet_v1", again: bool = False):
    """Export, bench and evaluate every family x alpha x resolution x precision; a SweepResult (rows, fronts,
    plot). archs: "mobilenet_v1", "mobilenet_v2" or a comma list / sequence of both."""
    from .bench import devices as device_config
    from .bench.settings import BenchSettings
    from .sweep import grid
    from .sweep.pick import check_budget
    from .sweep.plan import sweep as run_sweep
    from .sweep.run import SweepOptions
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


def evaluate(artifact, data, wnids=None, files: Iterable[str] = (), keras: bool = True, progress=None) -> dict:
    """Top-1/top-5 of each file of an artifact (and of the float Keras model) on labelled images."""
    from .artifact.bundle import Artifact
    from .eval import evaluate as run_eval, read_wnids, select_entries

    art = Artifact.load(artifact)
    select_entries(art, list(files))  # a file the artifact lacks fails before any work
    wnid_list = read_wnids(Path(wnids), art.manifest.model.classes) if wnids else None
    return run_eval(art, Path(data), wnid_list, list(files), keras, progress)


__all__ = ["export", "load", "predict", "bench", "history", "sweep", "pick", "evaluate", "FORMATS"]
