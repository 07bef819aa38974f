"""Is a device quiet enough to measure, and was it while measuring? `Quietness` owns every threshold of that.

Before measuring, the probe (the runner's --probe on a board or here, adb's reads on a phone) brings each
core's share of other work sampled over a short window, the processes using them, load, CPU frequency
against its top, and on Android the thermal status. Only the cores the runner will use count (`--cpu-mask`):
a busy core elsewhere does not disturb a pinned runner. While measuring, each runner process reports the
largest share of its cores that other work used, and a phone its thermal status. A result measured while the
device was not quiet is the device's latency plus someone else's: `Quietness.noise` says why, in one line.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import MobiledeployError
from .answers import finite, whole

BUSY_CORE = 0.3          # before: a measured core this busy with other work widens every interval
BUSY_DURING = 0.25       # during: other work's share of the measured cores that makes a result unstable
BUSY_LOAD = 0.5          # before, without per-core shares: a load above this many per core
SLOW_CLOCK = 0.8         # before: cpu0 below this share of its top frequency (and no performance governor)
THERMAL_WARN = 1         # Android thermal status "light" or worse: about to throttle (a warning before)
THERMAL_THROTTLING = 2   # "moderate" or worse: the phone is throttling its CPUs (the result is not quiet)
THERMAL_NAMES = ("none", "light", "moderate", "severe", "critical", "emergency", "shutdown")
ADVICE = "stop the other job, pin the runner to idle cores with --cpu-mask, or add --cooldown"


def mask_cores(cpu_mask: str | None) -> list[int] | None:
    """The cores a hex mask names (None: no mask, every core the runner may use)."""
    if not cpu_mask:
        return None
    mask = int(cpu_mask, 16)
    return [i for i in range(mask.bit_length()) if mask >> i & 1]


def thermal_name(status: int) -> str:
    return THERMAL_NAMES[status] if 0 <= status < len(THERMAL_NAMES) else str(status)


def problems(probe: dict, cpu_mask: str | None = None) -> list[str]:
    """What is not quiet on the cores a runner with `cpu_mask` uses; [] when the device is quiet."""
    cores = mask_cores(cpu_mask)
    out = []
    shares = probe.get("core_busy")
    if isinstance(shares, dict) and shares:
        busy = {}
        for c, s in shares.items():
            try:
                core = int(c)
            except (TypeError, ValueError):
                continue
            if isinstance(s, (int, float)) and not isinstance(s, bool) and (cores is None or core in cores) \
                    and s > BUSY_CORE:
                busy[core] = s
        if busy:
            who = [p for p in probe.get("busy_processes") or []
                   if isinstance(p, list) and len(p) == 4 and isinstance(p[3], (int, float))
                   and (cores is None or p[2] in cores)]
            named = ", ".join(f"{str(p[1])[:40]} pid {p[0]} {p[3]:.0%}" for p in who[:3])
            out.append("busy with other work: " + ", ".join(f"core {c} {s:.0%}" for c, s in sorted(busy.items()))
                       + (f" ({named})" if named else ""))
    else:  # an older runner or a phone: only the load average says it
        load, n = probe.get("load_1m"), probe.get("cores")
        if isinstance(load, (int, float)) and isinstance(n, int) and n > 0 and load > BUSY_LOAD * n:
            out.append(f"load {load:.1f} on {n} cores")
    cur, top = probe.get("freq_khz"), probe.get("max_freq_khz")
    if isinstance(cur, int) and isinstance(top, int) and top > 0 and cur < SLOW_CLOCK * top \
            and probe.get("governor") != "performance":
        out.append(f"cpu0 at {cur / 1e6:.2f} of {top / 1e6:.2f} GHz (governor {probe.get('governor')})")
    status = probe.get("thermal_status")
    if isinstance(status, int) and not isinstance(status, bool) and status >= THERMAL_WARN:
        out.append(f"thermal status {thermal_name(status)} (dumpsys thermalservice): the phone is throttling or "
                   "about to")
    return out


@dataclass(frozen=True)
class Quietness:
    """How quiet the device was: what its probe found before measuring (a list of problems, [] when quiet),
    the largest share of the measured cores other work used while a runner measured, and a phone's worst
    thermal status while measuring."""

    before: tuple[str, ...] = ()
    others_busy: float | None = None
    thermal_status: int | None = None

    @classmethod
    def judge(cls, probe: dict, cpu_mask: str | None = None) -> "Quietness":
        """The device before measuring, from its probe."""
        return cls(tuple(problems(probe, cpu_mask)))

    def during(self, others_busy: float | None, thermal_status: int | None) -> "Quietness":
        """The same judgement with what the runner processes saw while measuring."""
        return Quietness(self.before, others_busy, thermal_status)

    @property
    def busy_during(self) -> bool:
        return self.others_busy is not None and self.others_busy > BUSY_DURING

    @property
    def throttling(self) -> bool:
        return self.thermal_status is not None and self.thermal_status >= THERMAL_THROTTLING

    @property
    def noise(self) -> str | None:
        """Why a latency measured so may not be the device's own, or None when it was measured quietly.

        What the runners saw while measuring decides; a probe's finding counts only where the runners report
        nothing (a phone: benchmark_model reports no other work)."""
        if self.busy_during:
            return f"other work used {self.others_busy:.0%} of the measured cores"
        if self.throttling:
            return f"thermal status {thermal_name(self.thermal_status)} ({self.thermal_status}: throttling)"
        if self.others_busy is None and self.before:
            return f"not quiet before measuring ({'; '.join(self.before)})"
        return None

    def warning(self, device: str) -> str | None:
        """The one line a device that is not quiet before measuring earns (None when it is quiet)."""
        if not self.before:
            return None
        return (f"{device} is not quiet ({'; '.join(self.before)}): intervals will be wider and measuring longer; "
                f"{ADVICE}")

    def refuse(self, device: str) -> None:
        """--strict measures only a quiet device: one line naming what is not quiet."""
        if self.before:
            raise MobiledeployError(f"{device} is not quiet ({'; '.join(self.before)}): --strict measures only a "
                                    f"quiet device; {ADVICE}")

    def to_dict(self) -> dict:
        return {"before": list(self.before), "others_busy": self.others_busy, "thermal_status": self.thermal_status}

    @classmethod
    def from_dict(cls, d) -> "Quietness":
        """Read leniently (a stored line is untrusted): a finding of the wrong type is no finding."""
        d = d if isinstance(d, dict) else {}
        before = d.get("before") if isinstance(d.get("before"), list) else []
        return cls(tuple(str(x)[:400] for x in before[:16]), finite(d.get("others_busy"), minimum=0),
                   whole(d.get("thermal_status"), 0, 99))
