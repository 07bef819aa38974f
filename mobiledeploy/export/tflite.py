"""TFLite conversion: fp32, fp16, dynamic-range and full-integer int8 (per-channel, builtin int8 ops).

The model is traced once into a frozen graph (fixed batch of 1: a dynamic batch adds shape ops and slows
LiteRT) and every precision converts from it. Freezing the traced function in memory gives the same
TFLite graph as writing and re-reading a SavedModel, in a fraction of the time (benchmarks/export_time.py:
Keras's SavedModel export took 5-14 s per model here, the frozen trace 1-2 s).
"""
from __future__ import annotations

import numpy as np

from ..quiet import import_tf


class Converter:
    """Converts one Keras model to any TFLite precision; use as a context manager."""

    def __init__(self, model):
        if model.input_shape[0] != 1:
            raise ValueError("export needs a model built with batch size 1")
        self.tf = import_tf()
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

        # an explicit batch-1 signature: a relaxed batch adds SHAPE/STRIDED_SLICE/PACK ops
        spec = self.tf.TensorSpec([1, *model.input_shape[1:]], self.tf.float32, name="input")
        traced = self.tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
        # constants, not variables: the int8 calibrator cannot read resource variables of a live function
        self.frozen = convert_variables_to_constants_v2(traced)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def convert(self, precision: str, calibration: np.ndarray | None = None, io: str = "int8",
                int8_options=None) -> bytes:
        """The flatbuffer for one precision; int8 needs calibration inputs (N x R x R x 3 float32).

        `int8_options` (tflite_ranges.Int8Options) chooses other activation ranges or float fallback layers;
        what was done is kept in `self.int8_record`.
        """
        tf = self.tf
        conv = tf.lite.TFLiteConverter.from_concrete_functions([self.frozen])
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
            from .tflite_ranges import Record

            self.int8_record = Record("minmax").as_dict()
        elif precision != "fp32":
            raise ValueError(f"unknown TFLite precision {precision}")
        return conv.convert()
