"""Is a device quiet enough to measure? One judgement from its probe, for `bench` and `sweep` alike.

The probe (the runner's --probe on a board or here, adb's reads on a phone) brings each core's share of
other work sampled over a short window, the processes using them, load, CPU frequency against its top,
and on Android the thermal status. Only the cores the runner will use count (`--cpu-mask`): a busy core
elsewhere does not disturb a pinned runner.
"""
from __future__ import annotations

from ..errors import MobiledeployError

BUSY_CORE = 0.3          # a measured core this busy with other work widens every interval
THERMAL_NAMES = ("none", "light", "moderate", "severe", "critical", "emergency", "shutdown")


def mask_cores(cpu_mask: str | None) -> list[int] | None:
    """The cores a hex mask names (None: no mask, every core the runner may use)."""
    if not cpu_mask:
        return None
    mask = int(cpu_mask, 16)
    return [i for i in range(mask.bit_length()) if mask >> i & 1]


def problems(probe: dict, cpu_mask: str | None = None) -> list[str]:
    """What is not quiet on the cores a runner with `cpu_mask` uses; [] when the device is quiet."""
    cores = mask_cores(cpu_mask)
    out = []
    shares = probe.get("core_busy")
    if isinstance(shares, dict) and shares:
        busy = {int(c): s for c, s in shares.items() if isinstance(s, (int, float))
                and (cores is None or int(c) in cores) and s > BUSY_CORE}
        if busy:
            who = [p for p in probe.get("busy_processes") or []
                   if isinstance(p, list) and len(p) == 4 and (cores is None or p[2] in cores)]
            named = ", ".join(f"{p[1]} pid {p[0]} {p[3]:.0%}" for p in who[:3])
            out.append("busy with other work: " + ", ".join(f"core {c} {s:.0%}" for c, s in sorted(busy.items()))
                       + (f" ({named})" if named else ""))
    else:  # an older runner or a phone: only the load average says it
        load, n = probe.get("load_1m"), probe.get("cores")
        if isinstance(load, (int, float)) and isinstance(n, int) and n > 0 and load > 0.5 * n:
            out.append(f"load {load:.1f} on {n} cores")
    cur, top = probe.get("freq_khz"), probe.get("max_freq_khz")
    if isinstance(cur, int) and isinstance(top, int) and top and cur < 0.8 * top and probe.get("governor") != "performance":
        out.append(f"cpu0 at {cur / 1e6:.2f} of {top / 1e6:.2f} GHz (governor {probe.get('governor')})")
    status = probe.get("thermal_status")
    if isinstance(status, int) and status >= 1:
        name = THERMAL_NAMES[status] if status < len(THERMAL_NAMES) else str(status)
        out.append(f"thermal status {name} (dumpsys thermalservice): the phone is throttling or about to")
    return out


ADVICE = "stop the other job, pin the runner to idle cores with --cpu-mask, or add --cooldown"
CONSEQUENCE = ": intervals will be wider and measuring longer; "


def check(device: str, probe: dict, cpu_mask: str | None, strict: bool) -> str | None:
    """One warning line when the device is not quiet (None when it is); with --strict, refuse to measure."""
    found = problems(probe, cpu_mask)
    if not found:
        return None
    what = f"{device} is not quiet ({'; '.join(found)})"
    if strict:
        raise MobiledeployError(f"{what}: --strict measures only a quiet device; {ADVICE}")
    return f"{what}{CONSEQUENCE}{ADVICE}"


def headline(warning: str) -> str:
    """What a warning of `check` found, without the consequence and the advice: "X is not quiet (...)"."""
    return warning.partition(CONSEQUENCE)[0]


def busy_during(raws: list) -> float | None:
    """The largest share of the measured cores other work used while one of the runners measured."""
    values = [r["others_busy"] for r in raws if isinstance(r.get("others_busy"), (int, float))]
    return max(values) if values else None
