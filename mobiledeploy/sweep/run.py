"""The sweep, top to bottom: plan the cells, export what the cache lacks (parallel processes), evaluate
what has real weights, bench every file on every device (devices concurrently, each strictly serial),
storing each result as it arrives so Ctrl-C keeps it and a re-run resumes.
"""
from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ..artifact.bundle import Artifact
from ..bench.settings import DEFAULTS, BenchSettings
from ..errors import MobiledeployError
from ..export import calibration
from ..fsutil import sha256_file
from ..progress import console
from . import accuracy, cache, sources
from .cells import Cell

#: Data-free calibration of random weights (latency only): a few unoptimised prior images suffice,
#: because the quantization ranges of random weights change no kernel and no accuracy is claimed.
LATENCY_ONLY_CALIB = 8


@dataclass
class SweepOptions:
    """Everything a sweep needs, already checked by the CLI."""

    alphas: list[float]
    resolutions: list[int]
    precisions: list[str]
    devices: list[str]
    out: Path = Path("models")
    weights_dir: str | None = None
    data: str | None = None
    wnids: str | None = None
    calib: str | None = None
    calib_count: int = calibration.CALIB_COUNT
    settings: BenchSettings = DEFAULTS
    jobs: int = 0
    insecure: bool = False
    cells: list[Cell] | None = None   # measure only these (sweep --measure K)
    stats: dict = field(default_factory=dict)
    archs: list[str] = field(default_factory=lambda: ["mobilenet_v1"])   # the families (--arch)

    @property
    def grid(self) -> list[Cell]:
        """Every cell of the grid, in order: family x alpha x resolution."""
        return [Cell(a, r, f) for f in self.archs for a in self.alphas for r in self.resolutions]


def recipes(opts: SweepOptions) -> list[cache.Recipe]:
    """One export recipe per (alpha, resolution) cell to measure."""
    found = sources.scan(opts.weights_dir) if opts.weights_dir else {}
    cells = opts.cells or opts.grid
    if found and not any(sources.for_cell(found, c) for c in cells):
        import logging

        logging.getLogger("mobiledeploy").warning(
            "--weights-dir %s has weights for %s only, none in this grid: every variant gets random weights",
            opts.weights_dir, ", ".join(Cell(a, r, f).label for f, a, r in sorted(found)))
    out = []
    for cell in cells:
        alpha, res = cell.alpha, cell.resolution
        weights = sources.for_cell(found, cell)
        real = weights is not None
        out.append(cache.Recipe(
            alpha=alpha, resolution=res, weights=str(weights.resolve()) if real else None,
            weights_sha256=sha256_file(weights) if real else None,
            calib=str(Path(opts.calib).resolve()) if opts.calib else None,
            calib_count=opts.calib_count if opts.calib else (calibration.DATAFREE_COUNT if real else LATENCY_ONLY_CALIB),
            datafree_steps=15 if real else 0, precisions=tuple(opts.precisions), arch=cell.arch))
    return out


@contextlib.contextmanager
def _main_not_reimported():
    """Spawned workers do not run the caller's script again.

    multiprocessing's spawn re-imports the parent's __main__ file in every worker (so a script calling
    mobiledeploy.api.sweep without an `if __name__ == "__main__":` guard would run itself in each worker,
    and fail). The workers need nothing from it: while they start, __main__ names itself "__main__",
    which spawn's child side skips (multiprocessing.spawn._fixup_main_from_name).
    """
    import sys
    import types

    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    had, old = hasattr(main, "__spec__"), getattr(main, "__spec__", None)
    main.__spec__ = types.SimpleNamespace(name="__main__")
    try:
        yield
    finally:
        if had:
            main.__spec__ = old
        else:
            del main.__spec__


