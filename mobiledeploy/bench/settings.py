"""How a file is measured: the bench settings, with their defaults held once.

The CLI's options (bench, sweep), the runner's arguments, benchmark_model's flags on a phone and the
record stored with every result all come from this one record.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from ..errors import MobiledeployError
from ..runtime.session import MAX_THREADS


@dataclass(frozen=True)
class BenchSettings:
    """One measurement's settings (what `bench` and `sweep` record with each result)."""

    threads: int = 1
    runs: int = 50            # measured inferences
    warmup: int = 10          # inferences before measuring
    cpu_mask: str | None = None
    cooldown: float = 0.0     # seconds between inferences
    delegate: str | None = None          # adb: "gpu" or "nnapi"
    op_profiling: bool = False           # adb: benchmark_model's per-op table
    benchmark_binary: str | None = None  # adb: a local benchmark_model to push
    processes: int = 3           # independent runner processes per file, at least (protocol.py)
    ci_width: float = 0.05       # stop when the median's and the p90's intervals are within +-5% ...
    max_seconds: float = 8.0     # ... or when a file has been measured this long
    confidence: float = 0.95     # of those intervals
    strict: bool = False         # refuse to store a result whose verdict is unstable

    def __post_init__(self):
        if type(self.threads) is not int or not 1 <= self.threads <= MAX_THREADS:
            raise MobiledeployError(f"threads must be a whole number from 1 to {MAX_THREADS}, got {self.threads!r}")
        if type(self.runs) is not int or self.runs < 2:
            raise MobiledeployError(f"runs must be a whole number of at least 2, got {self.runs!r}")
        if type(self.warmup) is not int or self.warmup < 0:
            raise MobiledeployError(f"warmup must be a whole number of at least 0, got {self.warmup!r}")
        if not isinstance(self.cooldown, (int, float)) or not 0 <= self.cooldown < float("inf"):
            raise MobiledeployError(f"cooldown must be a number of seconds >= 0, got {self.cooldown!r}")
        if self.cpu_mask is not None:
            check_cpu_mask_text(self.cpu_mask)
        if type(self.processes) is not int or not 1 <= self.processes <= 1000:
            raise MobiledeployError(f"processes must be a whole number from 1 to 1000, got {self.processes!r}")
        if not isinstance(self.ci_width, (int, float)) or not 0 < self.ci_width < 1:
            raise MobiledeployError(f"--ci-width must be a fraction between 0 and 1 (0.05 is +-5%), got "
                                    f"{self.ci_width!r}")
        if not isinstance(self.max_seconds, (int, float)) or not 0 < self.max_seconds < float("inf"):
            raise MobiledeployError(f"--max-seconds must be a positive number of seconds, got {self.max_seconds!r}")
        if not isinstance(self.confidence, (int, float)) or not 0.5 <= self.confidence < 1:
            raise MobiledeployError(f"--confidence must be from 0.5 to below 1 (e.g. 0.95), got {self.confidence!r}")
        if self.delegate not in (None, "gpu", "nnapi"):
            raise MobiledeployError(f"delegate must be gpu or nnapi, got {self.delegate!r}")

    @property
    def adb_only(self) -> bool:
        """Settings only benchmark_model on a phone understands."""
        return bool(self.delegate or self.op_profiling or self.benchmark_binary)

    def key(self) -> tuple:
        """What makes two results comparable (a sweep reuses a stored result with the same key)."""
        return self.threads, self.runs, self.warmup

    def to_dict(self) -> dict:
        """The JSON form stored with each result (adb-only keys only when set)."""
        d = asdict(self)
        return {k: v for k, v in d.items()
                if k in ("threads", "runs", "warmup", "cpu_mask", "cooldown", "processes", "ci_width", "max_seconds",
                         "confidence") or v}

    @classmethod
    def from_dict(cls, d: dict) -> "BenchSettings":
        """From a stored record's settings; unknown keys are ignored, missing ones take the defaults."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def with_(self, **changes) -> "BenchSettings":
        """A copy with some settings changed."""
        return replace(self, **changes)


DEFAULTS = BenchSettings()


def check_cpu_mask_text(mask: str) -> str:
    """A hex mask of cores such as f0; one line otherwise."""
    try:
        if int(str(mask), 16) <= 0:
            raise ValueError
    except ValueError:
        raise MobiledeployError(f"--cpu-mask takes a hex mask of cores such as f0, got {str(mask)[:40]!r}") from None
    return str(mask)
