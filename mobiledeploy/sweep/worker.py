"""Export (and, with real weights and --data, evaluate) one grid cell: runs in a worker process.

A worker imports TensorFlow once and exports many cells, so the import is paid per worker, not per
variant.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path


def init(parent: int | None = None, out: str | None = None) -> None:
    """Die with the sweep however it dies; keep temporary files in --out; quiet TensorFlow and the export's
    warnings (errors still come back raised)."""
    from ..quiet import quiet_environment

    if parent is not None:
        _die_with(parent)
    if out is not None:
        _private_tmpdir(Path(out))
    import sys

    default_hook = sys.unraisablehook

    def hook(unraisable):
        # Ctrl-C reaches the workers too; landing in an import's clean-up it cannot be raised and Python prints
        # a traceback for it. The sweep itself handles Ctrl-C (it cancels the exports and says so once).
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            default_hook(unraisable)

    sys.unraisablehook = hook

    quiet_environment()
    logging.getLogger("mobiledeploy").setLevel(logging.ERROR)
    import warnings

    warnings.simplefilter("ignore")


def export_cell(recipe, out: str, data: str | None, wnids: str | None) -> dict:
    """Export one recipe (replacing a stale artifact); evaluate its files when it has real weights and data.

    The export's own warnings (mobiledeploy's log records and warnings at WARNING or above, not TensorFlow's) come
    back in "warnings", each once, for the sweep to pass on (run.WarningsOnce)."""
    import time

    from ..artifact.bundle import Artifact
    from ..export.formats import FILE_KINDS
    from ..export.pipeline import ExportOptions, export

    start = time.perf_counter()
    kinds = [k for k in FILE_KINDS if k.format == "tflite" and (k.precision in recipe.precisions or k.precision == "fp32")]
    # a random-weights cell is latency only: that its classes have no names is no news (and the sweep has no --labels)
    with _warnings_kept(ignore=() if recipe.weights else ("artifact/labels.py",)) as kept:
        result = export(ExportOptions(
            alpha=recipe.alpha, resolution=recipe.resolution, kinds=kinds, arch=recipe.arch,
            weights=recipe.weights or "none", calib=recipe.calib, calib_count=recipe.calib_count, out=out, force=True,
            quiet=True, datafree_count=recipe.calib_count, datafree_steps=recipe.datafree_steps))
        accuracy = []
        if data and recipe.weights:
            accuracy = evaluate_files(Artifact.load(result.artifact), data, wnids, recipe.precisions)
    return {"artifact": result.artifact, "seconds": round(time.perf_counter() - start, 2),
            "timings": result.timings, "accuracy": accuracy, "warnings": kept}


@contextlib.contextmanager
def _warnings_kept(ignore=()):
    """The list of warning lines mobiledeploy's own code gives inside the block, each once, in order.

    The worker's logger stays at ERROR outside (init), so nothing else a worker does prints; inside, a handler
    keeps WARNING records instead of printing them, and Python warnings raised from mobiledeploy's files are kept
    (TensorFlow's and the other libraries' stay ignored). Records logged from the files named in `ignore` (path endings) are dropped."""
    import warnings

    kept: list[str] = []

    def keep(text: str) -> None:
        if text not in kept:
            kept.append(text)

    class Keep(logging.Handler):
        def emit(self, record):
            if not str(record.pathname).replace("\\", "/").endswith(ignore):
                keep(record.getMessage())

    log = logging.getLogger("mobiledeploy")
    handler, level, propagate = Keep(logging.WARNING), log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.WARNING)
    log.propagate = False
    package = str(Path(__file__).resolve().parents[1])
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield kept
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate
    for w in caught:
        if str(w.filename).startswith(package):
            keep(str(w.message))


def evaluate_files(artifact, data: str, wnids: str | None, precisions) -> list[dict]:
    """Top-1/top-5 of each TFLite file on the labelled folder, as accuracy-store records."""
    import datetime as dt

    from ..eval import evaluate, read_wnids

    names = {artifact.manifest.file("tflite", p).name: p for p in precisions}
    wnid_list = read_wnids(Path(wnids), artifact.manifest.model.classes) if wnids else None
    report = evaluate(artifact, Path(data), wnid_list, files=list(names), keras=False)
    by_name = {e.name: e for e in artifact.manifest.files}
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    # per image right or wrong, in the order evaluated: what pairs an int8 file with its fp32 file (paired.py)
    return [{"sha256": by_name[r["file"]].sha256, "file": r["file"], "precision": r["precision"],
             "artifact": str(artifact.folder), "data": str(Path(data).resolve()), "n": r["n"], "top1": r["top1"],
             "top5": r["top5"], "correct": r["correct"], "time": now} for r in report["results"]]


def _die_with(parent: int) -> None:
    """SIGKILL this worker when the process that started it dies, even by SIGKILL (Linux prctl).

    Without it a killed sweep leaves its workers exporting with nobody to collect their results. Where
    prctl is missing (not Linux) the pool's own pipe ends them when they next ask for work.
    """
    import ctypes
    import os
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)  # this process's own symbols, libc's prctl among them
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _private_tmpdir(out: Path) -> None:
    """TensorFlow's SavedModels and autograph files, onnxruntime's files: in a folder of this worker's own in
    --out, not in the shared $TMPDIR. Removed at exit; one a SIGKILL left is collected by the next run
    (fsutil.remove_stale_temporaries: its name carries this worker's pid)."""
    import atexit
    import os
    import shutil
    import tempfile

    from ..fsutil import temporary_prefix

    out.mkdir(parents=True, exist_ok=True)
    folder = tempfile.mkdtemp(prefix=temporary_prefix("worker"), dir=out)
    os.environ["TMPDIR"] = folder
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again
    atexit.register(shutil.rmtree, folder, True)
