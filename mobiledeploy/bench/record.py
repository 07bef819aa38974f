"""One stored measurement as a typed `BenchRecord`, checked when it is read and when the runner answers.

The results store holds one JSON line per record. A line is untrusted (older versions, hand edits, a
board's runner): `BenchRecord.from_dict` refuses non-finite or non-positive latencies, missing fields,
wrong types, absurd sizes and file names that are not one plain name, with the reason in one line.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import MobiledeployError
from .settings import BenchSettings

MAX_RESOLUTION = 16384
SUMMARY = ("runs", "mean_ms", "median_ms", "p90_ms", "p95_ms", "p99_ms", "min_ms", "max_ms", "std_ms", "cv")
DEVICE_FACTS = ("runtime", "runtime_version", "xnnpack", "cpu_model", "machine", "cores", "governor",
                "temperature_before_c", "temperature_after_c", "init_ms", "first_ms", "memory_mb",
                "first_inference_ms", "peak_rss_mb", "load_1m", "freq_khz", "max_freq_khz", "throttle_count",
                "others_busy", "not_quiet", "thermal_status")
#: What the measurement protocol adds (bench/protocol.py); absent from results stored before it.
PROTOCOL = ("median_ci_ms", "p90_ci_ms", "samples", "processes", "process_medians_ms", "confidence", "verdict",
            "verdict_reason")


class BadRecord(ValueError):
    """A stored line or a runner answer that is not a measurement; the message says which field."""


def _number(d: dict, key: str, required: bool = True, positive: bool = False, minimum: float | None = None):
    value = d.get(key)
    if value is None:
        if required:
            raise BadRecord(f"{key} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRecord(f"{key} is {str(value)[:40]!r}, not a finite number")
    if positive and value <= 0:
        raise BadRecord(f"{key} is {value}, not a positive number")
    if minimum is not None and value < minimum:
        raise BadRecord(f"{key} is {value}, below {minimum}")
    return value


def _text(d: dict, key: str, required: bool = True, limit: int = 4096) -> str | None:
    value = d.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise BadRecord(f"{key} is {'missing' if value is None else repr(str(value)[:40])}, not a text")
    return value


def plain_name(name: str, what: str) -> str:
    """A file name without folders (results name a file inside their artifact, nothing else)."""
    if "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise BadRecord(f"{what} {name[:60]!r} is not a plain file name")
    return name


@dataclass(frozen=True)
class ModelFacts:
    """What the measured file computes (the manifest's model block, stored with the result)."""

    alpha: float
    resolution: int
    macs: int | None = None
    params: int | None = None
    weights_kind: str | None = None
    architecture: str = "mobilenet_v1"
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, d) -> "ModelFacts":
        if not isinstance(d, dict):
            raise BadRecord("model is not an object")
        alpha = _number(d, "alpha", positive=True)
        res = d.get("resolution")
        if type(res) is not int or not 1 <= res <= MAX_RESOLUTION:
            raise BadRecord(f"model.resolution is {str(res)[:40]!r}, not a whole number of pixels (1 to "
                            f"{MAX_RESOLUTION})")
        macs, params = (_number(d, k, required=False, minimum=0) for k in ("macs", "params"))
        weights = d.get("weights")
        kind = weights.get("kind") if isinstance(weights, dict) and isinstance(weights.get("kind"), str) else None
        arch = d.get("architecture", "mobilenet_v1")
        if not isinstance(arch, str):
            raise BadRecord("model.architecture is not a text")
        return cls(float(alpha), res, macs, params, kind, arch, dict(d))

    def to_dict(self) -> dict:
        return dict(self.raw) or {"architecture": self.architecture, "alpha": self.alpha,
                                  "resolution": self.resolution, "macs": self.macs, "params": self.params,
                                  "weights": {"kind": self.weights_kind}}


