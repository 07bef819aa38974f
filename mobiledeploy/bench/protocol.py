"""The measurement protocol, one implementation for `bench` and `sweep` on every device kind.

Each file is measured by several independent runner processes (a fresh process each: placement and memory
layout are part of the noise), in interleaved rounds over the files of one device (A B C A B C ..., so drift
and other jobs hit every file alike), until the intervals of its median and p90 are within +-width or its
time cap is reached. Pure logic over a `run_one(path) -> raw answer` function, so it is tested on synthetic
samples as well as on real runners.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..errors import MobiledeployError
from .intervals import Pooled, pool, pool_summaries, verdict
from .quietness import busy_during


@dataclass
class Job:
    """One file being measured on one device."""

    key: object
    path: object
    raws: list = field(default_factory=list)
    seconds: float = 0.0
    done: bool = False
    timed_out: bool = False
    error: str | None = None
    pooled: Pooled | None = None
    verdict: tuple[str, str] | None = None


def measure(run_one, jobs: list[Job], settings, finished=None, stop=None, incoming=None) -> list[Job]:
    """Interleaved rounds until every job is done; `finished(job)` is called as each one completes.

    A job's error (a MobiledeployError from its runner) ends that job only. `stop` (an Event) ends the rounds.
    `incoming` (a queue.Queue) brings more jobs while measuring (a sweep's files as their exports finish): each
    joins the next round; a None on it says no more will come, and only then do the rounds end.
    """
    jobs = list(jobs)
    open_ = incoming is not None
    while True:
        if open_:
            open_ = _take(incoming, jobs, not any(not j.done for j in jobs), stop)
        pending = [j for j in jobs if not j.done]
        if not pending and not open_:
            return jobs
        for job in pending:
            if stop is not None and stop.is_set():
                return jobs
            start = time.monotonic()
            try:
                raw = run_one(job.path)
            except MobiledeployError as exc:
                job.error, job.done = str(exc), True
                if finished:
                    finished(job)
                continue
            job.raws.append(raw)
            settled = _settle(job, settings, time.monotonic() - start)
            if settled and finished:
                finished(job)


def _take(incoming, jobs: list, wait: bool, stop) -> bool:
    """Move the jobs waiting on `incoming` into `jobs`, blocking for one when `wait` (nothing else to measure);
    False once the end marker (None) arrived or `stop` is set while waiting."""
    import queue

    while True:
        try:
            item = incoming.get(timeout=0.2) if wait else incoming.get_nowait()
        except queue.Empty:
            if not wait:
                return True
            if stop is not None and stop.is_set():
                return False
            continue
        if item is None:
            return False
        jobs.append(item)
        wait = False


def _settle(job: Job, settings, spent: float) -> bool:
    """Decide whether the job has measured enough; True when it just finished. The time cap counts the runs
    and the intervals' computation alike."""
    start = time.monotonic()
    if len(job.raws) < settings.processes:
        job.seconds += spent
        return False
    if job.raws[-1].get("summary") is not None:  # benchmark_model on a phone: a summary per process, no samples
        job.pooled = pool_summaries([r["summary"] for r in job.raws], settings.confidence)
    else:
        job.pooled = pool([r["latencies_ms"] for r in job.raws], settings.confidence)
    job.seconds += spent + time.monotonic() - start
    if job.pooled.width <= settings.ci_width or job.seconds >= settings.max_seconds:
        job.timed_out = job.pooled.width > settings.ci_width
        job.verdict = verdict(job.pooled, settings.ci_width, job.timed_out, busy_during(job.raws))
        if job.raws[-1].get("summary") is not None:
            job.verdict = (job.verdict[0], job.verdict[1] + "; p90 estimated from each process's median and p95 "
                           "(benchmark_model reports no samples)")
        job.done = True
        return True
    return False
