"""One stored measurement as a typed, versioned `BenchRecord`: what was measured (file, model, settings), the
`Measurement` (bench/measurement.py) and the device's facts.

The results store holds one JSON line per record. A line is untrusted (older versions, hand edits, another
host): `BenchRecord.from_dict` refuses non-finite or non-positive latencies, missing fields, wrong types,
absurd sizes, families this version does not know, lines written by a newer format and file names that are
not one plain name, with the reason in one line. Every earlier format still reads:

- format 0 (before the protocol): one runner process, flat summary keys, no interval;
- format 1 (the protocol): the same flat keys plus median_ci_ms, p90_ci_ms, processes, verdict, confidence...;
- format 2 (this one): `record_format`, a `measurement` object and a `device_facts` object.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from ..errors import MobiledeployError
from ..model.architecture import MAX_ALPHA, MAX_RESOLUTION, MIN_ALPHA
from ..model.families import DEFAULT, FAMILIES
from .answers import finite, whole
from .measurement import LEGACY_CONFIDENCE, BadRecord, DeviceFacts, Estimate, Measurement, Verdict, check_confidence
from .quietness import THERMAL_THROTTLING, Quietness
from .settings import BenchSettings

RECORD_FORMAT = 2
MAX_LATENCIES = 1_000_000
__all__ = ["RECORD_FORMAT", "BadRecord", "BenchRecord", "ModelFacts", "plain_name"]


def _text(d: dict, key: str, required: bool = True, limit: int = 4096) -> str | None:
    value = d.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise BadRecord(f"{key} is {'missing' if value is None else repr(str(value)[:40])}, not a text")
    if _CONTROL.search(value):   # printed in tables and lines: an ESC from a shared store must not reach a terminal
        raise BadRecord(f"{key} {value[:40]!r} holds control characters")
    return value


# C0 and C1 controls (ESC, CSI, BEL, ...) and the invisible bidi controls: never in a name this tool writes
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


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
    architecture: str = DEFAULT
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, d) -> "ModelFacts":
        if not isinstance(d, dict):
            raise BadRecord("model is not an object")
        alpha = finite(d.get("alpha"))
        if alpha is None or not MIN_ALPHA <= alpha <= MAX_ALPHA:
            raise BadRecord(f"model.alpha is {str(d.get('alpha'))[:40]!r}, not a width from {MIN_ALPHA} to "
                            f"{MAX_ALPHA:g}")
        res = whole(d.get("resolution"), 1, MAX_RESOLUTION)
        if res is None:
            raise BadRecord(f"model.resolution is {str(d.get('resolution'))[:40]!r}, not a whole number of pixels "
                            f"(1 to {MAX_RESOLUTION})")
        macs, params = (whole(d.get(k), 0, 1 << 50) for k in ("macs", "params"))
        for key, value in (("macs", macs), ("params", params)):
            if d.get(key) is not None and value is None:
                raise BadRecord(f"model.{key} is {str(d.get(key))[:40]!r}, not a whole number")
        weights = d.get("weights")
        kind = weights.get("kind") if isinstance(weights, dict) and isinstance(weights.get("kind"), str) else None
        arch = d.get("architecture", DEFAULT)
        if not isinstance(arch, str) or arch not in FAMILIES:
            raise BadRecord(f"model.architecture {str(arch)[:40]!r} is not a family this version knows "
                            f"({', '.join(FAMILIES)}): written by a newer mobiledeploy?")
        return cls(alpha, res, macs, params, kind, arch, dict(d))

    def to_dict(self) -> dict:
        return dict(self.raw) or {"architecture": self.architecture, "alpha": self.alpha,
                                  "resolution": self.resolution, "macs": self.macs, "params": self.params,
                                  "weights": {"kind": self.weights_kind}}


@dataclass(frozen=True)
class BenchRecord:
    """One measurement of one model file on one device."""

    device: str
    artifact: str          # the artifact folder, absolute
    artifact_name: str
    file: str
    format: str
    precision: str
    settings: BenchSettings
    time: str
    measurement: Measurement
    device_facts: DeviceFacts = DeviceFacts()
    model: ModelFacts | None = None
    sha256: str | None = None
    size: int | None = None
    latencies_ms: tuple = ()
    op_profile: object = None
    version: str | None = None             # the mobiledeploy that measured it
    record_format: int = RECORD_FORMAT     # the format the line was read from
    run: str | None = None                 # the sweep run that measured it (None: a bench of its own)

    # ---- reading -----------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d) -> "BenchRecord":
        """A checked record from a decoded store line of any format; BadRecord names the first bad field."""
        if not isinstance(d, dict):
            raise BadRecord("the line is not a JSON object")
        # lines before format 2 carry no number: the protocol's keys tell format 1 from format 0
        fmt = d.get("record_format", 1 if "verdict" in d or "median_ci_ms" in d else 0)
        if type(fmt) is not int or fmt < 0:
            raise BadRecord(f"record_format is {str(fmt)[:40]!r}, not a format number")
        if fmt > RECORD_FORMAT:
            raise BadRecord(f"record_format {fmt} is newer than this version reads ({RECORD_FORMAT}): upgrade "
                            "mobiledeploy to read it")
        texts = {k: _text(d, k) for k in ("device", "artifact", "artifact_name", "file", "format", "time")}
        plain_name(texts["file"], "file")
        try:   # sorted, filtered (--since) and shown as a time
            dt.datetime.fromisoformat(texts["time"])
        except ValueError:
            raise BadRecord(f"time {texts['time'][:40]!r} is not an ISO time") from None
        if not isinstance(d.get("settings"), dict):
            raise BadRecord("settings is missing")
        try:
            settings = BenchSettings.from_dict(d["settings"])
        except (MobiledeployError, TypeError) as exc:
            raise BadRecord(f"settings: {exc}") from None
        latencies = d.get("latencies_ms") or []
        if not isinstance(latencies, list) or len(latencies) > MAX_LATENCIES or \
                any(finite(x, positive=True) is None for x in latencies):
            raise BadRecord("latencies_ms holds a value that is not a finite positive number")
        size = d.get("size")
        if size is not None and whole(size, 0) is None:
            raise BadRecord(f"size is {str(size)[:40]!r}, not a whole number of bytes")
        sha = d.get("sha256")
        if sha is not None and not isinstance(sha, str):
            raise BadRecord("sha256 is not a text")
        model = ModelFacts.from_dict(d["model"]) if d.get("model") is not None else None
        if fmt >= 2:
            measurement, facts = Measurement.from_dict(d.get("measurement")), DeviceFacts.from_dict(d.get("device_facts"))
        else:
            measurement, facts = _legacy_measurement(d, len(latencies)), DeviceFacts.from_dict(d)
        precision = d.get("precision") or "fp32"
        if not isinstance(precision, str) or len(precision) > 16 or _CONTROL.search(precision):
            raise BadRecord("precision is not a short text")
        version = d.get("mobiledeploy")
        run = _text(d, "run", required=False, limit=200)
        return cls(**texts, precision=precision, settings=settings, measurement=measurement, device_facts=facts,
                   model=model, sha256=sha, size=size, latencies_ms=tuple(float(x) for x in latencies),
                   op_profile=d.get("op_profile"),
                   version=version if isinstance(version, str) and not _CONTROL.search(version) else None,
                   record_format=fmt, run=run)

    # ---- writing -----------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON line in this version's format (read back by `from_dict`)."""
        return {"record_format": RECORD_FORMAT, "mobiledeploy": self.version, "time": self.time,
                "device": self.device, "artifact": self.artifact, "artifact_name": self.artifact_name,
                "file": self.file, "format": self.format, "precision": self.precision, "sha256": self.sha256,
                "size": self.size, "model": self.model.to_dict() if self.model else None,
                "settings": self.settings.to_dict(), "measurement": self.measurement.to_dict(),
                "device_facts": self.device_facts.to_dict(), "latencies_ms": list(self.latencies_ms),
                "op_profile": self.op_profile, "run": self.run}

    # ---- facts the readers use ------------------------------------------------------------------------------
    @property
    def median_ms(self) -> float:
        return self.measurement.median.value

    @property
    def p90(self) -> Estimate:
        """The p90 with its interval (a result without a p90, benchmark_model's before the protocol: the median)."""
        return self.measurement.p90 or self.measurement.median

    @property
    def p90_ms(self) -> float | None:
        return self.measurement.p90.value if self.measurement.p90 else None

    @property
    def threads(self) -> int:
        return self.settings.threads

    @property
    def unstable(self) -> bool:
        return not self.measurement.verdict.stable

    @property
    def throttled(self) -> bool:
        return self.measurement.throttled

    @property
    def noise(self) -> str | None:
        """Why this latency may not be the device's own (Quietness.noise), or None when measured quietly."""
        return self.measurement.quietness.noise


