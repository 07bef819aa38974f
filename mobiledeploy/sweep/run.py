"""One run of a sweep (plan.py chooses its cells): export what the cache lacks (parallel processes), evaluate
what has real weights, bench every file on every device (benching.py: devices concurrently, each strictly
serial, remote ones from the first finished export), storing each result as it arrives so Ctrl-C keeps it
and a re-run resumes.
"""
from __future__ import annotations

import contextlib
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from ..artifact.bundle import Artifact
from ..errors import MobiledeployError
from ..export import calibration
from ..fsutil import sha256_file
from ..progress import console
from . import accuracy, cache, sources
from .benching import Benching
from .options import SweepOptions

#: Data-free calibration of random weights (latency only): a few unoptimised prior images suffice,
#: because the quantization ranges of random weights change no kernel and no accuracy is claimed.
LATENCY_ONLY_CALIB = 8


def recipes(opts: SweepOptions) -> list[cache.Recipe]:
    """One export recipe per (alpha, resolution) cell to measure."""
    found = sources.scan(opts.weights_dir) if opts.weights_dir else {}
    cells = opts.cells or opts.grid
    if found and not any(sources.for_cell(found, c) for c in cells):
        import logging

        logging.getLogger("mobiledeploy").warning(
            "--weights-dir %s has weights for %s only, none in this grid: every variant gets random weights",
            opts.weights_dir, ", ".join(sources.describe(key) for key in sorted(found)))
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


class WarningsOnce:
    """The exports' warnings, each said once when the exports end, prefixed by the cell that gave it; the same
    warning from many cells (a small --calib folder warns in every one) is one line with the count."""

    SHOWN = 4   # cells named in a line; the rest are counted

    def __init__(self, order=()):
        self.cells: dict[str, list[str]] = {}
        self.order = {label: n for n, label in enumerate(order)}   # cells named in grid order, not finishing order

    def add(self, cell: str, lines) -> None:
        for line in lines:
            named = self.cells.setdefault(str(line), [])
            if cell not in named:
                named.append(cell)

    def lines(self) -> list[str]:
        out = []
        for message, cells in self.cells.items():
            cells = sorted(cells, key=lambda c: self.order.get(c, len(self.order)))
            if len(cells) == 1:
                out.append(f"{cells[0]}: {message}")
                continue
            names = ", ".join(cells[:self.SHOWN]) + (f" and {len(cells) - self.SHOWN} more" if len(cells) > self.SHOWN
                                                      else "")
            out.append(f"{len(cells)} cells ({names}): {message}")
        return out

    def say(self) -> None:
        import logging

        for line in self.lines():
            logging.getLogger("mobiledeploy.sweep").warning("%s", line)
        self.cells.clear()


def export_all(opts: SweepOptions, todo: list[cache.Recipe], log, on_ready=None,
               on_failed=None) -> tuple[dict, list[str]]:
    """Export the recipes the cache lacks in worker processes; (artifact by cell, error lines).

    `on_ready(cell, artifact)` is called as each export finishes (remote devices start benching it),
    `on_failed(cell)` when one fails. The exports' warnings are said once, when they end (WarningsOnce)."""
    import time

    done, errors = {}, []
    if not todo:
        return done, errors
    started = time.perf_counter()
    workers = max(1, min(len(todo), opts.jobs or os.cpu_count() or 1))
    warned = WarningsOnce([r.cell.label for r in todo])
    try:
        _export_in_pool(opts, todo, log, on_ready, on_failed, workers, warned, done, errors, started)
    finally:  # Ctrl-C too: what the finished exports warned of is still said
        warned.say()
    return done, errors


