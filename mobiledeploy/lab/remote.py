"""The lab's one task: a device's bench session on the worker that serves it (it runs there, not here).

A sweep submits one task per device with `resources={device: 1}`, so Dask runs it on that device's worker and
never two on one device. The task opens the device like `bench` does (bench/session.py, the one producer,
unchanged: probe, quietness, interleaved rounds), takes the artifacts the client sends on the device's inbox
(a Dask Queue of scattered payloads; None ends it) as they are exported, and puts each settled result on the
outbox as soon as it is settled, as the record's plain dict, so a worker lost mid-sweep loses nothing that was
measured. It stops after the current runner when the client cancels it or goes away, or the worker stops.
"""
from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass

POLL = 0.3                       # seconds between looks at the device's inbox
STOPPING = threading.Event()     # set when this worker shuts down: every bench here stops after its runner


@dataclass(frozen=True)
class Batch:
    """What a client sends a device at once (scattered to its worker, its future put on the device's inbox): an
    artifact's payload and which of its files to measure at which settings."""

    payload: object   # transfer.Payload
    files: tuple      # ((file name, BenchSettings, tag text), ...)


def _cancelled(worker, key) -> bool:
    ts = worker.state.tasks.get(key)
    return ts is None or ts.state not in ("executing", "long-running")


def bench_device(device: str, own: str, inbox: str, outbox: str, settings, threads: list, insecure: bool,
                 host: str) -> dict:
    """Measure what arrives on `inbox` on this worker's device `own` (lab name `device`); results on `outbox`."""
    from distributed import Queue, get_worker

    from ..bench import devices
    from ..bench.session import Item, Session
    from . import transfer

    worker = get_worker()
    key = worker.get_current_task()
    q_in, q_out = Queue(inbox), Queue(outbox)
    stop = threading.Event()
    incoming: queue.Queue = queue.Queue()
    session = Session(own, settings, insecure, devices.load()[own], keep=False)
    done = {"measured": 0, "failed": 0}

    def send(msg: dict) -> None:
        try:
            q_out.put({"device": device, "host": host, **msg})
        except Exception:  # noqa: BLE001 - the client is gone: nothing to tell
            stop.set()

    def feed() -> None:
        # drained without blocking (get(batch=True)) and polled: a blocking get would outlive a cancelled task
        while not stop.wait(POLL):
            try:
                got = q_in.get(batch=True)
            except Exception:  # noqa: BLE001 - the queue is gone with its client
                break
            for item in got:
                if item is None:
                    incoming.put(None)
                    return
                try:
                    batch = item.result()
                    art = transfer.unpack(batch.payload)
                    for name, file_settings, tag in batch.files:
                        incoming.put(Session.job(Item(art, art.entry(name), tag, file_settings)))
                except Exception as exc:  # noqa: BLE001 - an artifact that cannot be measured here: said, not fatal
                    send({"type": "lost", "line": str(exc) if _user(exc) else f"{type(exc).__name__}: {exc}"})
        incoming.put(None)

    def watch() -> None:
        while not stop.wait(0.5):
            if _cancelled(worker, key) or STOPPING.is_set():
                stop.set()

    def finished(item, rec, error) -> None:
        done["measured" if rec is not None else "failed"] += 1
        send({"type": "result", "tag": item.tag, "file": item.entry.name, "sha256": item.entry.sha256,
              "threads": (item.settings or settings).threads, # the record as its store line (JSON text): what crosses hosts is read back by BenchRecord.from_dict
              "record": json.dumps(rec.to_dict(), default=str, allow_nan=False) if rec is not None else None,
              "error": error})

    session.open(threads)
    feeder = threading.Thread(target=feed, daemon=True, name=f"lab-feed-{device}")
    watcher = threading.Thread(target=watch, daemon=True, name=f"lab-watch-{device}")
    feeder.start()
    watcher.start()
    try:
        session.measure([], finished, stop, incoming, several=True)
    finally:
        stop.set()
        session.close()
    return {"device": device, "host": host, **done, "stopped": _cancelled(worker, key) or STOPPING.is_set()}


def _user(exc) -> bool:
    from ..errors import MobiledeployError

    return isinstance(exc, MobiledeployError)
