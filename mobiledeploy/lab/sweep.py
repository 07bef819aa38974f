"""A sweep's run over a lab: export here, bench each device on the worker that serves it, store here.

The same run as sweep/run.py (cache, exports in parallel processes, each result stored as soon as it is
settled, a re-run measures only what is missing), with the bench stage handed to Dask: one task per device
(lab/remote.py) with `resources={device: 1}`, artifacts sent to it as they are exported (the host's own CPU
only after the exports, when it is this machine's), results coming back on a Dask Queue as plain record dicts
and stored by this client, each naming the worker's host. A worker lost mid-sweep: one line per device naming
it and its files not measured; the other devices go on. Ctrl-C or SIGTERM cancels the lab's tasks (each stops
after its current runner) and keeps what was measured.
"""
from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from ..errors import MobiledeployError
from . import hosts, remote, transfer

POLL = 0.5           # seconds between looks at the lab's workers and the device tasks
DRAIN = 3.0          # seconds an interrupted sweep waits for results already on their way


def runner(lab, members: dict):
    """A replacement for sweep.run.run that benches on the lab (sweep/plan.py takes it as `runner`)."""
    return lambda opts, log=None: run(lab, members, opts, log)


def run(lab, members: dict, opts, log=None) -> dict:
    """`lab`: a client.Lab; `members`: device -> the client.Member serving it."""
    from ..progress import console
    from ..sweep import run as sweep_run

    log = log or (lambda line: console.print(line, markup=False, highlight=False))
    start = time.perf_counter()
    recs = {r.cell: r for r in sweep_run.recipes(opts)}
    with sweep_run._only_sweep_in(Path(opts.out)):
        return LabRun(lab, members, opts, log).run(recs, start)


