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


def _thread_list(values) -> list[int]:
    from .choices import checked_list
    from .runtime.session import MAX_THREADS

    def check(v):
        try:
            n = int(v) if not isinstance(v, bool) and float(v) == int(float(v)) else None
        except (TypeError, ValueError, OverflowError):
            n = None
        if n is None or not 1 <= n <= MAX_THREADS:
            raise MobiledeployError(f"threads must be whole numbers from 1 to {MAX_THREADS}, got {str(v)[:20]!r}")
        return n

    if isinstance(values, str):
        return checked_list(values, "--threads", "1,2,4", check)
    return sorted({check(v) for v in _sequence(values)})


def _sequence(values) -> list:
    """A list from a list, tuple or set (a bare number is one item), else one error line naming the type."""
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        return [values]
    if not isinstance(values, (list, tuple, set, frozenset)):
        raise MobiledeployError(f"expected a list or a comma-separated text, got {type(values).__name__}")
    return list(values)


def _text_list(values) -> str:
    return values if isinstance(values, str) else ",".join(str(v) for v in _sequence(values))


def _path(value, what: str):
    """A path argument (a str or a pathlib.Path), else one line naming the argument (not a TypeError from pathlib)."""
    import os

    if isinstance(value, os.PathLike) or isinstance(value, str) and value.strip():
        return value
    raise MobiledeployError(f"{what} must be a path (a str or a pathlib.Path), got {type(value).__name__} "
                            f"{str(value)[:40]!r}")


def _name(value, what: str) -> str:
    """A name argument (a device's, a file's): a str, else one line naming the argument."""
    if isinstance(value, str):
        return value
    raise MobiledeployError(f"{what} must be a name (a str), got {type(value).__name__} {str(value)[:40]!r}")


def _whole(value, what: str, minimum: int = 0) -> int:
    """A count argument: a whole number (2.0 is 2) of at least `minimum`, else one line naming it."""
    n = value if type(value) is int else int(value) if isinstance(value, float) and value.is_integer() else None
    if n is None or n < minimum:
        raise MobiledeployError(f"{what} must be a whole number of at least {minimum}, got {str(value)[:40]!r}")
    return n


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

    if out is None or not str(out).strip():
        raise MobiledeployError("out must name a folder for the artifact, e.g. out=\"models\"")
    kinds = select(_text_list(formats), _text_list(precisions) if precisions else None, int8)
    return run_export(ExportOptions(
        alpha=check_alpha(alpha), resolution=check_resolution(resolution), kinds=kinds, weights=str(weights),
        arch=family(getattr(arch, "name", arch)).name,
        calib=str(calib) if calib else None, calib_count=_whole(calib_count, "calib_count", 1),
        calib_method=choose(calib_method, CALIB_METHODS, "calibration method", "--calib-method"),
        verify_dir=str(verify) if verify else None, verify_count=_whole(verify_count, "verify_count", 1),
        io=choose(io, IO_TYPES, "input/output type", "--io"), out=str(out), force=force,
        labels=str(labels) if labels else None, background=keep_background, quiet=quiet,
        fallback_float=_whole(fallback_float, "fallback_float"), bias_correction=bias_correction))


def load(artifact, file: str | None = None, threads: int | None = None):
    """A Classifier for one file of an artifact (default: the manifest's default file, int8 TFLite first)."""
    from .runtime.classifier import Classifier

    if threads is not None:
        _whole(threads, "threads", 1)
    return Classifier(_path(artifact, "artifact"), None if file is None else _name(file, "file"), threads)


def predict(artifact, images: Iterable, file: str | None = None, top_k: int = TOP_K, threads: int | None = None):
    """(classifier, [(image, [Prediction])]): the top-k classes of each image file."""
    from .runtime.images import load_rgb

    if isinstance(images, (str, Path)):   # one image, not the characters of its name
        images = [images]
    images = [_path(i, "each image") for i in _sequence(images)] if not hasattr(images, "__next__") else images
    top_k = _whole(top_k, "top_k", 1)
    clf = load(artifact, file, threads)
    return clf, [(image, clf.classify(load_rgb(image), top_k)) for image in images]


