"""Statistics of raw latencies, computed on the host: pure functions."""
from __future__ import annotations

import numpy as np

THROTTLE_SLOWDOWN = 1.05  # last quarter this much slower than the first: throttled
THROTTLE_HEAT_C = 5.0    # or the temperature rose this much


def summarize(latencies_ms, temperature_before=None, temperature_after=None) -> dict:
    """Mean, median, p90, p99, min, max, std, CV and the throttled flag (whether a measurement is stable is the
    protocol's verdict: bench/measurement.py)."""
    x = np.asarray(latencies_ms, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no latencies to summarize")
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if x.size > 1 else 0.0
    cv = std / mean if mean > 0 else 0.0
    quarter = max(1, x.size // 4)
    first, last = float(np.median(x[:quarter])), float(np.median(x[-quarter:]))
    heated = (temperature_before is not None and temperature_after is not None
              and temperature_after - temperature_before >= THROTTLE_HEAT_C)
    slowed = x.size >= 8 and last > first * THROTTLE_SLOWDOWN
    return {
        "runs": int(x.size), "mean_ms": mean, "median_ms": float(np.median(x)),
        "p90_ms": float(np.percentile(x, 90)), "p99_ms": float(np.percentile(x, 99)),
        "min_ms": float(x.min()), "max_ms": float(x.max()), "std_ms": std, "cv": cv,
        "throttled": bool(heated or slowed),
    }