def export_all(opts: SweepOptions, todo: list[cache.Recipe], log) -> tuple[dict, list[str]]:
    """Export the recipes the cache lacks in worker processes; (artifact by cell, error lines)."""
    from . import worker

    done, errors = {}, []
    if not todo:
        return done, errors
    workers = max(1, min(len(todo), opts.jobs or os.cpu_count() or 1))
    import multiprocessing

    # spawn: TensorFlow's threads do not survive fork, and the parent never imports TensorFlow
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=worker.init, initargs=(os.getpid(), str(opts.out))) as pool:
        with _main_not_reimported():  # workers start during the submits
            futures = {pool.submit(worker.export_cell, r, str(opts.out), opts.data, opts.wnids): r for r in todo}
        try:
            for n, fut in enumerate(as_completed(futures), start=1):
                r = futures[fut]
                name = r.cell.label
                try:
                    res = fut.result()
                except MobiledeployError as exc:
                    errors.append(f"{name}: {exc}")
                    log(f"[export {n}/{len(todo)}] {name} failed: {exc}")
                    continue
                for rec in res["accuracy"]:
                    accuracy.append(rec)
                done[r.cell] = Artifact.load(res["artifact"])
                log(f"[export {n}/{len(todo)}] {name} {res['seconds']:.1f} s")
        except KeyboardInterrupt:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return done, errors


def evaluate_cached(opts: SweepOptions, artifacts: dict, recs: dict, log) -> None:
    """Measure accuracy of reused real-weight artifacts not yet evaluated on this --data folder."""
    if not opts.data:
        return
    from . import worker

    known = accuracy.load()
    data = str(Path(opts.data).resolve())
    for cell, artifact in artifacts.items():
        if not recs[cell].weights:
            continue
        shas = [cache.file_entry(artifact, p).sha256 for p in opts.precisions]
        if all(s in known and known[s].get("data") == data for s in shas):
            continue
        for rec in worker.evaluate_files(artifact, opts.data, opts.wnids, opts.precisions):
            accuracy.append(rec)
        log(f"[eval] {cell.label} evaluated on {opts.data}")


def open_devices(opts: SweepOptions) -> dict:
    """Connect to every device and check it runs TFLite and is quiet (quietness.py: a warning line, or with
    --strict a refusal), before any export: fail fast, one line."""
    import logging

    from ..bench import devices, quietness
    from ..bench.measure import runnable
    from ..export.formats import kind
    from ..bench.targets import open_target

    opened = {}
    try:
        for name in opts.devices:
            entry = devices.get(name)
            target = open_target(name, entry, opts.insecure)
            opened[name] = target
            probe = target.probe()
            if not runnable([kind("tflite", "fp32")], entry["kind"], probe):
                raise MobiledeployError(f"{name} has no TFLite runtime: pip install ai-edge-litert on the device")
            warning = quietness.check(name, probe, opts.settings.cpu_mask, opts.settings.strict)
            opts.stats.setdefault("not_quiet", {})[name] = warning
            if warning:
                logging.getLogger("mobiledeploy").warning(warning)
    except BaseException:
        for t in opened.values():
            t.close()
        raise
    return opened


def bench_all(opts: SweepOptions, targets: dict, artifacts: dict, log) -> tuple[int, list[str]]:
    """Bench every file on every device: one thread per device, each device strictly serial.

    A result is stored as soon as it arrives; one already stored with the same settings is skipped.
    Returns (results stored now, error lines).
    """
    from ..bench import measure, store

    have = {(r.device, r.sha256) for r in store.history() if r.settings.key() == opts.settings.key()}
    stop, lock = threading.Event(), threading.Lock()
    stored, errors = [0], []
    jobs = {d: [(cell, a, cache.file_entry(a, p)) for cell, a in sorted(artifacts.items()) for p in opts.precisions]
            for d in targets}
    jobs = {d: [j for j in js if (d, j[2].sha256) not in have] for d, js in jobs.items()}
    total = sum(len(js) for js in jobs.values())

    def device_loop(name):
        try:
            bench_device(name)
        except Exception as exc:  # noqa: BLE001 - a bug in one device's loop is reported, not a thread traceback
            with lock:
                errors.append(f"{name}: unexpected {type(exc).__name__}: {exc} (report it)")

    def bench_device(name):
        from ..bench.protocol import Job, measure as protocol_measure
        from ..bench.record import check_runner_answer

        target = targets[name]

        def run_one(path):
            raw = target.run(path, opts.settings)
            check_runner_answer(raw, opts.settings, name)
            return raw

        def finished(job):
            cell, artifact, e = job.key
            label = cell.variant(e.precision)
            if job.error is not None:
                # Ctrl-C reaches the runner too and makes it fail: give the main thread time to say so
                if stop.wait(0.5):
                    return
                with lock:
                    errors.append(f"{name} {label}: {job.error}")
                return
            rec = measure.record(artifact, name, e, opts.settings, job.raws, job,
                                 before=opts.stats.get("not_quiet", {}).get(name))
            with lock:
                if opts.settings.strict and rec.unstable:
                    errors.append(f"{name} {label}: unstable ({rec.protocol.get('verdict_reason')}): not stored "
                                  "(--strict)")
                    return
                store.append(rec)
                stored[0] += 1
                ci = rec.p90_interval
                p90 = f"p90 {rec.p90_ms:.2f} ms" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
                log(f"[bench {stored[0]}/{total}] {name} {label}: median {rec.median_ms:.2f} ms, {p90}, "
                    f"{rec.protocol.get('processes', 1)} processes, {rec.protocol.get('verdict', 'one run')}")

        protocol_measure(run_one, [Job(j, j[1].path(j[2])) for j in jobs[name]], opts.settings, finished, stop)

    threads = [threading.Thread(target=device_loop, args=(d,), daemon=True) for d in targets]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    except KeyboardInterrupt:
        stop.set()
        for t in threads:
            t.join(30)
        raise
    return stored[0], errors


