"""This machine as a device: the same runner as on a board, in a subprocess, so local and remote measure alike."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import MobiledeployError
from ..fsutil import temporary_prefix
from .runner_io import PROBE_TIMEOUT, RUNNER, parse_runner_output, run_timeout, runner_args, timeout_fix
from .settings import BenchSettings

class LocalTarget:
    """This machine: the same runner, in a subprocess, so local and remote measure alike."""

    name = "local"

    def __init__(self, python: str | None = None):
        self.python = python or sys.executable

    def _run(self, args: list[str], timeout: float, fix: str = "") -> dict:
        """The runner in a private temporary folder (onnxruntime and LiteRT write files there), tied to this
        process by a pipe it watches: it ends when we do, however we end (--stop-on-eof)."""
        tether_read, tether_write = os.pipe()
        try:
            with tempfile.TemporaryDirectory(prefix=temporary_prefix("runner")) as tmp:
                env = {**os.environ, "TMPDIR": tmp}
                try:
                    proc = subprocess.Popen([self.python, str(RUNNER), "--stop-on-eof", *args], stdin=tether_read,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                except FileNotFoundError:
                    raise MobiledeployError(f"cannot run {self.python}: no such file (fix the local device's "
                                            "python)") from None
                os.close(tether_read)
                tether_read = None
                try:
                    out, _ = proc.communicate(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
                    raise MobiledeployError(f"the local runner took longer than {timeout:g} s: stopped"
                                            + (f" ({fix})" if fix else "")) from None
                except BaseException:  # Ctrl-C, SIGTERM: the runner goes too
                    proc.kill()
                    proc.wait()
                    raise
        finally:
            os.close(tether_write)
            if tether_read is not None:
                os.close(tether_read)
        return parse_runner_output(out, "local")

    def probe(self) -> dict:
        """What `devices check` reports for this machine."""
        return self._run(["--probe"], PROBE_TIMEOUT)

    def run(self, model: Path, settings: BenchSettings) -> dict:
        """Measure one model file here."""
        return self._run(runner_args(str(model), settings), run_timeout(settings), timeout_fix(settings))

    def close(self):
        """Nothing to close."""
