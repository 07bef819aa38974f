"""Exports on the lab's workers that have TensorFlow: the client sends a recipe and its inputs, a worker exports,
the whole artifact comes back and the client keeps it in its --out as if it had exported it there.

- Inputs travel with the recipe: the weights file (when the cell has real weights) and the calibration folder's
  images (with --calib: every image, under its path relative to the folder, so the worker's calibration draws the
  same images in the same order as the client's would). They are written under the worker's home
  (lab/inputs/, removed after the export) and every relative path is checked to stay inside its folder.
- The export runs in one spawned process per worker (TensorFlow imported once, the worker's own threads left to
  its devices), the same function a one-host sweep runs (sweep/worker.py). Each worker advertises one export
  slot (hosts.EXPORT_RESOURCE), so a host exports one cell at a time.
- The artifact comes back whole (manifest, model files, labels), every file checked against the manifest's sha256
  where it arrives; the paths the worker's manifest records (its copy of the weights and calibration folder) are
  replaced by the client's own, so the sweep's cache (sweep/cache.py) reuses it in the next run like any other.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import MobiledeployError

MAX_INPUTS = 1 << 30        # bytes of weights and calibration images one export may send (1 GiB)
EXPORT_PREFIX = "mobiledeploy-export-"   # an export task's Dask key: this + the cell's label + "-" + the run's id
POLL = 0.5
TRIES = 3                   # times an export is sent while the workers it lands on leave the lab

_pool_lock = threading.Lock()
_pool: list = []            # the worker's one export process (a ProcessPoolExecutor), made on its first export


@dataclass(frozen=True)
class Inputs:
    """A recipe's input files as bytes: the weights file (name, bytes) or None, the calibration images
    ((relative path, bytes), ...)."""

    weights: tuple | None
    calib: tuple

    @property
    def size(self) -> int:
        return (len(self.weights[1]) if self.weights else 0) + sum(len(b) for _, b in self.calib)


def why_not_sendable(recipe) -> str | None:
    """Why this recipe's inputs cannot go to a worker (a weights folder, too many bytes), or None."""
    size = 0
    if recipe.weights:
        p = Path(recipe.weights)
        if not p.is_file():
            return f"its weights {p} are not one file"
        size += p.stat().st_size
    if recipe.calib:
        from ..runtime.images import find_images

        size += sum(p.stat().st_size for p in find_images(recipe.calib))
    if size > MAX_INPUTS:
        return f"its weights and calibration images are {size / 2**20:.0f} MiB, over the {MAX_INPUTS >> 20} MiB a " \
               "lab export sends"
    return None


def inputs_for(recipe) -> Inputs:
    """The client's side: read the recipe's inputs (each a regular file, size-capped)."""
    from ..readers import read_bytes
    from ..runtime.images import find_images

    weights = None
    if recipe.weights:
        p = Path(recipe.weights)
        weights = (p.name, read_bytes(p, "weights file", MAX_INPUTS, "give a readable weights file"))
    calib = ()
    if recipe.calib:
        root = Path(recipe.calib)
        calib = tuple((p.relative_to(root).as_posix(), read_bytes(p, "calibration image", MAX_INPUTS,
                                                                   "give a folder of readable images"))
                      for p in find_images(root))
    return Inputs(weights, calib)


def _relative(text) -> Path:
    """A relative path that stays inside its folder (no absolute path, no '..', no empty part)."""
    p = Path(str(text))
    if not str(text) or p.is_absolute() or any(part in ("", ".", "..") for part in p.parts) or "\\" in str(text):
        raise MobiledeployError(f"an input named {str(text)[:80]!r} would leave its folder: refused")
    return p