def _export_in_pool(opts, todo, log, on_ready, on_failed, workers, warned, done, errors, started) -> None:
    import multiprocessing
    import time

    from ..progress import eta
    from . import worker

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
                    if on_failed:
                        on_failed(r.cell)
                    continue
                warned.add(name, res.get("warnings", ()))
                for rec in res["accuracy"]:
                    accuracy.append(rec)
                done[r.cell] = Artifact.load(res["artifact"])
                log(f"[export {n}/{len(todo)}] {name} {res['seconds']:.1f} s"
                    f"{eta(n, len(todo), time.perf_counter() - started)}")
                if on_ready:
                    on_ready(r.cell, done[r.cell])
        except KeyboardInterrupt:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


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


def cached_and_todo(recs: dict, out) -> tuple[dict, list]:
    """The cells whose artifact in `out` can be reused (cell -> Artifact), and the recipes still to export."""
    artifacts, todo = {}, []
    for cell, r in recs.items():
        hit = cache.reusable(r, out)
        if hit is not None:
            artifacts[cell] = hit
        else:
            todo.append(r)
    return artifacts, todo


def open_devices(opts: SweepOptions) -> dict:
    """A bench session on every device (connected, probed, judged quiet: a warning line, or with --strict a
    refusal), each checked to run TFLite, before any export: fail fast, one line."""
    from ..bench.session import Session, new_run
    from ..export.formats import kind

    opened, run_id = {}, new_run()
    try:
        for name in opts.devices:
            session = opened[name] = Session(name, opts.settings, opts.insecure, run=run_id).open(opts.threads)
            if not session.can_run([kind("tflite", "fp32")]):
                raise MobiledeployError(f"{name} has no TFLite runtime: pip install ai-edge-litert on the device")
    except BaseException:
        for s in opened.values():
            s.close()
        raise
    return opened


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

    wall_start = time.time() - (time.perf_counter() - start)
    gone = remove_stale_temporaries(opts.out)
    if gone:
        log(f"sweep: removed {len(gone)} temporary folder(s) a killed run left in {opts.out}")
    sessions = open_devices(opts)
    benching = None
    try:
        artifacts, todo = cached_and_todo(recs, opts.out)
        log(f"sweep: {len(recs)} cells x {len(opts.precisions)} precisions on {', '.join(opts.devices)}; "
            f"{len(artifacts)} cached, {len(todo)} to export")
        evaluate_cached(opts, artifacts, recs, log)
        # remote devices measure from the first ready artifact on; the host only after its own exports
        remote = [d for d, s in sessions.items() if s.kind != "local"]
        per_cell = len(opts.precisions) * len(opts.threads)
        benching = Benching(opts, sessions, log, planned=len(sessions) * len(recs) * per_cell)
        for d in remote:
            benching.feed(d, artifacts)
        t_export = time.perf_counter()
        made, errors = export_all(
            opts, todo, log, on_ready=lambda cell, art: [benching.feed(d, {cell: art}) for d in remote],
            on_failed=lambda cell: benching.unplan(len(sessions) * per_cell))
        artifacts.update(made)
        t_bench = time.perf_counter()
        exports_done = time.time()
        for d in sessions:
            if d not in remote:
                benching.feed(d, artifacts)
            benching.close(d)
        stored, bench_errors = benching.wait()
    except BaseException:
        if benching is not None:
            benching.abort()
        raise
    finally:
        for session in sessions.values():
            session.close()
    first_run = benching.first_run   # per device
    first = min(first_run.values(), default=None)
    first = first if first is not None else time.time()
    errors += bench_errors
    return {"cells": len(recs), "cached": len(recs) - len(todo), "exported": len(made), "benched": stored,
            "errors": errors, "export_seconds": round(t_bench - t_export, 2),
            "bench_seconds": round(time.perf_counter() - t_bench, 2),
            "seconds_before_first_bench": round(first - wall_start, 2), "first_bench_epoch": first,
            "first_run_epoch": first_run, "exports_done_epoch": exports_done,
            "run_id": next((x.run for x in sessions.values()), None),
            "seconds": round(time.perf_counter() - start, 2), "artifacts": {
                cell.label: str(art.folder) for cell, art in sorted(artifacts.items())}}