# ---- earlier formats ------------------------------------------------------------------------------------------
def _interval(d: dict, key: str, value: float):
    ci = d.get(key)
    if ci is None:
        return None
    if not isinstance(ci, list) or len(ci) != 2 or any(finite(v, positive=True) is None for v in ci) \
            or ci[0] > ci[1]:
        raise BadRecord(f"{key} is not an interval of two finite positive times")
    if not ci[0] * (1 - 1e-9) <= value <= ci[1] * (1 + 1e-9):
        raise BadRecord(f"{key} [{ci[0]:g}, {ci[1]:g}] does not hold its own estimate {value:g}")
    return [float(ci[0]), float(ci[1])]


def _legacy_before(text) -> tuple[str, ...]:
    """Format 1 stored the probe's warning as one sentence ("X is not quiet (a; b): intervals will ...")."""
    if not isinstance(text, str) or not text:
        return ()
    inner = text[:2000].partition(" is not quiet (")[2].rpartition("): intervals will")[0]
    return tuple(inner.split("; ")) if inner else (text[:400],)


def _legacy_measurement(d: dict, n_latencies: int) -> Measurement:
    """A format 0 or 1 line's flat keys as a Measurement."""
    median = finite(d.get("median_ms"), positive=True)
    if median is None:
        raise BadRecord(f"median_ms is {str(d.get('median_ms'))[:40]!r}, not a finite positive time")
    p90 = d.get("p90_ms")
    if p90 is not None and finite(p90, positive=True) is None:
        raise BadRecord(f"p90_ms is {str(p90)[:40]!r}, not a finite positive time")
    for key in ("std_ms", "cv"):
        if finite(d.get(key), minimum=0) is None:
            raise BadRecord(f"{key} is {str(d.get(key))[:40]!r}, not a finite number >= 0")
    confidence = check_confidence(d["confidence"], "confidence") if d.get("confidence") is not None \
        else LEGACY_CONFIDENCE
    med_ci = _interval(d, "median_ci_ms", median)
    p90_ci = _interval(d, "p90_ci_ms", float(p90)) if p90 is not None else None
    processes = d.get("processes", 1)
    samples = d.get("samples") if d.get("samples") is not None else (d.get("runs") or n_latencies or 1)
    for key, value in (("processes", processes), ("samples", samples)):
        if whole(value, 1) is None:
            raise BadRecord(f"{key} is not a positive whole number")
    meds = d.get("process_medians_ms") or [median]
    if not isinstance(meds, list) or any(finite(v, positive=True) is None for v in meds):
        raise BadRecord("process_medians_ms holds a value that is not a finite positive time")
    if d.get("verdict") is not None:
        if d["verdict"] not in ("stable", "unstable"):
            raise BadRecord("verdict is neither stable nor unstable")
        verdict = Verdict(d["verdict"] == "stable", str(d.get("verdict_reason") or "")[:400])
    else:
        cv = float(d["cv"])
        verdict = Verdict(not d.get("unstable"), f"one runner process, CV {cv:.1%} (measured before the protocol)")
    thermal = whole(d.get("thermal_status"), 0, 99)
    quiet = Quietness(_legacy_before(d.get("not_quiet")), finite(d.get("others_busy"), minimum=0), thermal)
    opt = lambda key: finite(d.get(key), minimum=0)  # noqa: E731
    return Measurement(
        Estimate.legacy(median, med_ci, confidence),
        Estimate.legacy(float(p90), p90_ci, confidence) if p90 is not None else None,
        samples, processes, tuple(float(v) for v in meds), verdict, quiet,
        "benchmark_model" if d.get("runtime") == "benchmark_model" else "runner", opt("p99_ms"), opt("mean_ms"),
        float(d["std_ms"]), float(d["cv"]), opt("min_ms"), opt("max_ms"),
        bool(d.get("throttled")) or (thermal is not None and thermal >= THERMAL_THROTTLING),
        opt("first_inference_ms"), opt("peak_rss_mb"))


def absolute(folder) -> str:
    """An artifact folder as stored: absolute, so pick run from another folder still finds it."""
    import os

    return os.path.abspath(os.fspath(folder)) if not PurePath(folder).is_absolute() else os.fspath(folder)

