"""The measurement protocol, one implementation for every device kind (its one caller: bench/session.py).

Each file is measured by several independent runner processes (a fresh process each: placement and memory
layout are part of the noise), in interleaved rounds over the files of one device (A B C A B C ..., so drift
and other jobs hit every file alike), until the intervals of its median and p90 are within +-width or its
time cap is reached. Pure logic over a `run_one(job) -> Answer` function (bench/answers.py), so it is tested
on synthetic samples as well as on real runners.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..errors import MobiledeployError
from .intervals import Pooled
from .measurement import Measurement, measured, pooled_of
from .quietness import Quietness


@dataclass
class Job:
    """One file being measured on one device."""

    key: object
    path: object
    answers: list = field(default_factory=list)
    seconds: float = 0.0
    done: bool = False
    timed_out: bool = False
    error: str | None = None
    pooled: Pooled | None = None
    measurement: Measurement | None = None


def measure(run_one, jobs: list[Job], settings, finished=None, stop=None, incoming=None,
            before: Quietness = Quietness()) -> list[Job]:
    """Interleaved rounds until every job is done; `finished(job)` is called as each one completes.

    A job's error (a MobiledeployError from its runner) ends that job only. `stop` (an Event) ends the rounds.
    `incoming` (a queue.Queue) brings more jobs while measuring (a sweep's files as their exports finish): each
    joins the next round; a None on it says no more will come, and only then do the rounds end. `before`: how
    quiet the device's probe found it (each measurement's quietness starts from it).
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
                answer = run_one(job)
            except MobiledeployError as exc:
                job.error, job.done = str(exc), True
                if finished:
                    finished(job)
                continue
            job.answers.append(answer)
            settled = _settle(job, settings, time.monotonic() - start, before)
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


def _settle(job: Job, settings, spent: float, before: Quietness) -> bool:
    """Decide whether the job has measured enough; True when it just finished. The time cap counts the runs
    and the intervals' computation alike."""
    start = time.monotonic()
    if len(job.answers) < settings.processes:
        job.seconds += spent
        return False
    job.pooled = pooled_of(job.answers, settings.confidence)
    job.seconds += spent + time.monotonic() - start
    if job.pooled.width <= settings.ci_width or job.seconds >= settings.max_seconds:
        job.timed_out = job.pooled.width > settings.ci_width
        job.measurement = measured(job.answers, job.pooled, settings.ci_width, job.timed_out, before)
        job.done = True
        return True
    return False