@dataclass(frozen=True)
class BenchRecord:
    """One measurement of one model file on one device."""

    device: str
    artifact: str          # the artifact folder, as measured
    artifact_name: str
    file: str
    format: str
    precision: str
    settings: BenchSettings
    median_ms: float
    std_ms: float
    cv: float
    time: str
    p90_ms: float | None = None
    summary: dict = field(default_factory=dict)      # runs, mean, p99, min, max, unstable, throttled
    facts: dict = field(default_factory=dict)        # runtime, cpu, governor, temperatures, init/first ms
    model: ModelFacts | None = None
    sha256: str | None = None
    size: int | None = None
    latencies_ms: tuple = ()
    op_profile: object = None
    version: str | None = None
    protocol: dict = field(default_factory=dict)     # intervals, processes, verdict (empty: an older result)

    # ---- reading -----------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d) -> "BenchRecord":
        """A checked record from a decoded store line; BadRecord names the first bad field."""
        if not isinstance(d, dict):
            raise BadRecord("the line is not a JSON object")
        texts = {k: _text(d, k) for k in ("device", "artifact", "artifact_name", "file", "format", "time")}
        plain_name(texts["file"], "file")
        if not isinstance(d.get("settings"), dict):
            raise BadRecord("settings is missing")
        try:
            settings = BenchSettings.from_dict(d["settings"])
        except (MobiledeployError, TypeError) as exc:
            raise BadRecord(f"settings: {exc}") from None
        median = _number(d, "median_ms", positive=True)
        p90 = _number(d, "p90_ms", required=False, positive=True)
        std, cv = _number(d, "std_ms", minimum=0), _number(d, "cv", minimum=0)
        summary = {k: _number(d, k, required=False, minimum=0) for k in SUMMARY if k in d}
        summary.update({k: bool(d[k]) for k in ("unstable", "throttled") if k in d})
        latencies = d.get("latencies_ms") or []
        if not isinstance(latencies, list) or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0
                for x in latencies):
            raise BadRecord("latencies_ms holds a value that is not a finite positive number")
        size = d.get("size")
        if size is not None and (type(size) is not int or size < 0):
            raise BadRecord(f"size is {str(size)[:40]!r}, not a whole number of bytes")
        sha = d.get("sha256")
        if sha is not None and not isinstance(sha, str):
            raise BadRecord("sha256 is not a text")
        model = ModelFacts.from_dict(d["model"]) if d.get("model") is not None else None
        protocol = _protocol(d)
        return cls(**texts, precision=str(d.get("precision") or "fp32"), settings=settings, median_ms=float(median),
                   std_ms=float(std), cv=float(cv), p90_ms=None if p90 is None else float(p90), summary=summary,
                   facts={k: d.get(k) for k in DEVICE_FACTS if k in d}, model=model, sha256=sha, size=size,
                   latencies_ms=tuple(latencies), op_profile=d.get("op_profile"), version=d.get("mobiledeploy"),
                   protocol=protocol)

    # ---- writing -----------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON line (the store's format, read back by `from_dict`)."""
        return {"device": self.device, "artifact": self.artifact, "artifact_name": self.artifact_name,
                "file": self.file, "format": self.format, "precision": self.precision, "sha256": self.sha256,
                "size": self.size, "model": self.model.to_dict() if self.model else None,
                "settings": self.settings.to_dict(), **self.summary, "median_ms": self.median_ms,
                "p90_ms": self.p90_ms, "std_ms": self.std_ms, "cv": self.cv, **self.facts,
                **self.protocol, "latencies_ms": list(self.latencies_ms), "op_profile": self.op_profile,
                "time": self.time, "mobiledeploy": self.version}

    # ---- facts the readers use ------------------------------------------------------------------------------
    @property
    def threads(self) -> int:
        return self.settings.threads

    @property
    def unstable(self) -> bool:
        if "verdict" in self.protocol:
            return self.protocol["verdict"] != "stable"
        return bool(self.summary.get("unstable"))

    @property
    def p90_interval(self) -> tuple[float, float] | None:
        """The p90's confidence interval (None for results measured before the protocol, or by benchmark_model)."""
        ci = self.protocol.get("p90_ci_ms")
        return tuple(ci) if ci else None

    @property
    def throttled(self) -> bool:
        return bool(self.summary.get("throttled"))

    @property
    def noise(self) -> str | None:
        """Why this latency may not be the device's own (other work on the measured cores while measuring,
        or a device found busy, hot or throttling before), or None for a result measured quietly."""
        from .intervals import BUSY_DURING
        from .quietness import headline

        busy = self.facts.get("others_busy")
        if isinstance(busy, (int, float)) and busy > BUSY_DURING:
            return f"other work used {busy:.0%} of the measured cores"
        status = self.facts.get("thermal_status")
        if isinstance(status, int) and status >= 2:
            return f"thermal status {status} (throttling)"
        if busy is None and self.facts.get("not_quiet"):
            return headline(str(self.facts["not_quiet"]))
        return None


