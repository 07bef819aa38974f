"""What every command shares: quiet TensorFlow, warnings and log records as single lines, JSON output."""
from __future__ import annotations

import json
import logging
import os
import sys
import warnings

import click

from .. import signals
from ..quiet import VERBOSE_ENV, quiet_environment


def emit_json(obj) -> None:
    """Print one JSON document on stdout (typed records print their `to_dict()`)."""
    click.echo(json.dumps(obj, indent=2, default=_plain))


def _plain(value):
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


def _warning_line(message, category, filename, lineno, file=None, line=None):
    click.echo(f"warning: {message}", err=True)


def setup_logging(verbose: bool) -> None:
    """Warnings and log records as one short line each on stderr; SIGTERM/SIGHUP unwind like Ctrl-C."""
    signals.install()
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    quiet_environment()
    warnings.showwarning = _warning_line
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log = logging.getLogger("mobiledeploy")
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False
    if not verbose:
        for name in ("tensorflow", "absl", "h5py", "PIL"):
            logging.getLogger(name).setLevel(logging.ERROR)
