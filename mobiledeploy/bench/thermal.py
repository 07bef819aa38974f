"""A phone's thermal state from what adb can read: `dumpsys thermalservice` and cpufreq in sysfs.

The dump (Android 10+, ThermalManagerService) has a "Thermal Status: N" line (0 none, 1 light, 2 moderate,
3 severe, 4 critical, 5 emergency, 6 shutdown: android.os.PowerManager's THERMAL_STATUS_*) and sections of
`Temperature{mValue=.., mType=.., mName=.., mStatus=..}` lines; type 0 is a CPU sensor, 3 the skin. Pure
parsing, so it is tested on text in the published format; an older phone without the service gives None.
"""
from __future__ import annotations

import re

_STATUS = re.compile(r"^\s*Thermal Status:\s*(\d+)\s*$", re.M)
_TEMP = re.compile(r"Temperature\{mValue=([-\d.]+),\s*mType=(-?\d+),\s*mName=([^,}]*),\s*mStatus=(\d+)\}")
CPU_TYPE, SKIN_TYPE = 0, 3


def parse_thermalservice(text: str) -> dict:
    """{"thermal_status": int | None, "cpu_temperature_c": hottest CPU sensor | None, "skin_temperature_c"}.

    The HAL's current temperatures are preferred to the service's cached ones when both are present.
    """
    out = {"thermal_status": None, "cpu_temperature_c": None, "skin_temperature_c": None}
    m = _STATUS.search(text or "")
    if m:
        out["thermal_status"] = int(m.group(1))
    current = (text or "").split("Current temperatures from HAL:", 1)
    section = current[1].split("Current cooling devices", 1)[0] if len(current) == 2 else (text or "")
    temps = [(float(v), int(t), n.strip()) for v, t, n, _ in _TEMP.findall(section)] or \
        [(float(v), int(t), n.strip()) for v, t, n, _ in _TEMP.findall(text or "")]
    cpu = [v for v, t, _ in temps if t == CPU_TYPE and v > 0]
    skin = [v for v, t, _ in temps if t == SKIN_TYPE and v > 0]
    out["cpu_temperature_c"] = max(cpu) if cpu else None
    out["skin_temperature_c"] = max(skin) if skin else None
    return out


def parse_khz(text: str) -> int | None:
    """A cpufreq file's content (kHz) as a number; None when absent or not a number."""
    text = (text or "").strip()
    return int(text) if text.isdigit() else None
