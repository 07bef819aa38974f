"""SIGTERM and SIGHUP unwind like Ctrl-C: `finally` blocks and context managers run, temporaries go.

Python's default for these signals is to die on the spot, which leaves a half-built artifact folder
in --out and a SavedModel in $TMPDIR. The handler raises `Terminated` instead (a BaseException, like
KeyboardInterrupt, so no `except Exception` swallows it); the CLI turns it into exit 128 + signal.
"""
from __future__ import annotations

import signal
from contextlib import contextmanager

SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None)


class Terminated(BaseException):
    """Raised in the main thread when SIGTERM or SIGHUP arrives."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum


_received: list[int] = []


def received() -> int | None:
    """The signal that started the unwind, if any.

    A library can turn the exception raised in the middle of its own code into another one (pybind11
    reports an ImportError "initialization failed" when a signal lands in a module's import), so error
    handlers ask this rather than trusting the exception's type.
    """
    return _received[0] if _received else None


def _raise(signum, frame):
    _received.append(signum)
    # one unwind is enough: a second signal while cleaning up must not interrupt the clean-up
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


def _interrupt(signum, frame):
    _received.append(signum)
    raise KeyboardInterrupt


def install() -> None:
    """Make SIGTERM and SIGHUP raise Terminated and record Ctrl-C (signals the parent ignores, as nohup and
    background jobs do, stay ignored)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    for sig in SIGNALS:
        if signal.getsignal(sig) != signal.SIG_IGN:
            signal.signal(sig, _raise)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)


def exit_line(signum: int) -> tuple[str, int]:
    """What to print and the exit code after unwinding for a signal."""
    if signum == signal.SIGINT:
        return "interrupted: nothing was published", 130
    return f"terminated by {signal.Signals(signum).name}: temporary files removed", 128 + signum


@contextmanager
def deferred():
    """Hold Ctrl-C, SIGTERM and SIGHUP until the block is done (a few renames that must happen together)."""
    block = {signal.SIGINT, *SIGNALS}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, block)
    except (AttributeError, ValueError, OSError):  # no pthread_sigmask on this platform
        old = None
    try:
        yield
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
