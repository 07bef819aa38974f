"""Typed bench records for the page's tests, written to a store with the store's own `append`."""
from __future__ import annotations

import hashlib

from mobiledeploy.bench.measurement import DeviceFacts, Estimate, Measurement, Verdict
from mobiledeploy.bench.quietness import Quietness
from mobiledeploy.bench.record import BenchRecord, ModelFacts
from mobiledeploy.bench.settings import BenchSettings
from mobiledeploy.model.cost import summary
from mobiledeploy.model.families import family


def record(device: str, alpha: float, res: int, precision: str, p90: float, *, half: float = 0.03,
           artifact: str | None = None, file: str | None = None, sha256: str | None = None, threads: int = 1,
           time: str = "2025-01-02T10:00:00+00:00", busy: float | None = None, before=(), weights: str = "random",
           arch: str = "mobilenet_v1", runtime_version: str = "2.3.0", cpu_model: str = "Cortex-A72",
           reason: str | None = None, artifact_name: str | None = None, size: int | None = None) -> BenchRecord:
    """One measurement: p90 (ms) with an interval of +-half, the median 10% below it."""
    fam = family(arch)
    name = artifact_name or f"{arch}_{alpha:g}_{res}"
    artifact = artifact or f"/models/{name}"
    file = file or f"model_{precision}.tflite"
    sha256 = sha256 or hashlib.sha256(f"{artifact}/{file}".encode()).hexdigest()
    cost = summary(alpha, res, family=fam)
    med = 0.9 * p90
    quiet = Quietness(tuple(before), busy, None)
    m = Measurement(Estimate(med, med * (1 - half), med * (1 + half), 0.95),
                    Estimate(p90, p90 * (1 - half), p90 * (1 + half), 0.95), 300, 3, (med, med, med),
                    Verdict(busy is None or busy <= 0.25, reason or f"median +-{half:.1%}, p90 +-{half:.1%}"), quiet)
    model = ModelFacts(alpha, res, cost["macs"], cost["params"], weights, arch,
                       {"architecture": arch, "alpha": alpha, "resolution": res, "macs": cost["macs"],
                        "params": cost["params"], "weights": {"kind": weights}})
    return BenchRecord(device, artifact, name, file, "tflite", precision, BenchSettings(threads=threads), time, m,
                       DeviceFacts(runtime="ai-edge-litert", runtime_version=runtime_version, xnnpack=True,
                                   cpu_model=cpu_model, machine="aarch64", cores=4),
                       model, sha256, size if size is not None else int(cost["params"] * (1 if precision == "int8" else 4)),
                       version="0.9.0")