def run(opts: SweepOptions, log=None) -> dict:
    """Plan, export, evaluate, bench; returns counts and timings (results are in the stores)."""
    import time

    log = log or (lambda line: console.print(line, markup=False, highlight=False))
    start = time.perf_counter()
    recs = {r.cell: r for r in recipes(opts)}
    with _only_sweep_in(Path(opts.out)):
        return _run(opts, recs, log, start)


@contextlib.contextmanager
def _only_sweep_in(out: Path):
    """One sweep at a time per --out: a second one would replace artifacts the first is benching."""
    import fcntl

    from ..fsutil import make_dirs, remove_dirs

    created = make_dirs(out)
    try:
        fd = os.open(out, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))  # the folder itself is locked: no lock file
    except OSError as exc:
        raise MobiledeployError(f"cannot use --out {out}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MobiledeployError(f"another sweep is writing to {out}: wait for it to finish, or give this one "
                                    "another --out") from None
        yield
    finally:
        os.close(fd)
        remove_dirs(created)  # an --out this sweep made and left empty (it failed before any export) goes again


def _run(opts: SweepOptions, recs: dict, log, start: float) -> dict:
    import time

    from ..fsutil import remove_stale_temporaries

    gone = remove_stale_temporaries(opts.out)
    if gone:
        log(f"sweep: removed {len(gone)} temporary folder(s) a killed run left in {opts.out}")
    targets = open_devices(opts)
    try:
        artifacts, todo = {}, []
        for cell, r in recs.items():
            hit = cache.reusable(r, opts.out)
            if hit is not None:
                artifacts[cell] = hit
            else:
                todo.append(r)
        log(f"sweep: {len(recs)} cells x {len(opts.precisions)} precisions on {', '.join(opts.devices)}; "
            f"{len(artifacts)} cached, {len(todo)} to export")
        evaluate_cached(opts, artifacts, recs, log)
        t_export = time.perf_counter()
        made, errors = export_all(opts, todo, log)
        artifacts.update(made)
        t_bench = time.perf_counter()
        opts.stats["seconds_before_first_bench"] = round(t_bench - start, 2)
        opts.stats["first_bench_epoch"] = time.time()  # lets a caller add its own process start-up
        stored, bench_errors = bench_all(opts, targets, artifacts, log)
    finally:
        for t in targets.values():
            t.close()
    errors += bench_errors
    return {"cells": len(recs), "cached": len(recs) - len(todo), "exported": len(made), "benched": stored,
            "errors": errors, "export_seconds": round(t_bench - t_export, 2),
            "bench_seconds": round(time.perf_counter() - t_bench, 2),
            "seconds_before_first_bench": opts.stats["seconds_before_first_bench"],
            "first_bench_epoch": opts.stats["first_bench_epoch"],
            "seconds": round(time.perf_counter() - start, 2), "artifacts": {
                cell.label: str(art.folder) for cell, art in sorted(artifacts.items())}}
