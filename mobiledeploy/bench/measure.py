"""Bench an artifact's files on one device: run the runner, check and summarize its answer, store each result."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from ..version import __version__
from ..artifact.bundle import Artifact
from ..artifact.manifest import FileEntry
from ..errors import MobiledeployError
from . import devices, quietness, stats, store
from .record import BenchRecord, ModelFacts, check_runner_answer
from .runner_io import check_cpu_mask
from .settings import BenchSettings
from .targets import open_target


@dataclass
class BenchResult:
    """What one bench call measured (each record is stored already) and which files failed."""

    device: str
    artifact: str
    records: list[BenchRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"device": self.device, "artifact": self.artifact, "results": [r.to_dict() for r in self.records],
                "errors": self.errors}


def latest_artifact(models: Path = Path("models")) -> Path:
    """The most recently written artifact under models/ (what `bench --device X` measures by default)."""
    found = sorted((p for p in models.glob("*/manifest.json")), key=lambda p: p.stat().st_mtime)
    if not found:
        raise MobiledeployError(f"no artifact in {models}/: run mobiledeploy export first, or name one")
    return found[-1].parent


def runnable(entries: list, kind: str, probe: dict) -> list:
    """The files a device can run: TFLite when it has a TFLite runtime; ONNX when it has onnxruntime."""
    can = {
        "tflite": kind in ("adb", "local") or bool(probe.get("tflite_runtime")),
        "onnx": kind == "local" or (kind == "ssh" and bool(probe.get("onnxruntime_version"))),
    }
    return [e for e in entries if can.get(e.format, False)]


def run(artifact, device: str, files: list[str], settings: BenchSettings, insecure: bool = False,
        progress=None) -> BenchResult:
    """Measure each chosen file (default: all the device can run) by the protocol (bench/protocol.py): several
    runner processes each, interleaved; each result is stored as it completes.

    A file that fails is named in `errors` and the others are still measured and stored; with
    `settings.strict` an unstable result is named there too, and not stored.
    """
    if not isinstance(artifact, Artifact):
        artifact = Artifact.load(artifact)
    chosen = [artifact.entry(name) for name in files]  # a file the artifact lacks fails before connecting
    result = run_files(device, [(artifact, e) for e in chosen] or [(artifact, None)], settings, insecure, progress)
    if len(chosen) == 1 and result.errors:
        raise MobiledeployError(result.errors[0].split(": ", 1)[1])
    return result


def run_files(device: str, pairs: list, settings: BenchSettings, insecure: bool = False,
              progress=None) -> BenchResult:
    """Measure files of one or several artifacts on one device in one interleaved protocol (`pick --refine`
    measures its contenders so). `pairs`: (Artifact, FileEntry), or (Artifact, None) for every file of that
    artifact the device can run."""
    import logging

    from .protocol import Job, measure

    entry = devices.get(device)
    if settings.adb_only and entry.get("kind") != "adb":
        raise MobiledeployError("--use-gpu, --use-nnapi, --op-profiling and --benchmark-binary are for adb devices")
    store.check_writable()  # before measuring: numbers that cannot be stored are not thrown away later
    target = open_target(device, entry, insecure)
    result = BenchResult(device, ", ".join(dict.fromkeys(str(a.folder) for a, _ in pairs)))
    try:
        probe = target.probe()
        check_cpu_mask(settings.cpu_mask, probe, device)
        warning = quietness.check(device, probe, settings.cpu_mask, settings.strict)  # --strict: refused here
        if warning:
            logging.getLogger("mobiledeploy").warning(warning)
        chosen = []
        for artifact, e in pairs:
            if e is not None:
                chosen.append((artifact, e))
                continue
            can = runnable(artifact.manifest.files, entry["kind"], probe)
            if not can:
                raise MobiledeployError(f"{device} can run none of {artifact.folder}'s files: it has no TFLite "
                                        "runtime (pip install ai-edge-litert on the device)")
            chosen += [(artifact, c) for c in can]
        several = len({id(a) for a, _ in chosen}) > 1

        def run_one(path):
            raw = target.run(path, settings)
            check_runner_answer(raw, settings, device)
            return raw

        def finished(job):
            artifact, e = job.key
            name = f"{artifact.folder.name}/{e.name}" if several else e.name
            if job.error is not None:
                result.errors.append(f"{name}: {job.error}")
            else:
                rec = record(artifact, device, e, settings, job.raws, job, before=warning)
                if settings.strict and rec.unstable:
                    result.errors.append(f"{name}: unstable ({rec.protocol.get('verdict_reason')}): not stored "
                                         "(--strict)")
                else:
                    store.append(rec)
                    result.records.append(rec)
            if progress:
                progress(1)

        measure(run_one, [Job((a, e), a.path(e)) for a, e in chosen], settings, finished)
        return result
    finally:
        target.close()


def record(artifact: Artifact, device: str, e: FileEntry, settings: BenchSettings, raws, job=None,
           before: str | None = None) -> BenchRecord:
    """One result: the runners' answers (checked on receipt, check_runner_answer) pooled and summarized, with the
    file's and the model's facts; `before` is the warning the device earned before measuring (quietness.py)."""
    raws = raws if isinstance(raws, list) else [raws]
    first, last = raws[0], raws[-1]
    latencies = [x for raw in raws for x in (raw.get("latencies_ms") or ())]
    summary = first.get("summary") or stats.summarize(latencies, first.get("temperature_before_c"),
                                                      last.get("temperature_after_c"))
    if first.get("summary") is not None and job is not None and job.pooled is not None:
        # benchmark_model: a summary per process; the pooled figures stand for them all
        summary = {**summary, "median_ms": job.pooled.median_ms, "p90_ms": job.pooled.p90_ms,
                   "runs": job.pooled.samples}
    facts = {k: first.get(k) for k in ("runtime", "runtime_version", "xnnpack", "cpu_model", "machine", "cores",
                                       "governor", "temperature_before_c", "init_ms", "first_ms", "memory_mb")}
    facts["temperature_after_c"] = last.get("temperature_after_c")
    firsts = sorted(r["init_ms"] + r["first_ms"] for r in raws
                    if isinstance(r.get("init_ms"), (int, float)) and isinstance(r.get("first_ms"), (int, float)))
    facts["first_inference_ms"] = firsts[len(firsts) // 2] if firsts else None  # load + first run, median process
    for key in ("peak_rss_mb", "load_1m", "throttle_count"):
        values = [r[key] for r in raws if isinstance(r.get(key), (int, float))]
        facts[key] = max(values) if values else None
    for key in ("freq_khz", "max_freq_khz"):
        facts[key] = first.get(key)
    statuses = [r["thermal_status"] for r in raws if isinstance(r.get("thermal_status"), int)]
    facts["thermal_status"] = max(statuses) if statuses else None
    if first.get("summary") is not None and (facts["thermal_status"] or 0) >= 2:
        summary = {**summary, "throttled": True}  # a phone at "moderate" or worse is throttling its CPUs
    facts["others_busy"] = quietness.busy_during(raws)
    facts["not_quiet"] = before
    protocol = {}
    if job is not None and job.pooled is not None:
        p = job.pooled
        protocol = {"median_ci_ms": list(p.median_ci_ms), "p90_ci_ms": list(p.p90_ci_ms), "samples": p.samples,
                    "processes": p.processes, "process_medians_ms": list(p.process_medians_ms),
                    "confidence": p.confidence, "verdict": job.verdict[0], "verdict_reason": job.verdict[1]}
    return BenchRecord(
        device=device, artifact=str(artifact.folder), artifact_name=artifact.manifest.name, file=e.name,
        format=e.format, precision=e.precision, settings=settings, median_ms=summary["median_ms"],
        std_ms=summary.get("std_ms", 0.0), cv=summary.get("cv", 0.0), p90_ms=summary.get("p90_ms"),
        time=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        summary={k: v for k, v in summary.items() if k not in ("median_ms", "std_ms", "cv", "p90_ms")},
        facts=facts, model=ModelFacts.from_dict(artifact.manifest.model.to_dict()), sha256=e.sha256, size=e.size,
        latencies_ms=tuple(latencies), op_profile=first.get("op_profile"), version=__version__, protocol=protocol)
