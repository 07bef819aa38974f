"""A sweep's run over a lab: export on the workers that can (lab/exports.py) or here, bench each device on the
worker that serves it, store here.

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
from . import exports, hosts, remote, transfer

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
        self.missed: dict[str, list] = {d: [] for d in members}      # device -> labels it will not measure
        self.lost: dict[str, str] = {}                              # device -> why its task ended early
        self.failed: dict[str, set] = {d: set() for d in members}    # device -> labels whose bench failed (said)
        self.later: list[str] = []                                  # devices fed only once the exports are over
        self.errors: list[str] = []
        self.stored = 0
        self.planned = 0
        self.folders: dict[str, str] = {}                           # sha256 -> this client's artifact folder
        self.inboxes: dict = {}
        self.futures: dict = {}
        self.ended: set[str] = set()
        self.first_run: dict[str, float] = {}
        self.started = time.time()
        self.exported_on: dict[str, str] = {}                       # cell label -> the worker that exported it
        self.artifacts: dict = {}                                   # cell -> Artifact: every one sent so far
        self.waiting: dict[str, tuple] = {}                         # device -> (since, why): its worker left
        self.takeovers: dict[str, int] = {}                         # device -> workers that took it over
        self.closed = False                                         # the exports are over: inboxes get None
        self.rejoin = float(lab.rejoin)

    # ---- the client's side of each device's task ----------------------------------------------------------
    def submit(self) -> None:
        from distributed import Queue

        self.outbox = Queue(f"mobiledeploy-out-{self.id}", client=self.lab.client)
        for device in self.members:
            self.start(device)

    def start(self, device: str) -> None:
        """The device's task on the worker serving it now, with an inbox of its own (a new one on a takeover)."""
        from distributed import Queue

        member = self.members[device]
        old = self.inboxes.get(device)
        if old is not None:
            try:
                old.close()
            except Exception:  # noqa: BLE001 - closing a queue of a task that is gone
                pass
        n = self.takeovers.get(device, 0)
        suffix = f"-{n}" if n else ""
        self.inboxes[device] = Queue(f"mobiledeploy-in-{self.id}-{device}{suffix}", client=self.lab.client)
        self.futures[device] = self.lab.client.submit(
            remote.bench_device, device, member.facts.devices[device], self.inboxes[device].name,
            self.outbox.name, self.opts.settings, list(self.opts.threads), self.opts.insecure, member.facts.host,
            key=f"{hosts.TASK_PREFIX}{device}-{self.id}{suffix}", resources={hosts.resource(device): 1}, pure=False,
            workers=[member.address], allow_other_workers=False)

    def unmeasured(self, device: str, artifacts: dict):
        """(cell, artifact, file name, settings, threads, sha256, label) of each file of these artifacts the
        device has no result for (stored before the run or come back since)."""
        from ..sweep import cache

        for cell, artifact in sorted(artifacts.items()):
            for p in self.opts.precisions:
                entry = cache.file_entry(artifact, p)
                self.folders[entry.sha256] = str(Path(artifact.folder).resolve())
                for t in self.opts.threads:
                    settings = self.opts.settings_for(t)
                    if (device, os.path.realpath(artifact.folder), entry.sha256, settings.key()) in self.have:
                        continue
                    label = cell.variant(p) + (f" ({t} thr)" if len(self.opts.threads) > 1 else "")
                    yield cell, artifact, entry.name, settings, t, entry.sha256, label

    def feed(self, device: str, artifacts: dict) -> None:
        """Send these artifacts' files that the store lacks to one device's worker."""
        self.artifacts.update(artifacts)
        if device in self.waiting:   # its worker left: what it lacks is sent to the worker that takes it over
            return
        by_cell: dict = {}
        for cell, artifact, name, settings, t, sha, label in self.unmeasured(device, artifacts):
            if device in self.ended:   # its worker left: the file is one it will not measure
                self.missed[device].append(label)
                continue
            if (sha, t) in self.pending[device] or label in self.failed[device]:
                continue   # on its way already (sent to the worker that took it over), or failed and said so
            by_cell.setdefault(cell, (artifact, []))[1].append((name, settings, label))
            with self.lock:
                self.pending[device][(sha, t)] = label
                self.planned += 1
        for cell, (artifact, files) in by_cell.items():
            if device in self.ended:
                self.missed[device].extend(f[2] for f in files)
                continue
            if files:
                batch = remote.Batch(transfer.pack(artifact, [f[0] for f in files]), tuple(files))
                try:
                    fut = self.lab.client.scatter(batch, workers=[self.members[device].address], direct=False,
                                                  hash=False)
                    self.inboxes[device].put(fut)
                except Exception as exc:  # noqa: BLE001 - its worker left (KeyError: no such worker) or the lab did
                    self.futures[device].cancel()
                    member = self.members[device]
                    if isinstance(exc, KeyError) and self.rejoin > 0:   # left: it may come back (take_over)
                        self._wait_for(device, f"worker {member.facts.host} ({member.address}) left the lab")
                        return
                    self._end(device, f"worker {member.facts.host} ({member.address}) left the lab"
                              if isinstance(exc, KeyError) else f"sending it {cell.label} failed: {exc}")

    def close_inboxes(self) -> None:
        self.closed = True
        for device, q in self.inboxes.items():
            if device not in self.ended and device not in self.waiting:
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

    def collect_some(self) -> None:
        """Store what came back and end the devices whose worker left, while the exports run."""
        self.collect(0)
        self.check()

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
                self.failed[device].add(label)
            return
        rec = dataclasses.replace(
            rec, device=device, artifact=self.folders.get(rec.sha256, rec.artifact),
            device_facts=dataclasses.replace(rec.device_facts, host=host))
        store.append(rec)
        with self.lock:   # measured: a worker taking the device over is not sent it again
            self.have.add((device, os.path.realpath(rec.artifact), rec.sha256, tuple(rec.settings.key())))
        m = rec.measurement
        with self.lock:
            self.stored += 1
            self.first_run.setdefault(device, time.time())
            total = max(self.planned, self.stored)
            self.log(f"[bench {self.stored}/{total}] {device} on {host} {label}: median {m.median.value:.2f} ms, "
                     f"{rec.p90.text('p90')}, {m.processes} processes, {m.verdict.word}")

    # ---- faults -------------------------------------------------------------------------------------------
    def check(self) -> None:
        """End the devices whose task finished or failed; a device whose worker left waits for it (take_over)."""
        alive = set(self.lab.client.scheduler_info()["workers"])
        if self.waiting:
            self.take_over()
        for device, fut in self.futures.items():
            if device in self.ended or device in self.waiting:
                continue
            member = self.members[device]
            gone = member.address not in alive or (fut.status == "error"
                                                  and type(fut.exception()).__name__ == "KilledWorker")
            if fut.status == "finished":
                self.collect(0.2)
                self._end(device, None)
            elif gone:
                self.collect(0.5)
                fut.cancel()
                why = f"worker {member.facts.host} ({member.address}) left the lab"
                if self.rejoin > 0:
                    self._wait_for(device, why)
                else:
                    self._end(device, why)
            elif fut.status == "error":
                self.collect(0.2)
                exc = fut.exception()
                self._end(device, f"{type(exc).__name__}: {exc}" if not isinstance(exc, MobiledeployError)
                          else str(exc))
            elif fut.status == "cancelled":
                self._end(device, "its bench was cancelled")

    def _wait_for(self, device: str, why: str) -> None:
        """The device's worker left: what it was sent and had not measured waits for a worker to take it over."""
        self.log(f"[lab] {device}: {why}; waiting up to {self.rejoin:g} s for a worker to serve it again")
        with self.lock:
            self.planned -= len(self.pending[device])
            self.pending[device].clear()   # sent again to the worker that takes it over, less what came back
        self.waiting[device] = (time.time(), why)

    def take_over(self) -> None:
        """A device whose worker left, served again (its worker restarted, or another host took it): the rest of
        its files go to the new worker; one that waited REJOIN seconds in vain ends, its files missed."""
        try:
            served = self.lab.devices()
        except MobiledeployError:
            served = {}
        for device, (since, why) in list(self.waiting.items()):
            member = served.get(device)
            if member is not None and member.address != self.members[device].address:
                del self.waiting[device]
                self.takeovers[device] = self.takeovers.get(device, 0) + 1
                self.members[device] = member
                self.start(device)
                if self.closed or device not in self.later:   # a host's own CPU: only once the exports are over
                    self.feed(device, dict(self.artifacts))
                left = len(self.pending[device])
                self.log(f"[lab] {device}: worker {member.facts.host} ({member.address}) serves it again: "
                         f"{left} file(s) left to measure there")
                if self.closed:
                    self.inboxes[device].put(None)
            elif time.time() - since > self.rejoin:
                del self.waiting[device]
                with self.lock:   # what it had, and what was exported for it while it waited
                    self.missed[device].extend(f[-1] for f in self.unmeasured(device, dict(self.artifacts))
                                               if f[-1] not in self.failed[device])
                self._end(device, f"{why} and no worker served it again within {self.rejoin:g} s")

    def _end(self, device: str, why: str | None) -> None:
        """The device's task is over: what it had not measured is missed (files exported later join them)."""
        self.ended.add(device)
        with self.lock:
            self.missed[device].extend(self.pending[device].values())
            self.pending[device].clear()
            if why is not None or self.missed[device]:
                self.lost[device] = why or "ended early"

    def lost_lines(self) -> list[str]:
        """One line per device whose task ended early: its worker and the files it did not measure."""
        out = []
        for device, why in self.lost.items():
            left = sorted(set(self.missed[device]) - self.failed[device])   # a failed bench has its own line
            what = f"{len(left)} file(s) not measured: {', '.join(left)}" if left else "nothing was left to measure"
            out.append(f"{device} (worker {self.members[device].facts.host}): {why}; {what}; run the sweep again to "
                       "measure what is missing")
        return out

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
    def exporters(self, todo: list):
        """The workers the exports run on (each with TensorFlow), or None to export on this machine."""
        mode = getattr(self.lab, "exports", "auto")
        if not todo or mode == "here":
            return None
        able = [m for m in self.lab.members() if m.facts.can_export]
        why = "no worker of the lab has TensorFlow" if not able else next(
            (f"{r.cell.label}: {w}" for r in todo if (w := exports.why_not_sendable(r))), None)
        if why is None:
            self.log(f"sweep: exporting on the lab's {', '.join(m.facts.host for m in able)}")
            return able
        if mode == "lab":
            raise MobiledeployError(f"--lab-exports lab: {why} (export on this machine with --lab-exports here)")
        self.log(f"sweep: exporting on this machine ({why})")
        return None

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
        exporters = self.exporters(todo)
        # a host's own CPU measures only after the exports of the hosts that export (this one, with --data too: it
        # evaluates); every other device from the first artifact
        busy = {m.facts.machine for m in exporters or ()}
        if exporters is None or opts.data:
            busy.add(socket.gethostname())
        later = self.later = [d for d, m in self.members.items()
                              if m.facts.devices[d] == "local" and m.facts.machine in busy]
        early = [d for d in self.members if d not in later]
        t_export = time.perf_counter()
        made, errors = {}, []
        try:
            self.submit()
            for d in early:
                self.feed(d, artifacts)
            ready = lambda cell, art: [self.feed(d, {cell: art}) for d in early]  # noqa: E731
            if exporters:
                made, errors = exports.export_all(self.lab, opts, todo, log, on_ready=ready, run_id=self.id,
                                                  where=self.exported_on, between=self.collect_some,
                                                  exporters=exporters, wait=max(self.rejoin, 30.0))
            else:
                made, errors = export_all(opts, todo, log, on_ready=ready)
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
                "errors": errors + self.errors + self.lost_lines(), "export_seconds": round(t_bench - t_export, 2),
                "bench_seconds": round(time.perf_counter() - t_bench, 2),
                "seconds_before_first_bench": round(first - self.started, 2), "first_bench_epoch": first,
                "first_run_epoch": dict(self.first_run), "exports_done_epoch": exports_done,
                "seconds": round(time.perf_counter() - start, 2), "lab": {
                    d: m.facts.host for d, m in self.members.items()},
                "exported_on": {label: self.exported_on.get(label, "here") for label in sorted(
                    c.label for c in made)},
                "artifacts": {cell.label: str(art.folder) for cell, art in sorted(artifacts.items())}}
