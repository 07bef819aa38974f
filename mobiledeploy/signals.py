"""SIGTERM and SIGHUP unwind like Ctrl-C: `finally` blocks and context managers run, temporaries go.

Python's default for these signals is to die on the spot, which leaves a half-built artifact folder
in --out and a SavedModel in $TMPDIR. The handler raises `Terminated` instead (a BaseException, like
KeyboardInterrupt, so no `except Exception` swallows it); outcome.py turns it into its exit code.
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


class SafePoints:
    """Ctrl-C, SIGTERM and SIGHUP wait for a safe point (a remote run's reads, an upload's chunks).

    Raised inside a library call (paramiko), KeyboardInterrupt can leave a lock or a half-sent packet behind
    and the clean-up then hangs; inside this block the handler only notes the signal, and `check()` raises
    what the previous handler would have: KeyboardInterrupt or `Terminated`. A second signal during the
    clean-up is ignored, so the clean-up always completes. A signal after the last check acts on exit.
    """

    def __enter__(self):
        import threading

        self.pending, self.raised, self.saved = None, False, {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, *SIGNALS):
                previous = signal.getsignal(sig)
                if previous in (signal.SIG_IGN, None):
                    continue  # ignored by whoever started us (nohup, a background job): keep it so
                self.saved[sig] = previous
                signal.signal(sig, self._note)
        return self

    def _note(self, signum, frame):
        if self.pending is None:
            self.pending = signum

    def check(self) -> None:
        """Raise for a signal that arrived since the last check (once)."""
        if self.pending is None or self.raised:
            return
        self.raised = True
        signum, previous = self.pending, self.saved.get(self.pending)
        if callable(previous):
            previous(signum, None)  # raises: KeyboardInterrupt, or Terminated
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum)

    def __exit__(self, kind, value, tb):
        for sig, previous in self.saved.items():
            signal.signal(sig, previous)
        if kind is None:
            self.check()
        return False


class NoSafePoints:
    """Outside a guarded block: signals act as usual."""

    @staticmethod
    def check() -> None:
        """Nothing is held."""