def _interval(d: dict, key: str):
    ci = d.get(key)
    if ci is None:
        return None
    if not isinstance(ci, list) or len(ci) != 2 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in ci) \
            or ci[0] > ci[1]:
        raise BadRecord(f"{key} is not an interval of two finite positive times")
    return [float(ci[0]), float(ci[1])]


def _protocol(d: dict) -> dict:
    out = {}
    for key in ("median_ci_ms", "p90_ci_ms"):
        ci = _interval(d, key)
        if ci is not None:
            out[key] = ci
    for key in ("samples", "processes"):
        if d.get(key) is not None:
            if type(d[key]) is not int or d[key] < 1:
                raise BadRecord(f"{key} is not a positive whole number")
            out[key] = d[key]
    if d.get("process_medians_ms") is not None:
        meds = d["process_medians_ms"]
        if not isinstance(meds, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                 and math.isfinite(v) and v > 0 for v in meds):
            raise BadRecord("process_medians_ms holds a value that is not a finite positive time")
        out["process_medians_ms"] = meds
    if d.get("confidence") is not None:
        out["confidence"] = _number(d, "confidence", positive=True)
    if d.get("verdict") is not None:
        if d["verdict"] not in ("stable", "unstable"):
            raise BadRecord("verdict is neither stable nor unstable")
        out["verdict"] = d["verdict"]
        out["verdict_reason"] = str(d.get("verdict_reason") or "")[:400]
    return out


def check_runner_answer(raw: dict, settings: BenchSettings, where: str) -> None:
    """A runner's answer is a device's word: finite positive latencies, as many as asked for.

    What fails is a fault of that device (its runner or its Python), reported as one line, never stored.
    """
    fix = "(its runner printed something that is not a measurement: check the device's python and runtime)"
    if not isinstance(raw, dict):
        raise MobiledeployError(f"{where} answered no measurement {fix}")
    if raw.get("summary") is not None:  # benchmark_model on a phone: its own summary, checked like a record
        summary = raw["summary"]
        try:
            if not isinstance(summary, dict):
                raise BadRecord("its summary is not an object")
            for key in ("median_ms", "mean_ms"):
                _number(summary, key, positive=True)
            _number(summary, "p90_ms", required=False, positive=True)
        except BadRecord as exc:
            raise MobiledeployError(f"{where}: benchmark_model's {exc} {fix}") from None
        return
    latencies = raw.get("latencies_ms")
    if not isinstance(latencies, list) or not latencies:
        raise MobiledeployError(f"{where} answered without latencies {fix}")
    bad = [x for x in latencies if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x)
           or x <= 0]
    if bad:
        raise MobiledeployError(f"{where} reported a latency of {str(bad[0])[:20]} ms, not a finite positive time "
                                f"{fix}")
    if len(latencies) != settings.runs:
        raise MobiledeployError(f"{where} reported {len(latencies)} latencies for {settings.runs} runs {fix}")
