"""Bench an artifact's files on one device: run the runner, check and summarize its answer, store each result."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from ..version import __version__
from ..artifact.bundle import Artifact
from ..artifact.manifest import FileEntry
from ..errors import MobiledeployError
from . import devices, stats, store
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
    """Measure each chosen file (default: all the device can run); each result is stored as it completes.

    A file that fails is named in `errors` and the others are still measured and stored.
    """
    if not isinstance(artifact, Artifact):
        artifact = Artifact.load(artifact)
    entry = devices.get(device)
    if settings.adb_only and entry.get("kind") != "adb":
        raise MobiledeployError("--use-gpu, --use-nnapi, --op-profiling and --benchmark-binary are for adb devices")
    chosen = [artifact.entry(name) for name in files]  # a file the artifact lacks fails before connecting
    store.check_writable()  # before measuring: numbers that cannot be stored are not thrown away later
    target = open_target(device, entry, insecure)
    result = BenchResult(device, str(artifact.folder))
    try:
        probe = target.probe()
        check_cpu_mask(settings.cpu_mask, probe, device)
        if not files:
            chosen = runnable(artifact.manifest.files, entry["kind"], probe)
            if not chosen:
                raise MobiledeployError(f"{device} can run none of {artifact.folder}'s files: it has no TFLite "
                                        "runtime (pip install ai-edge-litert on the device)")
        for e in chosen:
            try:
                raw = target.run(artifact.path(e), settings)
                rec = record(artifact, device, e, settings, raw)
            except MobiledeployError as exc:
                if len(chosen) == 1:
                    raise
                result.errors.append(f"{e.name}: {exc}")
            else:
                store.append(rec)
                result.records.append(rec)
            if progress:
                progress(1)
        return result
    finally:
        target.close()


def record(artifact: Artifact, device: str, e: FileEntry, settings: BenchSettings, raw: dict) -> BenchRecord:
    """One result: the runner's answer checked and summarized, with the file's and the model's facts."""
    check_runner_answer(raw, settings, device)
    summary = raw.get("summary") or stats.summarize(raw["latencies_ms"], raw.get("temperature_before_c"),
                                                    raw.get("temperature_after_c"))
    return BenchRecord(
        device=device, artifact=str(artifact.folder), artifact_name=artifact.manifest.name, file=e.name,
        format=e.format, precision=e.precision, settings=settings, median_ms=summary["median_ms"],
        std_ms=summary.get("std_ms", 0.0), cv=summary.get("cv", 0.0), p90_ms=summary.get("p90_ms"),
        time=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        summary={k: v for k, v in summary.items() if k not in ("median_ms", "std_ms", "cv", "p90_ms")},
        facts={k: raw.get(k) for k in ("runtime", "runtime_version", "xnnpack", "cpu_model", "machine", "cores",
                                       "governor", "temperature_before_c", "temperature_after_c", "init_ms",
                                       "first_ms", "memory_mb")},
        model=ModelFacts.from_dict(artifact.manifest.model.to_dict()), sha256=e.sha256, size=e.size,
        latencies_ms=tuple(raw.get("latencies_ms") or ()), op_profile=raw.get("op_profile"), version=__version__)
