"""Shared by the benchmark scripts: run the CLI, print one JSON document and a one-line summary."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("mobiledeploy"))


def cli(*args, env=None) -> tuple[subprocess.CompletedProcess, float]:
    """Run mobiledeploy; (process, wall seconds). Raises with stderr when it fails."""
    start = time.perf_counter()
    proc = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, env={**os.environ, **(env or {})})
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"mobiledeploy {' '.join(map(str, args))} failed: {proc.stderr.strip()}")
    return proc, wall


def machine() -> dict:
    return {"machine": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version(),
            "processor": _cpu()}


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def report(name: str, data: dict, summary: str) -> None:
    """The JSON document on stdout, then the one-line summary."""
    print(json.dumps({"benchmark": name, "machine": machine(), **data}, indent=2))
    print(f"{name}: {summary}")