def _write_inputs(recipe, inputs: Inputs, folder: Path):
    """The recipe with its inputs written under `folder` (a worker's own temporary folder)."""
    if not isinstance(inputs, Inputs) or not isinstance(inputs.calib, tuple):
        raise MobiledeployError("an export arrived in an unknown form: is every host on the same mobiledeploy?")
    if inputs.size > MAX_INPUTS:
        raise MobiledeployError(f"an export's inputs are over {MAX_INPUTS >> 20} MiB: refused")
    weights = calib = None
    if recipe.weights:
        if inputs.weights is None:
            raise MobiledeployError("an export with real weights arrived without its weights file")
        name = _relative(inputs.weights[0])
        if len(name.parts) != 1:
            raise MobiledeployError(f"weights file name {str(name)[:80]!r} is not a file name: refused")
        weights = folder / "weights" / name
        weights.parent.mkdir()
        weights.write_bytes(inputs.weights[1])
    if recipe.calib:
        calib = folder / "calib"
        calib.mkdir()
        for rel, data in inputs.calib:
            target = calib / _relative(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return replace(recipe, weights=str(weights) if weights else None, calib=str(calib) if calib else None)


def _pool_for(base: Path):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from ..sweep import worker

    with _pool_lock:
        if not _pool:
            _pool.append(ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=worker.init, initargs=(os.getpid(), str(base))))
        return _pool[0]


def _drop_pool() -> None:
    """End the export process (a cancelled export, or a broken process): the next export starts a new one."""
    with _pool_lock:
        pool = _pool.pop() if _pool else None
    if pool is not None:
        for proc in list(getattr(pool, "_processes", {}).values()):   # it may be mid-export: it is not waited for
            proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)


class HostFault(MobiledeployError):
    """An export that failed for its host's sake (its export process died, its TensorFlow does not load), not the
    recipe's: the client sends it again, to another worker when there is one."""


def export_task(recipe, inputs: Inputs) -> dict:
    """On a worker with TensorFlow: export one recipe from these inputs; the whole artifact as a Payload, the
    export's warnings and seconds, and the worker's paths of the inputs (for the client to replace)."""
    from concurrent.futures import TimeoutError as Waited   # not the built-in TimeoutError before Python 3.11
    from concurrent.futures.process import BrokenProcessPool

    from distributed import get_worker

    from ..fsutil import remove_stale_temporaries, temporary_prefix
    from ..home import home
    from ..sweep import worker as export_worker
    from . import hosts, remote, transfer

    me = hosts.current()["host"]
    if not hosts.can_export():
        raise HostFault(f"worker {me} has no TensorFlow: it cannot export (install mobiledeploy with TensorFlow "
                        "there, or run the sweep with --lab-exports here)")
    dask_worker = get_worker()
    key = dask_worker.get_current_task()
    base = home() / "lab" / "exports"
    base.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(base)   # what an export killed with its worker (SIGKILL, out of memory) left
    folder = Path(tempfile.mkdtemp(prefix=temporary_prefix("export"), dir=base))
    try:
        here = _write_inputs(recipe, inputs, folder)
        out = folder / "out"
        from ..sweep.run import _main_not_reimported

        with _main_not_reimported():   # the worker's process starts during the submit
            fut = _pool_for(base).submit(export_worker.export_cell, here, str(out), None, None)
        while True:   # polled: a cancelled task or a stopping worker ends the export process
            try:
                res = fut.result(timeout=POLL)
                break
            except Waited:
                if remote._cancelled(dask_worker, key) or remote.STOPPING.is_set():
                    _drop_pool()
                    raise MobiledeployError("the export was cancelled") from None
            except BrokenProcessPool:
                _drop_pool()
                raise HostFault(f"the export process on worker {me} died (out of memory?)") from None
            except ImportError as exc:   # its TensorFlow is there but does not load (a CPU without AVX, a mismatch)
                raise HostFault(f"worker {me} cannot load TensorFlow: {str(exc)[:200]}") from None
        from ..artifact.bundle import Artifact

        payload = transfer.pack_whole(Artifact.load(res["artifact"]))
        return {"payload": payload, "warnings": list(res.get("warnings", ())), "seconds": res["seconds"],
                "host": me, "paths": {k: v for k, v in (("weights", here.weights), ("calib", here.calib)) if v}}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _swap(text, paths: dict):
    """`text` with a worker path in it (whole, as a prefix, or after "held back from ") made the client's."""
    if not isinstance(text, str):
        return text
    for theirs, ours in paths.items():
        for lead in ("", "held back from "):
            if text == lead + theirs or text.startswith(lead + theirs + "/"):
                return lead + ours + text[len(lead + theirs):]
    return text


