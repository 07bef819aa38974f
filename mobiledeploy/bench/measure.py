"""Bench an artifact's files on one device: run the runner, summarize on the host, store each result."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from .. import __version__
from ..artifact.bundle import Artifact
from ..artifact.manifest import FileEntry
from ..errors import MobiledeployError
from . import devices, stats, store
from .targets import check_cpu_mask, open_target


def latest_artifact(models: Path = Path("models")) -> Path:
    """The most recently written artifact under models/ (what `bench --device X` measures by default)."""
    found = sorted((p for p in models.glob("*/manifest.json")), key=lambda p: p.stat().st_mtime)
    if not found:
        raise MobiledeployError(f"no artifact in {models}/: run mobiledeploy export first, or name one")
    return found[-1].parent


def runnable(entries: list[dict], kind: str, probe: dict) -> list[dict]:
    """The files a device can run: TFLite when it has a TFLite runtime; ONNX when it has onnxruntime."""
    can = {
        "tflite": kind in ("adb", "local") or bool(probe.get("tflite_runtime")),
        "onnx": kind == "local" or (kind == "ssh" and bool(probe.get("onnxruntime_version"))),
    }
    return [e for e in entries if can.get(e.format, False)]


def run(artifact, device: str, files: list[str], settings: dict, insecure: bool = False,
        progress=None) -> list[dict]:
    """Measure each chosen file (default: all the device can run); each result is stored as it completes."""
    if not isinstance(artifact, Artifact):
        artifact = Artifact.load(artifact)
    entry = devices.get(device)
    target = open_target(device, entry, insecure)
    try:
        probe = target.probe()
        check_cpu_mask(settings.get("cpu_mask"), probe, device)
        if files:
            chosen = [artifact.entry(name) for name in files]
        else:
            chosen = runnable(artifact.manifest.files, entry["kind"], probe)
            if not chosen:
                raise MobiledeployError(f"{device} can run none of {artifact.folder}'s files: it has no TFLite "
                                        "runtime (pip install ai-edge-litert on the device)")
        results = []
        for e in chosen:
            raw = target.run(artifact.path(e), settings)
            results.append(record(artifact, device, e, settings, raw))
            store.append(results[-1])
            if progress:
                progress(1)
        return results
    finally:
        target.close()


def record(artifact: Artifact, device: str, e: FileEntry, settings: dict, raw: dict) -> dict:
    """One stored result: the runner's latencies summarized, with the file's and the model's facts."""
    summary = raw.get("summary") or stats.summarize(raw["latencies_ms"], raw.get("temperature_before_c"),
                                                    raw.get("temperature_after_c"))
    return {
        "device": device, "artifact": str(artifact.folder), "artifact_name": artifact.manifest.name,
        "file": e.name, "format": e.format, "precision": e.precision, "sha256": e.sha256,
        "size": e.size, "model": artifact.manifest.model.to_dict(), "settings": settings, **summary,
        **{k: raw.get(k) for k in ("runtime", "runtime_version", "xnnpack", "cpu_model", "machine", "cores",
                                   "governor", "temperature_before_c", "temperature_after_c", "init_ms",
                                   "first_ms", "memory_mb")},
        "latencies_ms": raw["latencies_ms"], "op_profile": raw.get("op_profile"),
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "mobiledeploy": __version__,
    }
