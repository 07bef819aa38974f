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


AlphaType = _checked("ALPHA", "check_alpha", "Width multiplier: 1/32 to 16 (above 1 with a warning).")
ResolutionType = _checked("PIXELS", "check_resolution", "Input side in pixels, 32 to 16384.")


def shape_options(fn):
    """--alpha and --res: which MobileNet v1, shared by every command that names one."""
    fn = click.option("--res", "resolution", type=ResolutionType(), default=224, show_default=True,
                      help="Input side in pixels (the paper's rho x 224).")(fn)
    fn = click.option("--alpha", type=AlphaType(), default=1.0, show_default=True,
                      help="Width multiplier: channels x alpha, cost ~ alpha^2.")(fn)
    return fn


def model_options(fn):
    """--alpha, --res and --weights, shared by every command that builds a model."""
    fn = click.option("--weights", default="auto", show_default=True, metavar="SPEC",
                      help="auto (official ImageNet file if cached or downloadable, else random), "
                           "imagenet, none, a Keras .h5 file, or a MobileNet v1 .tflite to import.")(fn)
    return shape_options(fn)


def renamed(old: str, new: str, dest: str, **kwargs):
    """A hidden option under an option's old spelling, kept for one release: it warns and fills `dest`.

    The command reads the value with `pick(new_value, old_value)`.
    """

    def callback(ctx, param, value):
        if value not in (None, (), False):
            click.echo(f"warning: {old} is renamed {new}; {old} goes away in the next release", err=True)
        return value

    return click.option(old, f"{dest}_old", hidden=True, default=None, expose_value=True, callback=callback,
                        **kwargs)


def pick(value, old_value, default=None):
    """The new option's value, else the old spelling's, else the default."""
    if value not in (None, ()):
        return value
    if old_value not in (None, ()):
        return old_value
    return default


def json_option(keys: str):
    """--json with the documented shape of the command's one JSON object."""
    return click.option("--json", "as_json", is_flag=True, help=f"Print one JSON object on stdout ({keys}).")