def _client_paths(doc: dict, paths: dict) -> dict:
    """The manifest's JSON with the worker's copies of the inputs named by the client's own paths: the weights'
    path, the calibration folder, the verification images' source; nothing else is touched."""
    model, calib = doc.get("model"), doc.get("calibration")
    if isinstance(model, dict) and isinstance(model.get("weights"), dict) and "path" in model["weights"]:
        model["weights"]["path"] = _swap(model["weights"]["path"], paths)
    if isinstance(calib, dict):
        if "path" in calib:
            calib["path"] = _swap(calib["path"], paths)
        if isinstance(calib.get("verification"), dict) and "source" in calib["verification"]:
            calib["verification"]["source"] = _swap(calib["verification"]["source"], paths)
    return doc


def receive(answer: dict, recipe, out: Path):
    """The client's side: keep the artifact a worker exported in `out` (as this recipe's folder, replacing a stale
    one atomically); its Artifact."""
    import json

    from ..artifact.bundle import Artifact, Publisher
    from . import transfer

    if not isinstance(answer, dict) or not isinstance(answer.get("paths"), dict):
        raise MobiledeployError("an export came back in an unknown form: is every host on the same mobiledeploy?")
    ours = {"weights": recipe.weights, "calib": recipe.calib}
    # only absolute worker paths of at least two parts: "" or "/" would make every path the client's
    paths = {v: str(ours[k]) for k, v in answer["paths"].items()
             if k in ours and ours[k] and isinstance(v, str) and v.startswith("/") and len(Path(v).parts) > 2}
    payload = answer.get("payload")
    if not isinstance(payload, transfer.Payload) or not isinstance(payload.manifest, bytes):
        raise MobiledeployError("an export came back in an unknown form: is every host on the same mobiledeploy?")
    from ..readers import parse_json

    doc = parse_json(payload.manifest.decode("utf-8", "replace"), "manifest", "from a worker",
                     "is every host on the same mobiledeploy?")
    if not isinstance(doc, dict):
        raise MobiledeployError("an export came back with a manifest that is not a JSON object: is every host on "
                                "the same mobiledeploy?")
    manifest = (json.dumps(_client_paths(doc, paths), indent=2) + "\n").encode()
    target = recipe.folder(out)
    with Publisher(target, force=True) as pub:
        transfer.write(payload, pub.tmp, manifest, whole=True)
    return Artifact.load(target)


def export_all(lab, opts, todo: list, log, on_ready=None, run_id: str = "", where: dict | None = None,
               between=None, exporters=(), wait: float = 60.0) -> tuple[dict, list[str]]:
    """Export the recipes on the lab's workers that can export (`exporters`: client.Member), one at a time per
    worker; (artifact by cell, error lines), like sweep.run.export_all. Accuracy (--data) is measured here, as each
    artifact arrives. `where` gets each exported cell's label -> the worker's host; `between()` is called every
    POLL seconds while the exports run (the sweep stores the results that came back meanwhile). When no worker
    can export for `wait` seconds, the exports left are given up, each said once."""
    from ..sweep.run import WarningsOnce
    from . import hosts

    got = _Arrivals(opts, len(todo), log, on_ready, where)
    got.warned = WarningsOnce([r.cell.label for r in todo])
    if not todo:
        return got.done, got.errors
    waiting, flying, tries = list(todo), {}, {}
    addresses = [m.address for m in exporters]   # the exporters now (looked at again before each export)

    def submit(r) -> None:
        # inputs go only to the exporters (never to a device-only host), one export per exporter in flight; a
        # lost export is sent again from here (its inputs may have been on the worker that left)
        tries[r.cell] = tries.get(r.cell, 0) + 1
        addresses[:] = _exporters(lab)
        try:
            inputs = lab.client.scatter(inputs_for(r), workers=addresses or None, direct=False, hash=False)
        except MobiledeployError as exc:
            got.fail(r, str(exc))
            return
        fut = lab.client.submit(export_task, r, inputs, key=f"{EXPORT_PREFIX}{r.cell.label}-{run_id}-{tries[r.cell]}",
                                pure=False, resources={hosts.EXPORT_RESOURCE: 1}, retries=0)
        flying[fut] = r

    def fill() -> None:
        while waiting and len(flying) < max(1, len(addresses)):
            submit(waiting.pop(0))

    none_since, looked = None, 0.0
    try:
        fill()
        while flying or waiting:
            # polled (distributed.wait would need this client as the process's default one)
            finished = [f for f in flying if f.done()]
            if not finished:
                time.sleep(POLL)
            if between is not None:
                between()
            for fut in finished:
                r = flying.pop(fut)
                if _lost(fut) and tries[r.cell] < TRIES:
                    log(f"[export] {r.cell.label}: {_why_lost(fut)}; exporting it again")
                    waiting.insert(0, r)
                else:
                    got.one(fut, r)
                fut.release()
            if time.time() - looked > 5 * POLL:   # is any worker left that can export?
                looked = time.time()
                if _exporters(lab):
                    none_since = None
                elif none_since is None:
                    none_since = time.time()
                elif time.time() - none_since > wait:
                    lab.client.cancel(list(flying), force=True)
                    for r in [*flying.values(), *waiting]:
                        got.fail(r, f"no worker of the lab could export for {wait:g} s (the workers with TensorFlow "
                                    "left); run the sweep again when one is back, or with --lab-exports here")
                    flying.clear()
                    waiting.clear()
            fill()
    except BaseException:
        lab.client.cancel(list(flying), force=True)
        raise
    finally:
        got.warned.say()
    return got.done, got.errors