class LabRun:
    """One run's state: per device its task, inbox and files still to come back."""

    def __init__(self, lab, members: dict, opts, log):
        from ..bench import store

        self.lab, self.members, self.opts, self.log = lab, members, opts, log
        self.id = uuid.uuid4().hex[:12]
        # what the store has for these devices only (one query), not every record a team's store holds
        self.have = set() if opts.again else store.measured(list(members))
        self.lock = threading.Lock()
        self.pending: dict[str, dict] = {d: {} for d in members}     # device -> (sha, threads) -> label
        self.errors: list[str] = []
        self.stored = 0
        self.planned = 0
        self.folders: dict[str, str] = {}                           # sha256 -> this client's artifact folder
        self.inboxes: dict = {}
        self.futures: dict = {}
        self.ended: set[str] = set()
        self.first_run: dict[str, float] = {}
        self.started = time.time()

    # ---- the client's side of each device's task ----------------------------------------------------------
    def submit(self) -> None:
        from distributed import Queue

        self.outbox = Queue(f"mobiledeploy-out-{self.id}", client=self.lab.client)
        for device, member in self.members.items():
            self.inboxes[device] = Queue(f"mobiledeploy-in-{self.id}-{device}", client=self.lab.client)
            self.futures[device] = self.lab.client.submit(
                remote.bench_device, device, member.facts.devices[device], self.inboxes[device].name,
                self.outbox.name, self.opts.settings, list(self.opts.threads), self.opts.insecure, member.facts.host,
                key=f"{hosts.TASK_PREFIX}{device}-{self.id}", resources={hosts.resource(device): 1}, pure=False,
                workers=[member.address], allow_other_workers=False)

    def feed(self, device: str, artifacts: dict) -> None:
        """Send these artifacts' files that the store lacks to one device's worker."""
        from ..sweep import cache

        if device in self.ended:
            return
        for cell, artifact in sorted(artifacts.items()):
            files = []
            for p in self.opts.precisions:
                entry = cache.file_entry(artifact, p)
                self.folders[entry.sha256] = str(Path(artifact.folder).resolve())
                for t in self.opts.threads:
                    settings = self.opts.settings_for(t)
                    if (device, os.path.realpath(artifact.folder), entry.sha256, settings.key()) in self.have:
                        continue
                    label = cell.variant(p) + (f" ({t} thr)" if len(self.opts.threads) > 1 else "")
                    files.append((entry.name, settings, label))
                    with self.lock:
                        self.pending[device][(entry.sha256, t)] = label
                        self.planned += 1
            if files:
                batch = remote.Batch(transfer.pack(artifact, [f[0] for f in files]), tuple(files))
                try:
                    fut = self.lab.client.scatter(batch, workers=[self.members[device].address], direct=False,
                                                  hash=False)
                    self.inboxes[device].put(fut)
                except Exception as exc:  # noqa: BLE001 - its worker left (KeyError: no such worker) or the lab did
                    self.futures[device].cancel()
                    member = self.members[device]
                    self._end(device, f"worker {member.facts.host} ({member.address}) left the lab"
                              if isinstance(exc, KeyError) else f"sending it {cell.label} failed: {exc}")
                    return

    def close_inboxes(self) -> None:
        for device, q in self.inboxes.items():
            if device not in self.ended:
                q.put(None)

    # ---- results ------------------------------------------------------------------------------------------
    def collect(self, timeout: float = POLL) -> None:
        """Store every result waiting on the outbox (each as it is settled: a Ctrl-C keeps it)."""
        deadline = time.time() + timeout
        while True:
            try:
                msgs = self.outbox.get(batch=True)    # what is waiting, without blocking
            except Exception:  # noqa: BLE001 - the scheduler is gone: check() says so
                return
            for msg in msgs or ():
                self._one(msg)
            if msgs or time.time() >= deadline:
                return
            time.sleep(min(0.1, max(0.0, deadline - time.time())))

    def _one(self, msg) -> None:
        from ..bench import store
        from ..bench.record import BadRecord, BenchRecord
        from ..readers import parse_json

        if not isinstance(msg, dict) or msg.get("device") not in self.members:
            return
        device = msg["device"]
        host = self.members[device].facts.host
        if msg.get("type") == "lost":
            with self.lock:
                self.errors.append(f"{device} (worker {host}): {str(msg.get('line'))[:300]}")
            return
        key = (msg.get("sha256"), msg.get("threads"))
        label = self.pending[device].get(key, str(msg.get("file"))[:80])
        rec = None
        if msg.get("record") is not None:
            try:
                rec = BenchRecord.from_dict(parse_json(str(msg["record"]), "result", f"from worker {host}",
                                                        "is every host on the same mobiledeploy?"))
            except (BadRecord, MobiledeployError, TypeError) as exc:
                msg["error"] = f"its result did not read back: {exc}"
        with self.lock:
            self.pending[device].pop(key, None)
        if rec is None:
            with self.lock:
                self.errors.append(f"{device} {label}: {str(msg.get('error'))[:300]}")
            return
        rec = dataclasses.replace(
            rec, device=device, artifact=self.folders.get(rec.sha256, rec.artifact),
            device_facts=dataclasses.replace(rec.device_facts, host=host))
        store.append(rec)
        m = rec.measurement
        with self.lock:
            self.stored += 1
            self.first_run.setdefault(device, time.time())
            total = max(self.planned, self.stored)
            self.log(f"[bench {self.stored}/{total}] {device} on {host} {label}: median {m.median.value:.2f} ms, "
                     f"{rec.p90.text('p90')}, {m.processes} processes, {m.verdict.word}")

    # ---- faults -------------------------------------------------------------------------------------------
    def check(self) -> None:
        """End the devices whose task finished, failed, or whose worker left the lab."""
        alive = set(self.lab.client.scheduler_info()["workers"])
        for device, fut in self.futures.items():
            if device in self.ended:
                continue
            member = self.members[device]
            if fut.status == "finished":
                self.collect(0.2)
                self._end(device, None)
            elif fut.status == "error":
                self.collect(0.2)
                exc = fut.exception()
                self._end(device, f"{type(exc).__name__}: {exc}" if not isinstance(exc, MobiledeployError)
                          else str(exc))
            elif fut.status == "cancelled":
                self._end(device, "its bench was cancelled")
            elif member.address not in alive:
                self.collect(0.5)
                fut.cancel()
                self._end(device, f"worker {member.facts.host} ({member.address}) left the lab")

    def _end(self, device: str, why: str | None) -> None:
        self.ended.add(device)
        left = sorted(self.pending[device].values())
        if why is None and not left:
            return
        host = self.members[device].facts.host
        what = f"{len(left)} file(s) not measured: {', '.join(left)}" if left else "nothing was left to measure"
        with self.lock:
            self.errors.append(f"{device} (worker {host}): {why or 'ended early'}; {what}; run the sweep again to "
                               "measure what is missing")
            self.pending[device].clear()

    def cancel(self) -> None:
        """Cancel every task of this run (each stops after its current runner) and keep what already came back."""
        try:
            self.lab.client.cancel(list(self.futures.values()), force=True)
        except Exception:  # noqa: BLE001 - the scheduler is gone: the workers' tasks end with it
            return
        deadline = time.time() + DRAIN
        while time.time() < deadline:
            self.collect(0.2)

    def release(self) -> None:
        for q in [*self.inboxes.values(), getattr(self, "outbox", None)]:
            try:
                if q is not None:
                    q.close()
            except Exception:  # noqa: BLE001 - closing on a lost connection
                pass

    # ---- the run ------------------------------------------------------------------------------------------
    def run(self, recs: dict, start: float) -> dict:
        from ..fsutil import remove_stale_temporaries
        from ..sweep.run import cached_and_todo, evaluate_cached, export_all

        opts, log = self.opts, self.log
        gone = remove_stale_temporaries(opts.out)
        if gone:
            log(f"sweep: removed {len(gone)} temporary folder(s) a killed run left in {opts.out}")
        artifacts, todo = cached_and_todo(recs, opts.out)
        where = ", ".join(f"{d} on {m.facts.host}" for d, m in self.members.items())
        log(f"sweep: {len(recs)} cells x {len(opts.precisions)} precisions on the lab's {where}; "
            f"{len(artifacts)} cached, {len(todo)} to export")
        evaluate_cached(opts, artifacts, recs, log)
        here = socket.gethostname()
        # this machine's own CPU measures only after this machine's exports; every other device from the first
        later = [d for d, m in self.members.items() if m.facts.devices[d] == "local" and m.facts.machine == here]
        early = [d for d in self.members if d not in later]
        t_export = time.perf_counter()
        made, errors = {}, []
        try:
            self.submit()
            for d in early:
                self.feed(d, artifacts)
            made, errors = export_all(opts, todo, log,
                                      on_ready=lambda cell, art: [self.feed(d, {cell: art}) for d in early])
            artifacts.update(made)
            t_bench = time.perf_counter()
            exports_done = time.time()
            for d in later:
                self.feed(d, artifacts)
            self.close_inboxes()
            while len(self.ended) < len(self.futures):
                self.collect()
                self.check()
            self.collect(0.2)
        except BaseException:
            self.cancel()
            raise
        finally:
            self.release()
        first = min(self.first_run.values(), default=time.time())
        return {"cells": len(recs), "cached": len(recs) - len(todo), "exported": len(made), "benched": self.stored,
                "errors": errors + self.errors, "export_seconds": round(t_bench - t_export, 2),
                "bench_seconds": round(time.perf_counter() - t_bench, 2),
                "seconds_before_first_bench": round(first - self.started, 2), "first_bench_epoch": first,
                "first_run_epoch": dict(self.first_run), "exports_done_epoch": exports_done,
                "seconds": round(time.perf_counter() - start, 2), "lab": {
                    d: m.facts.host for d, m in self.members.items()},
                "artifacts": {cell.label: str(art.folder) for cell, art in sorted(artifacts.items())}}
