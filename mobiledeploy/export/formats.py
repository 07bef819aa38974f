"""The one table of export targets: it drives argument checking, --help, file names and the bench."""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from ..errors import MobiledeployError


@dataclass(frozen=True)
class Target:
    """One file an artifact can hold."""

    format: str
    precision: str
    note: str

    @property
    def filename(self) -> str:
        return f"model_{self.precision}.{self.format}"

    @property
    def quantized(self) -> bool:
        return self.precision == "int8"


TARGETS = (
    Target("tflite", "fp32", "float32, the reference every other file is checked against"),
    Target("tflite", "fp16", "float16 weights, float32 compute on CPU; halves the file"),
    Target("tflite", "dynamic", "int8 weights, float activations; no calibration"),
    Target("tflite", "int8", "full integer, per-channel weights, builtin int8 ops, calibrated"),
    Target("onnx", "fp32", "float32 graph written from the Keras layers (batch norm folded)"),
    Target("onnx", "int8", "QDQ, per-channel, onnxruntime static quantization, calibrated"),
)
FORMATS = tuple(dict.fromkeys(t.format for t in TARGETS))
PRECISIONS = tuple(dict.fromkeys(t.precision for t in TARGETS))


def _parse_list(text: str, allowed: tuple, what: str) -> list[str]:
    items = [i.strip().lower() for i in text.split(",") if i.strip()]
    for item in items:
        if item not in allowed:
            close = difflib.get_close_matches(item, allowed, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise MobiledeployError(f"unknown {what} {item!r}{hint}: choose from {', '.join(allowed)}")
    if not items:
        raise MobiledeployError(f"no {what} given: choose from {', '.join(allowed)}")
    return items


def select(formats: str, precisions: str | None, int8: bool) -> list[Target]:
    """The targets an export writes: fp32 always; --int8 adds int8; --precision picks explicitly."""
    fmts = _parse_list(formats, FORMATS, "format")
    precs = _parse_list(precisions, PRECISIONS, "precision") if precisions else ["fp32"]
    if int8 and "int8" not in precs:
        precs.append("int8")
    if "fp32" not in precs:
        precs.insert(0, "fp32")  # every other file is verified against a float export too
    chosen = [t for t in TARGETS if t.format in fmts and t.precision in precs]
    if not chosen:
        raise MobiledeployError(f"no target matches formats {fmts} and precisions {precs}")
    return chosen


def help_table() -> str:
    """Lines for --help listing every target."""
    return "\n".join(f"  {t.filename:<22} {t.note}" for t in TARGETS)
