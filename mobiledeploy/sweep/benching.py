"""The sweep's bench stage: every file on every device, one thread per device, each device strictly serial.

Files are fed to a device as they become ready. A remote device (an SSH board, an adb phone) gets each
artifact as soon as its export finishes, so it measures while the host still exports; the host itself
(`--device local`) gets its files only after the last export, because exports on its own cores would be
measured as its latency. The files a device has at a time are measured in interleaved rounds (protocol.py);
a file that arrives later joins the next round. A result is stored as soon as it is settled; one already
stored with the same settings is skipped (measured again with --again: a second run).
"""
from __future__ import annotations

import queue
import threading
import time

from ..bench import measure, store
from ..bench.protocol import Job, measure as protocol_measure
from ..bench.record import check_runner_answer
from . import cache


class Benching:
    """Per-device bench threads fed with artifacts; `wait()` returns (results stored, error lines)."""

    def __init__(self, opts, targets: dict, log, planned: int):
        self.opts, self.targets, self.log = opts, targets, log
        self.have = set() if opts.again else {(r.device, r.sha256) for r in store.history()
                                              if r.settings.key() == opts.settings.key()}
        self.stop, self.lock = threading.Event(), threading.Lock()
        self.stored, self.errors, self.planned = 0, [], planned
        self.first_run: dict[str, float] = {}   # device -> epoch its first runner started
        self.queues = {d: queue.Queue() for d in targets}
        self.threads = [threading.Thread(target=self._loop, args=(d,), daemon=True) for d in targets]
        for t in self.threads:
            t.start()

    def feed(self, device: str, artifacts: dict) -> None:
        """Queue every precision's file of these artifacts (cell -> Artifact) on one device."""
        for cell, artifact in sorted(artifacts.items()):
            for p in self.opts.precisions:
                entry = cache.file_entry(artifact, p)
                if (device, entry.sha256) in self.have:
                    self.unplan(1)
                    continue
                self.queues[device].put(Job((cell, artifact, entry), artifact.path(entry)))

    def unplan(self, n: int) -> None:
        """n planned files will not be benched (stored already, or their export failed)."""
        with self.lock:
            self.planned -= n

    def close(self, device: str) -> None:
        """No more files will come for this device."""
        self.queues[device].put(None)

    def wait(self) -> tuple[int, list[str]]:
        """Join every device's thread (Ctrl-C stops them: the runner on the device too)."""
        try:
            for t in self.threads:
                while t.is_alive():
                    t.join(0.2)
        except KeyboardInterrupt:
            self.abort()
            raise
        return self.stored, self.errors

    def abort(self) -> None:
        """Stop every device after its current runner."""
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def _loop(self, name: str) -> None:
        try:
            self._device(name)
        except Exception as exc:  # noqa: BLE001 - a bug in one device's loop is reported, not a thread traceback
            with self.lock:
                self.errors.append(f"{name}: unexpected {type(exc).__name__}: {exc} (report it)")

    def _device(self, name: str) -> None:
        opts, target = self.opts, self.targets[name]

        def run_one(path):
            self.first_run.setdefault(name, time.time())
            raw = target.run(path, opts.settings)
            check_runner_answer(raw, opts.settings, name)
            return raw

        protocol_measure(run_one, [], opts.settings, lambda job: self._finished(name, job), self.stop,
                         incoming=self.queues[name])

    def _finished(self, name: str, job: Job) -> None:
        opts = self.opts
        cell, artifact, e = job.key
        label = cell.variant(e.precision)
        if job.error is not None:
            # Ctrl-C reaches the runner too and makes it fail: give the main thread time to say so
            if self.stop.wait(0.5):
                return
            with self.lock:
                self.errors.append(f"{name} {label}: {job.error}")
            return
        rec = measure.record(artifact, name, e, opts.settings, job.raws, job,
                             before=opts.stats.get("not_quiet", {}).get(name))
        with self.lock:
            if opts.settings.strict and rec.unstable:
                self.errors.append(f"{name} {label}: unstable ({rec.protocol.get('verdict_reason')}): not stored "
                                   "(--strict)")
                return
            store.append(rec)
            self.stored += 1
            ci = rec.p90_interval
            p90 = f"p90 {rec.p90_ms:.2f} ms" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
            self.log(f"[bench {self.stored}/{max(self.planned, self.stored)}] {name} {label}: median "
                     f"{rec.median_ms:.2f} ms, {p90}, {rec.protocol.get('processes', 1)} processes, "
                     f"{rec.protocol.get('verdict', 'one run')}")
