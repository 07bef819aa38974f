"""Parse the output of TensorFlow's `benchmark_model` (all eras) into mobiledeploy's result fields.

Times in the tool's output are microseconds; results are milliseconds. Pure functions.
"""
from __future__ import annotations

import re

_STAT = re.compile(r"count=(\d+)((?:\s+\w+=[-\d.e+]+)+)")
_PAIR = re.compile(r"(\w+)=([-\d.e+]+)")
_TIMINGS = re.compile(r"Inference timings in us:(.*)")
_OLD_TIMINGS = re.compile(r"Average inference timings in us:(.*)")
_INIT = re.compile(r"Initialized session in ([\d.]+)\s*ms")
_MEMORY = re.compile(r"(?:Peak memory footprint|Memory footprint delta from the start of the tool) \(MB\): "
                     r"init=([\d.]+) overall=([\d.]+)")


def _stat(line: str) -> dict:
    m = _STAT.search(line)
    fields = {"count": int(m.group(1))}
    for key, value in _PAIR.findall(m.group(2)):
        fields[key] = float(value)
    return fields


def parse(text: str) -> dict:
    """{init_ms, first_ms, warmup_avg_ms, inference (ms stats), memory_mb, xnnpack, ops}; ValueError without the
    measured runs' timing line or its average (`count=N ... avg=US ...`), which is what a latency is read from."""
    lines = [re.sub(r"^(INFO|WARNING|ERROR): ", "", line.strip()) for line in text.splitlines()]
    stats = [_stat(line) for line in lines if _STAT.search(line) and line.startswith("count=")]
    if not stats:
        raise ValueError("no timing lines (count=...) in benchmark_model output")
    out: dict = {"xnnpack": any("XNNPACK delegate" in line for line in lines)}
    warm, runs = (stats[0], stats[-1]) if len(stats) > 1 else (None, stats[0])
    if "avg" not in runs:
        raise ValueError("its timing line (count=...) has no average (avg=...): not the output of a "
                         "benchmark_model this version reads")
    out["inference"] = {k: (v / 1000.0 if k != "count" else int(v)) for k, v in runs.items()}
    if warm:
        out["warmup"] = {k: (v / 1000.0 if k != "count" else int(v)) for k, v in warm.items()}
        out["warmup_avg_ms"] = out["warmup"].get("avg")
    for line in lines:
        m = _INIT.search(line)
        if m:
            out["init_ms"] = float(m.group(1))
        m = _TIMINGS.search(line)
        if m:
            parts = dict(p.split(":", 1) for p in m.group(1).split(",") if ":" in p)
            parts = {k.strip(): float(v) / 1000.0 for k, v in parts.items()}
            out["init_ms"] = parts.get("Init", out.get("init_ms"))
            out["first_ms"] = parts.get("First inference")
            out["warmup_avg_ms"] = parts.get("Warmup (avg)", out.get("warmup_avg_ms"))
        m = _OLD_TIMINGS.search(line)
        if m:
            parts = dict(p.split(":", 1) for p in m.group(1).split(",") if ":" in p)
            out["warmup_avg_ms"] = float(parts.get(" Warmup", parts.get("Warmup", 0))) / 1000.0
        m = _MEMORY.search(line)
        if m:
            out["memory_mb"] = {"init": float(m.group(1)), "overall": float(m.group(2))}
    out.setdefault("first_ms", out.get("warmup", {}).get("first"))
    out["ops"] = _op_summary(text)
    return out


def _op_summary(text: str) -> list[dict]:
    """The 'Summary by node type' table of --enable_op_profiling: node type, count, avg ms, share."""
    rows, inside = [], False
    for raw in text.splitlines():
        line = re.sub(r"^(INFO|WARNING|ERROR): ", "", raw.strip())
        if "Summary by node type" in line:
            inside, rows = True, []
            continue
        if not inside:
            continue
        cells = [c.strip() for c in re.split(r"\t+|\s{2,}", line) if c.strip()]
        if not cells or cells[0].startswith("[") or line.startswith("="):
            if rows and (not cells or line.startswith("=")):
                break
            continue
        try:
            rows.append({"type": cells[0], "count": int(cells[1]), "avg_ms": float(cells[2]),
                         "percent": float(cells[3].rstrip("%"))})
        except (IndexError, ValueError):
            break
    return rows


def summary(parsed: dict) -> dict:
    """mobiledeploy's statistic fields from benchmark_model's own (it reports no raw latencies)."""
    inf = parsed["inference"]
    mean, std = inf["avg"], inf.get("std", 0.0)
    return {
        "runs": inf["count"], "mean_ms": mean, "median_ms": inf.get("median", mean),
        "p90_ms": None, "p95_ms": inf.get("p95"), "p99_ms": None, "min_ms": inf.get("min"),
        "max_ms": inf.get("max"), "std_ms": std, "cv": std / mean if mean else 0.0,
    }
