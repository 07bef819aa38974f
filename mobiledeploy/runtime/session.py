"""Run one model file (TFLite or ONNX) on float32 inputs, hiding its input and output quantization."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MobiledeployError
from .preprocess import quantize

MAX_THREADS = 256   # far above any phone's or board's cores; more is a typo (every --threads option says so)


class Session:
    """A loaded model file: `run(float64 NHWC input) -> float32 scores`, plus its I/O description."""

    def __init__(self, path, threads: int | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise MobiledeployError(f"model file not found: {self.path}")
        suffix = self.path.suffix.lower()
        if suffix == ".tflite":
            self._open_tflite(threads)
        elif suffix == ".onnx":
            self._open_onnx(threads)
        else:
            raise MobiledeployError(f"unknown model format {suffix!r} for {self.path}: expected .tflite or .onnx")

    def _open_tflite(self, threads):
        from ..litert import open_interpreter

        self.format = "tflite"
        self._it = open_interpreter(self.path, threads=threads)
        inp, out = self._it.get_input_details()[0], self._it.get_output_details()[0]
        self._in_index, self._out_index = inp["index"], out["index"]
        self.input_dtype, self.output_dtype = np.dtype(inp["dtype"]), np.dtype(out["dtype"])
        self.input_quant = tuple(inp["quantization"]) if self.input_dtype.kind in "iu" else None
        self.output_quant = tuple(out["quantization"]) if self.output_dtype.kind in "iu" else None
        self.input_shape = [int(v) for v in inp["shape"]]

    def _open_onnx(self, threads):
        import onnxruntime as ort

        self.format = "onnx"
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = threads
        try:
            from ..litert import is_utf8, model_bytes

            source = str(self.path) if is_utf8(self.path) else model_bytes(self.path)   # see litert.is_utf8
            self._ort = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types per failure
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise MobiledeployError(f"cannot load ONNX model {self.path}: {first}") from None
        inp = self._ort.get_inputs()[0]
        self._in_name = inp.name
        self.input_dtype = self.output_dtype = np.dtype(np.float32)
        self.input_quant = self.output_quant = None
        self.input_shape = [int(v) for v in inp.shape]

    def prepare(self, values: np.ndarray) -> np.ndarray:
        """The exact tensor fed to the model for normalised float64 values (quantized when the input is)."""
        if self.input_quant:
            scale, zero = self.input_quant
            return quantize(values, scale, int(zero), self.input_dtype)
        return values.astype(np.float32)

    def invoke(self, tensor: np.ndarray) -> np.ndarray:
        """Run on an already prepared tensor; raw output."""
        try:
            if self.format == "tflite":
                self._it.set_tensor(self._in_index, tensor)
                self._it.invoke()
                return self._it.get_tensor(self._out_index).copy()
            return self._ort.run(None, {self._in_name: tensor})[0]
        except (RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise MobiledeployError(f"inference failed in {self.path}: {first}") from None
        except Exception as exc:  # onnxruntime's own error types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise MobiledeployError(f"inference failed in {self.path}: {first}") from None

    def dequantize(self, raw: np.ndarray) -> np.ndarray:
        """Output scores as float32."""
        if self.output_quant:
            scale, zero = self.output_quant
            return ((raw.astype(np.float32) - zero) * scale).astype(np.float32)
        return raw.astype(np.float32)

    def run(self, values: np.ndarray) -> np.ndarray:
        """Normalised float input (1xRxRx3) -> float32 scores (1xN)."""
        return self.dequantize(self.invoke(self.prepare(values)))
