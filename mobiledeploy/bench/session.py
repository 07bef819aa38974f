"""The one producer of measurements: a bench session on one device.

Open the device, probe it, judge its quietness (`--strict` refuses a busy one), measure files by the protocol
(bench/protocol.py, its only caller), turn each file's answers into a `BenchRecord`, refuse an unstable one
under `--strict`, store it. `bench`, `pick --refine` and the sweep's bench stage all measure through here.

Inputs and results are plain and picklable (artifact folders and file names in, `Outcome` of typed records
out: `bench_files`), so the same session can run in another process or on another host.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..artifact.bundle import Artifact
from ..artifact.manifest import FileEntry
from ..artifact.labels import printable
from ..errors import MobiledeployError
from ..litert import is_utf8
from ..version import __version__
from . import answers, devices, store
from .measurement import DeviceFacts
from .protocol import Job, measure
from .quietness import Quietness
from .record import BenchRecord, ModelFacts, absolute
from .runner_io import check_cpu_mask
from .settings import BenchSettings
from .targets import open_target

log = logging.getLogger("mobiledeploy")


@dataclass(frozen=True)
class Item:
    """One file to measure: its artifact, its manifest entry, the caller's own tag (a sweep's cell) and, when
    they differ from the session's (a sweep's thread counts), its own settings."""

    artifact: Artifact
    entry: FileEntry
    tag: object = None
    settings: BenchSettings | None = None


@dataclass
class Outcome:
    """What a session measured (each record stored already, unless told not to store) and which files failed."""

    device: str
    artifact: str
    records: list[BenchRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"device": self.device, "artifact": self.artifact, "results": [r.to_dict() for r in self.records],
                "errors": self.errors}


def runnable(entries: list, kind: str, probe: dict) -> list:
    """The files a device can run: TFLite when it has a TFLite runtime; ONNX when it has onnxruntime."""
    can = {
        "tflite": kind in ("adb", "local") or bool(probe.get("tflite_runtime")),
        "onnx": kind == "local" or (kind == "ssh" and bool(probe.get("onnxruntime_version"))),
    }
    return [e for e in entries if can.get(e.format, False)]


def latest_artifact(models: Path = Path("models")) -> Path:
    """The most recently written artifact under models/ (what `bench --device X` measures by default)."""
    found = sorted((p for p in models.glob("*/manifest.json")), key=lambda p: p.stat().st_mtime)
    if not found:
        raise MobiledeployError(f"no artifact in {models}/: run mobiledeploy export first, or name one")
    return found[-1].parent


class Session:
    """One device opened for measuring: its connection, its probe and how quiet it was found."""

    def __init__(self, device: str, settings: BenchSettings, insecure: bool = False, entry: dict | None = None,
                 keep: bool = True, run: str | None = None):
        self.device, self.settings, self.insecure = device, settings, insecure
        self.run = run                 # the sweep run its records belong to (None: a bench of its own)
        self.entry = entry if entry is not None else devices.get(device)
        self.keep = keep               # store each record (a lab worker sends them back instead)
        self.target = None
        self.probe: dict = {}
        self.before = Quietness()
        self.first_run: float | None = None   # the epoch its first runner started

    @property
    def kind(self) -> str:
        return self.entry.get("kind")

    def open(self, threads: list[int] | None = None) -> "Session":
        """Connect and probe; a busy device earns one warning (or, with --strict, a refusal), and so do more
        threads (`threads`: every count it will measure; default the settings') than the device has cores."""
        if self.settings.adb_only and self.kind != "adb":
            raise MobiledeployError("--use-gpu, --use-nnapi, --op-profiling and --benchmark-binary are for adb "
                                    "devices")
        if self.keep:
            store.check_writable()  # before measuring: numbers that cannot be stored are not thrown away later
        self.target = open_target(self.device, self.entry, self.insecure)
        try:
            self.probe = answers.probe_facts(self.target.probe())
            check_cpu_mask(self.settings.cpu_mask, self.probe, self.device)
            self.before = Quietness.judge(self.probe, self.settings.cpu_mask)
            if self.settings.strict:
                self.before.refuse(self.device)
            warning = self.before.warning(self.device)
            if warning:
                log.warning(warning)
            cores = self.probe.get("cores")
            over = [t for t in threads or [self.settings.threads] if isinstance(cores, int) and t > cores]
            if over:
                log.warning("%s has %d cores: %s threads share them, so that latency measures contention as well as "
                            "the model; measure at most %d (--threads)", self.device, cores,
                            "/".join(map(str, over)), cores)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self.target is not None:
            self.target.close()
            self.target = None

    def __enter__(self) -> "Session":
        return self.open() if self.target is None else self

    def __exit__(self, *exc) -> None:
        self.close()

    def can_run(self, entries: list) -> list:
        return runnable(entries, self.kind, self.probe)

    def items(self, artifact: Artifact) -> list[Item]:
        """Every file of an artifact this device can run."""
        can = self.can_run(artifact.manifest.files)
        if not can:
            raise MobiledeployError(f"{self.device} can run none of {artifact.folder}'s files: it has no TFLite "
                                    "runtime (pip install ai-edge-litert on the device)")
        return [Item(artifact, e) for e in can]

    @staticmethod
    def job(item: Item) -> Job:
        return Job(item, item.artifact.path(item.entry))

    def measure(self, items: list[Item], on_done=None, stop=None, incoming=None, several: bool | None = None
                ) -> Outcome:
        """Measure the items (and those arriving on `incoming`: Jobs from `job()`, then None) in interleaved rounds.

        Each result is recorded, judged against --strict, stored, and passed to `on_done(item, record, error)`
        (record None with an error line when the file failed or --strict refused it)."""
        folders = dict.fromkeys(str(i.artifact.folder) for i in items)
        bad = [f for f in folders if not is_utf8(f)] if self.keep else []
        if bad:   # refused before measuring: the store keeps paths as text, and a measurement is never lost later
            raise MobiledeployError(f"the artifact folder {printable(absolute(bad[0]))} is not named in UTF-8 text, so "
                                    "its results cannot be stored: rename it (e.g. after its variant) and bench again")
        several = len(folders) > 1 if several is None else several
        outcome = Outcome(self.device, ", ".join(folders))

        def run_one(job: Job):
            if self.first_run is None:
                self.first_run = time.time()
            settings = job.key.settings or self.settings
            return answers.parse(self.target.run(job.path, settings), settings.runs, self.device)

        def finished(job: Job):
            item: Item = job.key
            name = f"{item.artifact.folder.name}/{item.entry.name}" if several else item.entry.name
            rec, error = None, job.error
            if error is None:
                rec = record(item, self.device, item.settings or self.settings, job, self.run)
                if self.settings.strict and rec.unstable:
                    rec, error = None, f"unstable ({rec.measurement.verdict.reason}): not stored (--strict)"
                elif self.keep:
                    store.append(rec)
            if rec is not None:
                outcome.records.append(rec)
            else:
                outcome.errors.append(f"{name}: {error}")
            if on_done:
                on_done(item, rec, error)

        measure(run_one, [self.job(i) for i in items], self.settings, finished, stop, incoming, self.before)
        return outcome


def record(item: Item, device: str, settings: BenchSettings, job: Job, run: str | None = None) -> BenchRecord:
    """One result: the job's Measurement with the file's, the model's and the device's facts."""
    artifact, e = item.artifact, item.entry
    return BenchRecord(
        device=device, artifact=absolute(artifact.folder), artifact_name=artifact.manifest.name, file=e.name,
        format=e.format, precision=e.precision, settings=settings,
        time=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), measurement=job.measurement,
        device_facts=DeviceFacts.of(job.answers), model=ModelFacts.from_dict(artifact.manifest.model.to_dict()),
        sha256=e.sha256, size=e.size,
        latencies_ms=tuple(x for a in job.answers for x in getattr(a, "latencies_ms", ())),
        op_profile=job.answers[0].op_profile, version=__version__, run=run)


def new_run() -> str:
    """A sweep run's id: its start time and a random part (unique across the hosts of a lab)."""
    import secrets

    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


def bench_files(device: str, pairs: list, settings: BenchSettings, insecure: bool = False, progress=None,
                entry: dict | None = None, keep: bool = True) -> Outcome:
    """Measure files of one or several artifacts on one device in one interleaved protocol. `pairs`:
    (artifact folder or Artifact, file name or None for every file the device can run). Plain in, typed out."""
    loaded = {}
    wanted = []
    for folder, name in pairs:
        if isinstance(folder, Artifact):
            art = folder
        else:
            art = loaded[str(folder)] = loaded.get(str(folder)) or Artifact.load(folder)
        wanted.append((art, None if name is None else art.entry(name)))  # a missing file fails before connecting
    with Session(device, settings, insecure, entry, keep) as session:
        items = []
        for art, e in wanted:
            items += session.items(art) if e is None else [Item(art, e)]
        items = list({(str(i.artifact.folder), i.entry.name): i for i in items}.values())  # --file X --file X: once
        return session.measure(items, on_done=(lambda *_: progress(1)) if progress else None)