def _lost(fut) -> bool:
    """True when an export ended for its host's sake (the worker or the inputs' worker left, its export process
    died, its TensorFlow does not load), not for the recipe's."""
    if fut.status == "cancelled":
        return True
    if fut.status != "error":
        return False
    exc = fut.exception()
    return isinstance(exc, HostFault) or type(exc).__name__ == "KilledWorker"


def _why_lost(fut) -> str:
    exc = fut.exception() if fut.status == "error" else None
    return str(exc) if isinstance(exc, HostFault) else "its worker left the lab mid-export"


def _exporters(lab) -> list[str]:
    """The addresses of the lab's workers that can export, now."""
    try:
        return [m.address for m in lab.members() if m.facts.can_export]
    except MobiledeployError:
        return []


class _Arrivals:
    """The client's side of the lab's exports as they finish: keep, evaluate, say, hand on."""

    def __init__(self, opts, total: int, log, on_ready, where):
        self.opts, self.total, self.log, self.on_ready, self.where = opts, total, log, on_ready, where
        self.done, self.errors, self.n, self.started, self.warned = {}, [], 0, time.perf_counter(), None

    def fail(self, r, why: str) -> None:
        self.n += 1
        self.errors.append(f"{r.cell.label}: {why}")
        self.log(f"[export {self.n}/{self.total}] {r.cell.label} failed: {why}")

    def one(self, fut, r) -> None:
        from ..progress import eta
        from ..sweep import accuracy
        from ..sweep import worker as export_worker

        try:
            answer = fut.result()
            art = receive(answer, r, Path(self.opts.out))
            if self.opts.data and r.weights:
                for rec in export_worker.evaluate_files(art, self.opts.data, self.opts.wnids, r.precisions):
                    accuracy.append(rec)
        except MobiledeployError as exc:
            self.fail(r, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - the worker left mid-export (KilledWorker, a lost connection)
            self.fail(r, f"its export on the lab did not come back ({type(exc).__name__}: {str(exc)[:200]}); run the "
                         "sweep again")
            return
        self.n += 1
        name, count = r.cell.label, f"[export {self.n}/{self.total}]"
        self.warned.add(name, answer.get("warnings", ()))
        self.done[r.cell] = art
        host = str(answer.get("host"))[:64]
        if self.where is not None:
            self.where[name] = host
        self.log(f"{count} {name} {float(answer.get('seconds') or 0):.1f} s on {host}"
                 f"{eta(self.n, self.total, time.perf_counter() - self.started)}")
        if self.on_ready:
            self.on_ready(r.cell, art)
