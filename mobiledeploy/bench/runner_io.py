"""Talking to the on-device runner (runner.py): its arguments from the bench settings, its one JSON answer."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import MobiledeployError

from .settings import BenchSettings

RUNNER = Path(__file__).with_name("runner.py")
PROBE_TIMEOUT = 60.0  # starting Python and importing a runtime, on the slowest board
RUN_FLOOR = 60.0      # the least any one measuring runner process is allowed (the same start-up, then the runs)


def run_timeout(settings: BenchSettings) -> float:
    """The longest one runner process may take before it counts as hung and is stopped (seconds).

    Generous on purpose: the protocol stops measuring a file after max_seconds, so ten times that (plus
    every cooldown the process sleeps, and never under a minute) is a runner that hangs, not a slow one.
    """
    sleeps = (settings.runs + settings.warmup) * settings.cooldown
    return max(RUN_FLOOR, 10 * settings.max_seconds + sleeps)


def timeout_fix(settings: BenchSettings) -> str:
    """What to do when a runner process outlived run_timeout (for the one-line error)."""
    return (f"a runner process may take 10 x --max-seconds ({settings.max_seconds:g}) plus its cooldowns, at least "
            f"{RUN_FLOOR:g} s: raise --max-seconds for a slow device or model")


def runner_args(model: str, settings: BenchSettings) -> list[str]:
    """The runner's command-line arguments for these settings (the runner has no defaults of its own)."""
    args = [model, "--threads", str(settings.threads), "--runs", str(settings.runs), "--warmup", str(settings.warmup)]
    if settings.cooldown:
        args += ["--cooldown", str(settings.cooldown)]
    if settings.cpu_mask:
        args += ["--cpu-mask", settings.cpu_mask]
    return args


def parse_runner_output(stdout: str, where: str) -> dict:
    """The runner's one JSON document; its {"error"} becomes a MobiledeployError."""
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    doc = None
    if lines:
        try:
            doc = json.loads(lines[-1])
        except ValueError:
            doc = None
    if not isinstance(doc, dict):
        tail = " ".join(stdout.split())[-120:]
        raise MobiledeployError(f"the runner on {where} printed no result" + (f" (it printed: {tail})" if tail else ""))
    if "error" in doc:
        raise MobiledeployError(f"{where}: {' '.join(str(doc['error']).split())}")
    return doc


def cores_text(cores) -> str:
    """0,1,2,5 -> '0-2,5'."""
    cores, spans = sorted(cores), []
    for c in cores:
        if spans and c == spans[-1][1] + 1:
            spans[-1][1] = c
        else:
            spans.append([c, c])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)


def check_cpu_mask(mask: str | None, probe: dict, device: str) -> None:
    """Refuse a --cpu-mask naming cores the device does not have (or will not let the runner use)."""
    if not mask:
        return
    bits = int(mask, 16)
    wanted = {i for i in range(bits.bit_length()) if bits >> i & 1}
    usable = probe.get("affinity")
    if not isinstance(usable, list) or not usable:
        cores = probe.get("cores")
        if not isinstance(cores, int) or cores < 1:
            return  # the device did not say; the runner itself reports a mask it cannot apply
        usable = list(range(cores))
    missing = wanted - set(usable)
    if missing:
        best = sum(1 << c for c in usable)
        raise MobiledeployError(f"--cpu-mask {mask} names core{'s' if len(missing) > 1 else ''} "
                                f"{cores_text(missing)}, which {device} does not have (usable cores: "
                                f"{cores_text(usable)}): use a mask within them, e.g. {best:x}")
