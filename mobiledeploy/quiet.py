"""Keep TensorFlow's, LiteRT's and onnxruntime's own log lines off the terminal unless --verbose."""
from __future__ import annotations

import logging
import os
import warnings

VERBOSE_ENV = "MOBILEDEPLOY_VERBOSE"


def verbose() -> bool:
    """True when the user asked for TensorFlow's own log lines (--verbose)."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def quiet_environment() -> None:
    """Environment variables that silence native start-up logs; must run before TensorFlow loads."""
    if not verbose():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
        os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


def import_tf():
    """Return the tensorflow module, silenced (oneDNN, CUDA, absl) unless --verbose."""
    quiet_environment()
    import tensorflow as tf

    if not verbose():
        tf.get_logger().setLevel(logging.ERROR)
        logging.getLogger("absl").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module="tensorflow")
        warnings.filterwarnings("ignore", module="keras")
        try:
            import absl.logging

            absl.logging.set_verbosity(absl.logging.ERROR)
        except ImportError:
            pass
    return tf


class native_output_captured:
    """Capture what native code writes to stdout/stderr (converter dumps) unless --verbose.

    The captured text is kept in `.text` so an error can still show it.
    """

    def __enter__(self):
        import sys
        import tempfile

        self.text = ""
        if verbose():
            return self
        sys.stdout.flush()
        sys.stderr.flush()
        self._tmp = tempfile.TemporaryFile(mode="w+b")
        self._saved = [os.dup(1), os.dup(2)]
        os.dup2(self._tmp.fileno(), 1)
        os.dup2(self._tmp.fileno(), 2)
        self._level = logging.root.manager.disable
        logging.disable(logging.WARNING)
        return self

    def __exit__(self, *exc):
        import sys

        if verbose():
            return False
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        for fd in self._saved:
            os.close(fd)
        logging.disable(self._level)
        self._tmp.seek(0)
        self.text = self._tmp.read().decode("utf-8", "replace")
        self._tmp.close()
        return False
