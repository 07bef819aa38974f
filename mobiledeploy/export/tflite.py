"""TFLite conversion: fp32, fp16, dynamic-range and full-integer int8 (per-channel, builtin int8 ops).

The model is traced once into a SavedModel (fixed batch of 1: a dynamic batch adds shape ops and slows
LiteRT) and every precision converts from it.
"""
from __future__ import annotations

import errno
import tempfile
from pathlib import Path

import numpy as np

from ..quiet import import_tf

def _tmp_error(exc: Exception, where: str) -> Exception:
    """A full or read-only $TMPDIR is the user's to fix: say so; anything else stays a bug."""
    from ..errors import MobiledeployError

    text = str(exc)
    for code, reason in ((errno.ENOSPC, "No space left on device"), (errno.EDQUOT, "Disk quota exceeded"),
                         (errno.EROFS, "Read-only file system"), (errno.EACCES, "Permission denied")):
        if getattr(exc, "errno", None) == code or reason.lower() in text.lower():
            return MobiledeployError(f"cannot write the temporary SavedModel in {Path(where).parent}: {reason} "
                                     "(free some space there or point TMPDIR at another folder)")
    return exc


class Converter:
    """Converts one Keras model to any TFLite precision; use as a context manager."""

    def __init__(self, model):
        if model.input_shape[0] != 1:
            raise ValueError("export needs a model built with batch size 1")
        self.tf = import_tf()
        self._dir = tempfile.TemporaryDirectory(prefix="mobiledeploy-savedmodel-")
        self.saved = Path(self._dir.name) / "model"
        # Keras's export relaxes the batch to None unless told: that adds SHAPE/STRIDED_SLICE/PACK ops
        spec = self.tf.TensorSpec([1, *model.input_shape[1:]], self.tf.float32, name="input")
        try:
            model.export(str(self.saved), format="tf_saved_model", verbose=False, input_signature=[spec])
        except BaseException as exc:  # Ctrl-C, SIGTERM or a full $TMPDIR: the caller never gets self to clean up
            self._dir.cleanup()
            if isinstance(exc, Exception):
                raise _tmp_error(exc, self._dir.name) from None
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._dir.cleanup()
        return False

    def convert(self, precision: str, calibration: np.ndarray | None = None, io: str = "int8",
                int8_options=None) -> bytes:
        """The flatbuffer for one precision; int8 needs calibration inputs (N x R x R x 3 float32).

        `int8_options` (tflite_ranges.Int8Options) chooses other activation ranges or float fallback layers;
        what was done is kept in `self.int8_record`.
        """
        tf = self.tf
        conv = tf.lite.TFLiteConverter.from_saved_model(str(self.saved))
        if precision == "fp16":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.target_spec.supported_types = [tf.float16]
        elif precision == "dynamic":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        elif precision == "int8":
            if calibration is None or not len(calibration):
                raise ValueError("int8 conversion needs calibration inputs")

            def representative():
                for sample in calibration:
                    yield [sample[None].astype(np.float32)]

            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = representative
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            dtype = {"int8": tf.int8, "uint8": tf.uint8, "float": tf.float32}[io]
            conv.inference_input_type = dtype
            conv.inference_output_type = dtype
            if int8_options is not None and not int8_options.default:
                from .tflite_ranges import convert_int8

                data, record = convert_int8(conv, dtype, int8_options, calibration)
                self.int8_record = record.as_dict()
                return data
            self.int8_record = {"method": "minmax", "ranges_changed": {}, "float_layers": [],
                                "weights": "per-channel int8, scale max|w|/127 (converter)"}
        elif precision != "fp32":
            raise ValueError(f"unknown TFLite precision {precision}")
        return conv.convert()
