"""This machine as a device: the same runner as on a board, in a subprocess, so local and remote measure alike."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ..errors import MobiledeployError
from .runner_io import RUNNER, parse_runner_output, runner_args
from .settings import BenchSettings

RUN_TIMEOUT = 3600.0


class LocalTarget:
    """This machine: the same runner, in a subprocess, so local and remote measure alike."""

    name = "local"

    def __init__(self, python: str | None = None):
        self.python = python or sys.executable

    def _run(self, args: list[str], timeout: float = RUN_TIMEOUT) -> dict:
        try:
            proc = subprocess.run([self.python, str(RUNNER), *args], capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise MobiledeployError(f"cannot run {self.python}: no such file (fix the local device's python)") from None
        except subprocess.TimeoutExpired:
            raise MobiledeployError(f"the local runner took longer than {timeout:g} s: stopped") from None
        return parse_runner_output(proc.stdout, "local")

    def probe(self) -> dict:
        """What `devices check` reports for this machine."""
        return self._run(["--probe"], 60)

    def run(self, model: Path, settings: BenchSettings) -> dict:
        """Measure one model file here."""
        return self._run(runner_args(str(model), settings))

    def close(self):
        """Nothing to close."""