def bench(artifact=None, device: str = "local", files: Iterable[str] = (), *, threads: int = DEFAULTS.threads,
          runs: int = DEFAULTS.runs, warmup: int = DEFAULTS.warmup, processes: int = DEFAULTS.processes,
          ci_width: float = DEFAULTS.ci_width, max_seconds: float = DEFAULTS.max_seconds,
          confidence: float = DEFAULTS.confidence, strict: bool = DEFAULTS.strict, cpu_mask: str | None = None,
          cooldown: float = DEFAULTS.cooldown, delegate: str | None = None, op_profiling: bool = False,
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
    device = _name(device, "device")
    files = [_name(f, "each of files") for f in _sequence(files)]
    if isinstance(cooldown, bool) or not isinstance(cooldown, (int, float)):
        raise MobiledeployError(f"cooldown must be a number of seconds, got {cooldown!r}")
    path = Path(_path(artifact, "artifact")) if artifact else latest_artifact()
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

    folder = Path(_path(artifact, "artifact")).resolve() if artifact else None
    device = _name(device, "device") if device is not None else None
    records = [r for r in store.history(device) if folder is None or Path(r.artifact).resolve() == folder]
    drifts = [d for d in (between_runs(records, name) for name in dict.fromkeys(r.device for r in records)) if d]
    return History(records, drifts)


def sweep(alphas=tuple(SD.alphas), resolutions=tuple(SD.resolutions), precisions=tuple(SD.precisions),
          devices=tuple(SD.devices), *, weights_dir=None, data=None, wnids=None, calib=None, calib_count: int = SD.calib_count,
          threads=tuple(SD.threads), runs: int = DEFAULTS.runs, warmup: int = DEFAULTS.warmup,
          processes: int = DEFAULTS.processes, ci_width: float = DEFAULTS.ci_width,
          max_seconds: float = DEFAULTS.max_seconds, confidence: float = DEFAULTS.confidence,
          strict: bool = DEFAULTS.strict, jobs: int = SD.jobs,
          measure: int | None = None, budget_ms: float | None = None, out=SD.out, plot=None,
          report_only: bool = False, insecure: bool = False, log=None, archs=DEFAULT_ARCH, again: bool = False,
          holdout: float | None = None, lab=None):
    """Export, bench and evaluate every family x alpha x resolution x precision; a SweepResult (rows, fronts,
    plot). archs: "mobilenet_v1", "mobilenet_v2" or a comma list / sequence of both; threads: a thread count, or
    several (a comma list or a sequence: every file is measured at each, and pick chooses among them);
    holdout: split `data` itself, this fraction evaluates and the rest calibrates (sweep/split.py); lab: an open
    mobiledeploy.lab.client.Lab whose workers bench `devices` (lab device names), results stored here."""
    from .bench import devices as device_config
    from .bench.settings import BenchSettings
    from .sweep import grid
    from .sweep.pick import check_budget
    from .sweep.plan import sweep as run_sweep
    from .sweep.options import SweepOptions
    from .model.families import parse_archs

    families = [f.name for f in parse_archs(_text_list(archs))]
    if str(weights_dir) == "cache":   # the weights cache `mobiledeploy weights` fills
        from .sweep.catalog import cache_dir

        weights_dir = cache_dir()
    names = lab.device_names(_text_list(devices)) if lab is not None else \
        grid.parse_devices(_text_list(devices), device_config.load())
    for flag, value, kind in (("--data", data, "dir"), ("--calib", calib, "dir"), ("--wnids", wnids, "file")):
        if value and not (Path(value).is_dir() if kind == "dir" else Path(value).is_file()):
            raise MobiledeployError(f"{flag} {value} is not a {'folder' if kind == 'dir' else 'file'}")
    if wnids and not data:
        raise MobiledeployError("--wnids needs --data (the labelled images it names)")
    if budget_ms is not None:
        check_budget(budget_ms)
    if out is None or not str(out).strip():
        raise MobiledeployError("--out must name a folder for the sweep's artifacts, e.g. models/sweep")
    counts = _thread_list(threads)
    for name, value, low in (("jobs", jobs, 0), ("measure", measure, 2)):
        if value is not None and (type(value) is not int or value < low):
            raise MobiledeployError(f"{name} must be a whole number of at least {low}, got {value!r}")
    if holdout is not None:
        from .sweep import split

        if not data or calib:
            raise MobiledeployError("--holdout splits one --data folder into calibration and evaluation images: "
                                    "give --data and no --calib")
        calib, data, n_calib, n_eval = split.holdout(Path(data), holdout, Path(out).resolve() / ".holdout")
        import logging

        logging.getLogger("mobiledeploy").info("--holdout %g: calibrating on %d images, evaluating on %d others",
                                               holdout, n_calib, n_eval)
    elif calib and data and not report_only:
        from .sweep import split

        split.warn_overlap(calib, data)
    if again and report_only:
        raise MobiledeployError("--again measures every file and --report measures none: give one of them")
    # absolute: results name their artifact, and pick prints a path that works from any folder
    opts = SweepOptions(alphas=_alpha_list(alphas), resolutions=_resolution_list(resolutions),
                        precisions=grid.parse_precisions(_text_list(precisions)), devices=names, out=Path(out).resolve(),
                        weights_dir=str(weights_dir) if weights_dir else None, data=str(data) if data else None,
                        wnids=str(wnids) if wnids else None, calib=str(calib) if calib else None,
                        calib_count=int(calib_count),
                        settings=BenchSettings(threads=counts[0], runs=runs, warmup=warmup, processes=processes,
                                               ci_width=ci_width, max_seconds=max_seconds, confidence=confidence,
                                               strict=strict),
                        threads=counts, jobs=int(jobs), insecure=insecure, archs=families, again=bool(again))
    return run_sweep(opts, measure, budget_ms, Path(plot) if plot else Path(out) / "sweep.png", report_only, log,
                     lab.runner(names) if lab is not None and not report_only else None)


def pick(device: str, budget_ms: float, min_top1: float | None = None, precision: str | None = None,
         threads: int | None = None, refine: int = 0, log=None, *, accuracy: str = "auto",
         max_int8_drop: float | None = None, within=None, real_only: bool = False):
    """The most accurate measured variant whose p90 on `device` fits the budget: a PickResult.

    `refine`: up to this many rounds of measuring the chosen variant and its contenders again while the answer
    is undecided (`result.decided`). `accuracy`: "auto", "measured" or "published", the one top-1 it ranks by;
    `max_int8_drop`: top-1 points an int8 file may lose against its own fp32 file on the same images (the paired
    drop's upper bound); `within`: only artifacts under this folder (a sweep's out); `real_only`: only artifacts
    with real weights. Raises mobiledeploy.outcome.NothingFits when nothing fits (exit code 3).
    """
    from .choices import choose
    from .sweep.pick import decide

    prec = choose(precision, SWEEP_PRECISIONS, "precision", "--precision") if precision else None
    device = _name(device, "device")
    if min_top1 is not None and (isinstance(min_top1, bool) or not isinstance(min_top1, (int, float))):
        raise MobiledeployError(f"--min-top1 must be a fraction from 0 to 1, got {str(min_top1)[:40]!r}")
    drop = None
    if max_int8_drop is not None:
        if isinstance(max_int8_drop, bool) or not isinstance(max_int8_drop, (int, float)) \
                or not 0 <= max_int8_drop <= 100:
            raise MobiledeployError(f"--max-int8-drop must be a number of top-1 points from 0 to 100, got "
                                    f"{str(max_int8_drop)[:40]!r}")
        drop = max_int8_drop / 100
    return decide(device, budget_ms, min_top1, prec, threads, refine, log, accuracy, drop,
                  str(within) if within is not None else None, bool(real_only))


def report(out=None, *, device=(), artifact=(), within=None, family=(), since=None):
    """The results page's data (a report.data.Page: per device the front, pick's answer for every budget, each
    file's history, devices side by side); with `out`, also written there as one self-contained HTML file.
    Filters: device, artifact (folders), family (comma lists or sequences), within (a folder), since (an ISO date
    or time, an age such as 7d, or a datetime)."""
    from .report import data, filters, page

    doc = data.load(filters.make(device, artifact, within, family, since))
    if out is not None:
        page.write(doc, out)
    return doc


def add_device(name: str, *, ssh: str | None = None, adb: str | None = None, key=None, known_hosts=None,
               python: str | None = None, workdir: str | None = None, insecure: bool = False, benchmark_binary=None,
               connect_timeout: float | None = None, keepalive: float | None = None, dead_timeout: float | None = None,
               timeout: float | None = None) -> Path:
    """Add or replace device `name` in devices.toml: a board (`ssh="user@host[:port]"`) or a phone (`adb=SERIAL`);
    returns the file's path. Every field is checked as the file's reader checks it."""
    from .bench import devices as dev

    ssh_spec, serial, adb_timeout = ssh, adb, timeout
    name = _name(name, "name")
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
    return dev.config_path()


def list_devices() -> dict:
    """The configured devices: name -> entry (local is always there)."""
    from .bench import devices as dev

    return dev.load()


def remove_device(name: str) -> None:
    """Remove device `name` from devices.toml."""
    from .bench import devices as dev

    dev.remove(_name(name, "name"))


def check_device(name: str, insecure: bool = False) -> dict:
    """Reach device `name` and describe it: architecture, CPU, runtime, free space, temperature, governor."""
    from .bench import devices as dev
    from .bench.answers import probe_facts
    from .bench.targets import open_target

    target = open_target(name, dev.get(_name(name, "name")), insecure)
    try:
        return {"device": name, "reachable": True, **probe_facts(target.probe())}
    finally:
        target.close()


def weights_list(archs=None) -> list:
    """Per family, alpha and resolution: the official weight files (Keras .h5 with its URL, Google's TFLite files
    and the .tgz archives they come in), which of them the cache holds, and the published top-1."""
    from .model.families import parse_archs
    from .sweep import catalog

    return catalog.entries([f.name for f in parse_archs(_text_list(archs))] if archs else None)


def weights_fetch(alpha: float, resolution: int, arch=DEFAULT_ARCH, kind: str = "keras-h5") -> Path:
    """Download an official file of one cell into the cache (MOBILEDEPLOY_WEIGHTS_URL: a mirror): Keras's .h5
    (`kind` "keras-h5"), or the .tflite from Google's float ("tflite") or quant ("tflite-quant") .tgz archive;
    offline, one line saying where to put the file by hand (or `weights_add` a local copy)."""
    from .model.architecture import check_alpha, check_resolution
    from .model.families import family
    from .sweep import catalog

    return catalog.fetch(family(getattr(arch, "name", arch)).name, check_alpha(alpha), check_resolution(resolution),
                         kind)


def weights_add(paths) -> list:
    """Take local weights files, or Google's .tgz archives of them, into the cache; the files added."""
    from .sweep import catalog

    if isinstance(paths, (str, Path)):
        paths = [paths]
    return [p for path in _sequence(paths) for p in catalog.add(path)]


def quant_report(artifact, data=None, count: int = 50, plot_path=None) -> dict:
    """Per-layer error of an artifact's int8 activations against its float files (TFLite and ONNX side by side),
    on images from `data` (default: uniform noise); with `plot_path`, a PNG of the error by layer depth."""
    import logging

    import numpy as np

    from .artifact.bundle import Artifact
    from .errors import MobiledeployError
    from .export import quant_debug
    from .fsutil import check_output

    art = Artifact.load(_path(artifact, "artifact"))
    count = _whole(count, "count", 1)
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

    art = Artifact.load(_path(artifact, "artifact"))
    data = _path(data, "data")
    files = [_name(f, "each of files") for f in ([files] if isinstance(files, str) else _sequence(files))]
    select_entries(art, list(files))  # a file the artifact lacks fails before any work
    wnid_list = read_wnids(Path(wnids), art.manifest.model.classes) if wnids else None
    return run_eval(art, Path(data), wnid_list, list(files), keras, progress)


__all__ = ["export", "load", "predict", "bench", "history", "sweep", "pick", "evaluate", "quant_report", "add_device", "list_devices", "remove_device",
           "check_device", "weights_list", "weights_fetch", "weights_add", "FORMATS"]


# ---- the results store ------------------------------------------------------------------------------------------
def use_store(url: str | None) -> None:
    """Use this results store from now on (sqlite:///PATH or postgresql://USER@HOST/DB; None: the default, i.e.
    MOBILEDEPLOY_STORE or results.db in MOBILEDEPLOY_HOME)."""
    from .bench import store

    if url is not None and not isinstance(url, str):
        raise MobiledeployError(f"url must be a database URL text, got {type(url).__name__}")
    store.use(url)


def _since(value) -> str | None:
    """An ISO date or time, or an age such as 7d / 12h / 30m, as the ISO time results are compared with."""
    import datetime as dt
    import re

    if value is None:
        return None
    text = str(value).strip()
    m = re.fullmatch(r"(\d{1,6})([dhm])", text)
    if m:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[m.group(2)]
        when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(**{unit: int(m.group(1))})
        return when.isoformat(timespec="seconds")
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise MobiledeployError(f"since {text[:40]!r} is neither a date (2026-12-01, 2026-12-01T08:00) nor an age "
                                "(7d, 12h, 30m)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def results_filter(device: str | None = None, artifact=None, family: str | None = None, since=None,
                   within=None, run: str | None = None):
    """Which results (a store.Filter): one device, one artifact folder, one family, measured since (a date or an
    age such as 7d), artifacts under a folder (a sweep's --out), one sweep run."""
    from .bench import store
    from .model.families import FAMILIES

    if family is not None and family not in FAMILIES:
        raise MobiledeployError(f"family {str(family)[:40]!r} is not one of {', '.join(FAMILIES)}")
    for name, value in (("device", device), ("run", run)):
        if value is not None and not isinstance(value, str):
            raise MobiledeployError(f"{name} must be a text, got {type(value).__name__}")
    return store.Filter(device=device, artifact=str(Path(artifact).absolute()) if artifact else None,
                        within=str(Path(within).absolute()) if within else None, family=family,
                        since=_since(since), run=run)


def results(device: str | None = None, artifact=None, family: str | None = None, since=None, within=None,
            run: str | None = None) -> list:
    """Stored bench records (typed BenchRecords), oldest first, as the filters say."""
    from .bench import store

    return store.history(where=results_filter(device, artifact, family, since, within, run))


def results_export(out, fmt: str = "jsonl", **filters) -> int:
    """Write the stored results (filters as `results`) to `out` as csv, jsonl or json; how many."""
    from .bench import store_files

    return store_files.export(Path(out), fmt, results_filter(**filters))


def results_import(path) -> dict:
    """Store every record of a `results export` file or an old results.jsonl (checked; known ones skipped)."""
    from .bench import store_files

    return store_files.import_file(Path(path))


def results_prune(older_than=None, dry_run: bool = False, **filters) -> int:
    """Delete stored results measured before `older_than` (a date or an age such as 90d) that match the
    filters; how many went (with dry_run: would go). Needs at least one of older_than or a filter."""
    from .bench import store

    where = results_filter(**filters)
    if older_than is None and where == store.Filter():
        raise MobiledeployError("prune needs --older-than or a filter (--device, --family, ...): it never empties "
                                "the whole store by default")
    return store.prune(where, _since(older_than), dry_run)


def results_send() -> dict:
    """Send the results kept in unsent.jsonl (a database server was out of reach) to the store."""
    from .bench import store

    added, kept = store.send_unsent()
    return {"added": added, "kept_as": str(kept) if kept else None, "store": store.where()}


def results_init(url: str | None = None) -> str:
    """Create (or migrate) the store's schema; a PostgreSQL database needs this once."""
    from .bench import database, store

    return database.init(url or store.url())
