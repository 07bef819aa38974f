"""What every command shares: one-line errors, quiet TensorFlow, warnings as single lines, JSON output."""
from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
import warnings

import click

from ..errors import MobiledeployError
from ..fsutil import disk_error
from .. import signals
from ..signals import Terminated
from ..quiet import VERBOSE_ENV, quiet_environment


def emit_json(obj) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(obj, indent=2, default=str))


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


def user_errors(fn):
    """Turn MobiledeployError, disk faults (full, read-only, ...), Ctrl-C, SIGTERM and SIGHUP into one line
    on stderr and a non-zero exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SystemExit:
            raise
        except BaseException as exc:
            signum = signals.received() or (signal.SIGINT if isinstance(exc, KeyboardInterrupt) else None)
            if isinstance(exc, Terminated):
                signum = exc.signum
            if signum is not None:  # whatever a library turned the signal's exception into
                signal_exit(signum)
            if isinstance(exc, MobiledeployError):
                fail(exc)
            if isinstance(exc, OSError) and disk_error(exc, "") is not None:
                fail(disk_error(exc, ""))
            raise

    return wrapper


def signal_exit(signum: int) -> None:
    """Say which signal ended the command (the clean-up has run) and exit 128 + its number."""
    message, code = signals.exit_line(signum)
    click.echo(message, err=True)
    sys.exit(code)


def fail(exc: MobiledeployError) -> None:
    """Print a user error as one line and exit 2."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    click.echo(f"error: {first}", err=True)
    sys.exit(2)


def _checked(name: str, checker_name: str, doc: str):
    """A click parameter type that validates with one of model.architecture's checks."""

    class Checked(click.ParamType):
        __doc__ = doc

        def convert(self, value, param, ctx):
            from ..model import architecture

            try:
                return getattr(architecture, checker_name)(value)
            except MobiledeployError as exc:
                self.fail(str(exc), param, ctx)

    Checked.name = name
    return Checked


AlphaType = _checked("ALPHA", "check_alpha", "Width multiplier: a number in (0, 1] (larger with a warning).")
ResolutionType = _checked("PIXELS", "check_resolution", "Input side in pixels, >= 32.")


def model_options(fn):
    """--alpha, --res and --weights, shared by every command that builds a model."""
    fn = click.option("--weights", default="auto", show_default=True, metavar="SPEC",
                      help="auto (official ImageNet file if cached or downloadable, else random), "
                           "imagenet, none, a Keras .h5 file, or a MobileNet v1 .tflite to import.")(fn)
    fn = click.option("--res", "resolution", type=ResolutionType(), default=224, show_default=True,
                      help="Input side in pixels (the paper's rho x 224).")(fn)
    fn = click.option("--alpha", type=AlphaType(), default=1.0, show_default=True,
                      help="Width multiplier: channels x alpha, cost ~ alpha^2.")(fn)
    return fn
