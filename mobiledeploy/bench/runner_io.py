"""Talking to the on-device runner (runner.py): its arguments from the bench settings, its one JSON answer."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import MobiledeployError

from .settings import BenchSettings

RUNNER = Path(__file__).with_name("runner.py")
PROBE_TIMEOUT = 300.0  # starting Python and importing a runtime, on the slowest board (an emulated one included)
RUN_FLOOR = 300.0      # the same start-up and loading a model, for any one measuring runner process
PER_INFERENCE = 2.0    # seconds allowed per warm-up or measured inference (a large fp32 file on a slow board)
MAX_STDOUT = 16 << 20  # the runner prints one JSON line; a process printing more is not running it
STDERR_TAIL = 64 << 10  # stderr only explains a failure, and its end does: a flood keeps this much, not all


def run_timeout(settings: BenchSettings) -> float:
    """The longest one runner process may take before it counts as hung and is stopped (seconds).

    A process stops measuring at its share of --max-seconds, but only after its warm-up and its first few
    runs (benchmark_model on a phone has no such stop), so the bound is a start-up floor, ten times the time cap,
    and an allowance per inference plus every cooldown it sleeps: a runner past that hangs, it is not slow.
    """
    per = PER_INFERENCE + settings.cooldown
    return max(RUN_FLOOR, 10 * settings.max_seconds) + (settings.runs + settings.warmup) * per


def timeout_fix(settings: BenchSettings) -> str:
    """What to do when a runner process outlived run_timeout (for the one-line error)."""
    return (f"a runner process may take {RUN_FLOOR:g} s or 10 x --max-seconds ({settings.max_seconds:g}), plus "
            f"{PER_INFERENCE:g} s and the cooldown per inference: a runner that outlives that hangs; for a device "
            "that slow, raise --max-seconds")


def runner_args(model: str, settings: BenchSettings) -> list[str]:
    """The runner's command-line arguments for these settings (the runner has no defaults of its own)."""
    args = [model, "--threads", str(settings.threads), "--runs", str(settings.runs), "--warmup", str(settings.warmup),
            # each of the file's first processes gets its share of --max-seconds, so the cap holds inside a process
            "--max-seconds", f"{settings.max_seconds / settings.processes:.6g}"]
    if settings.cooldown:
        args += ["--cooldown", str(settings.cooldown)]
    if settings.cpu_mask:
        args += ["--cpu-mask", settings.cpu_mask]
    return args


def parse_runner_output(stdout: str, where: str, stderr: str = "") -> dict:
    """The runner's one JSON document; its {"error"} becomes a MobiledeployError. Without a document, the
    error quotes the end of stdout, else the last line of `stderr` (a crash's traceback ends with its cause)."""
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    doc = None
    if lines:
        try:
            doc = json.loads(lines[-1])
        except ValueError:
            doc = None
    if not isinstance(doc, dict):
        tail = " ".join(stdout.split())[-120:]
        said = "".join(c if c.isprintable() else " " for c in (stderr.strip().splitlines() or [""])[-1])[-160:]
        raise MobiledeployError(f"the runner on {where} printed no result" + (f" (it printed: {tail})" if tail else "")
                                + (f" (its last error line: {said.strip()})" if said.strip() and not tail else ""))
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
