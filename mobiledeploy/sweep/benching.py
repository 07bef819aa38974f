"""The sweep's bench stage: its queues and threads only; measuring is the bench session's (bench/session.py).

Every file goes to every device, one thread per device, each device strictly serial. Files are fed to a device
as they become ready. A remote device (an SSH board, an adb phone) gets each artifact as soon as its export
finishes, so it measures while the host still exports; the host itself (`--device local`) gets its files only
after the last export, because exports on its own cores would be measured as its latency. The files a device
has at a time are measured in interleaved rounds; a file that arrives later joins the next round. A result is
stored as soon as it is settled; one already stored with the same settings is skipped (measured again with
--again: a second run).
"""
from __future__ import annotations

import os
import queue
import threading
import time

from ..bench import store
from ..bench.session import Item, Session
from ..progress import eta
from . import cache


class Benching:
    """Per-device bench threads fed with artifacts; `wait()` returns (results stored, error lines)."""

    def __init__(self, opts, sessions: dict[str, Session], log, planned: int):
        self.opts, self.sessions, self.log = opts, sessions, log
        self.have = set() if opts.again else store.measured(list(sessions))
        self.stop, self.lock = threading.Event(), threading.Lock()
        self.stored, self.errors, self.planned = 0, [], planned
        self.queues = {d: queue.Queue() for d in sessions}
        self.threads = [threading.Thread(target=self._loop, args=(d,), daemon=True) for d in sessions]
        for t in self.threads:
            t.start()

    def feed(self, device: str, artifacts: dict) -> None:
        """Queue every precision's file of these artifacts (cell -> Artifact) on one device, at each thread count
        (interleaved with the rest like any other file)."""
        for cell, artifact in sorted(artifacts.items()):
            for p in self.opts.precisions:
                entry = cache.file_entry(artifact, p)
                for t in self.opts.threads:
                    settings = self.opts.settings_for(t)
                    if (device, os.path.realpath(artifact.folder), entry.sha256, settings.key()) in self.have:
                        self.unplan(1)
                        continue
                    self.queues[device].put(Session.job(Item(artifact, entry, cell, settings)))

    @property
    def first_run(self) -> dict[str, float]:
        """Device -> the epoch its first runner started (the sweep's timings)."""
        return {d: s.first_run for d, s in self.sessions.items() if s.first_run is not None}

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
            self.sessions[name].measure([], lambda item, rec, error: self._finished(name, item, rec, error), self.stop,
                            incoming=self.queues[name])
        except Exception as exc:  # noqa: BLE001 - a bug in one device's loop is reported, not a thread traceback
            with self.lock:
                self.errors.append(f"{name}: unexpected {type(exc).__name__}: {exc} (report it)")

    def _finished(self, name: str, item: Item, rec, error: str | None) -> None:
        label = item.tag.variant(item.entry.precision) + (f" ({item.settings.threads} thr)"
                                                          if len(self.opts.threads) > 1 else "")
        if rec is None:
            # Ctrl-C reaches the runner too and makes it fail: give the main thread time to say so
            if self.stop.wait(0.5):
                return
            with self.lock:
                self.errors.append(f"{name} {label}: {error}")
            return
        m = rec.measurement
        with self.lock:
            self.stored += 1
            total = max(self.planned, self.stored)
            self.log(f"[bench {self.stored}/{total}] {name} {label}: median "
                     f"{m.median.value:.2f} ms, {rec.p90.text('p90')}, {m.processes} processes, {m.verdict.word}"
                     f"{eta(self.stored, total, time.time() - min(self.first_run.values(), default=time.time()))}")
