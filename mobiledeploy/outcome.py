"""How a command ends: the named exit codes, and one mapping from what was raised to (line, exit code).

Both entry points (the `mobiledeploy` CLI and the Pi classifier) end through `resolve`, so a user
error, a signal, a full disk or a bug reads the same everywhere. Commands raise; they never exit.
"""
from __future__ import annotations

import signal
from dataclasses import dataclass

from . import signals
from .errors import MobiledeployError

OK = 0
BUG = 1             # unexpected failure: a bug, to report
USER_ERROR = 2      # one "error:" line says what to fix
NOTHING_FITS = 3    # pick's answer "no variant fits": neither a failure nor a user error; scripts test for it
SIGNAL_BASE = 128   # ended by signal N: 128 + N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP)

EXIT_CODES_HELP = ("Exit codes: 0 ok, 1 unexpected failure (a bug: report it), 2 user error (one \"error:\" line "
                   "says what to fix), 3 no variant fits (pick), 130 interrupted (Ctrl-C), 143 terminated "
                   "(SIGTERM), 129 hung up (SIGHUP). Interrupted work leaves nothing half-written.")


class Answer(Exception):
    """An answer that is not success and not an error (e.g. nothing fits): its line goes to stdout."""

    code = OK

    def __init__(self, line: str, shown: bool = False):
        super().__init__(line)
        self.line = line
        self.shown = shown   # the command already printed the answer (e.g. as JSON)


class NothingFits(Answer):
    """pick: no measured variant fits the budget; `detail` says whether that is decided (pick --json carries it)."""

    code = NOTHING_FITS

    def __init__(self, line: str, shown: bool = False, detail: dict | None = None):
        super().__init__(line, shown)
        self.detail = detail or {}


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with what the interrupted work kept (e.g. a sweep's stored results)."""

    def __init__(self, kept: str):
        super().__init__(kept)
        self.kept = kept


@dataclass(frozen=True)
class Outcome:
    """The one line to print (None: nothing), where, and the exit code."""

    line: str | None
    code: int
    stream: str = "stderr"


def signal_code(signum: int) -> int:
    """Exit code after unwinding for signal `signum`."""
    return SIGNAL_BASE + int(signum)


def signal_outcome(signum: int, kept: str | None = None) -> Outcome:
    """What to say after unwinding for a signal (the clean-up has run)."""
    if signum == signal.SIGINT:
        return Outcome(f"interrupted: {kept or 'nothing half-written was left'}", signal_code(signum))
    return Outcome(f"terminated by {signal.Signals(signum).name}: {kept or 'temporary files removed'}",
                   signal_code(signum))


def user_error(message: str) -> Outcome:
    """One `error:` line (the first line of the message) and exit 2."""
    first = (str(message).strip().splitlines() or ["error"])[0]
    return Outcome(f"error: {first}", USER_ERROR)


def resolve(exc: BaseException) -> Outcome | None:
    """The outcome of an exception a command raised; None for a bug (the caller decides how to show it)."""
    from .fsutil import disk_error

    if isinstance(exc, Answer):
        return Outcome(None if exc.shown else exc.line, exc.code, "stdout")
    if isinstance(exc, signals.Terminated):
        return signal_outcome(exc.signum)
    if isinstance(exc, KeyboardInterrupt):
        return signal_outcome(signal.SIGINT, getattr(exc, "kept", None))
    if signals.received() is not None:  # a library turned the signal's exception into one of its own
        return signal_outcome(signals.received())
    if isinstance(exc, MobiledeployError):
        return user_error(str(exc))
    if isinstance(exc, MemoryError) or type(exc).__name__ == "ResourceExhaustedError":  # TensorFlow's OOM
        return user_error("out of memory: close other programs, or choose a smaller alpha, resolution or image "
                          "count")
    if isinstance(exc, OSError) and disk_error(exc, "") is not None:  # full disk, read-only, quota ...
        return user_error(str(disk_error(exc, "")))
    return None


def bug(exc: BaseException) -> Outcome:
    """An unexpected exception: still one line, with how to see the traceback."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return Outcome(f"error: unexpected {type(exc).__name__}: {first} (run with --verbose for the traceback and "
                   "report it)", BUG)


def show(out: Outcome) -> None:
    """Print the outcome's line, if any, on its stream."""
    import sys

    if out.line:
        stream = sys.stdout if out.stream == "stdout" else sys.stderr
        try:
            print(out.line, file=stream, flush=True)
        except (BrokenPipeError, ValueError):  # the reader went away, or the stream was closed
            pass


def run(body, verbose=lambda: False, special=None) -> int:
    """Run an entry point's body and return its exit code; whatever it raises ends as one line.

    `special(exc)` may map an entry point's own exceptions (click's usage errors, a closed pipe) first.
    A bug re-raises when `verbose()` (the traceback is what the user asked for).
    """
    try:
        result = body()
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - this is the one place every exception ends
        out = (special(exc) if special else None) or resolve(exc)
        if out is None:
            if verbose():
                raise
            out = bug(exc)
        show(out)
        return out.code
    return result if isinstance(result, int) else OK
