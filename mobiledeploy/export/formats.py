"""The one table of file kinds an artifact can hold (format x precision).

It drives the export's argument checking and --help, file names, the manifest schema's enums (checked
by tests/export/test_formats.py), the dispatch to a writer (export/pipeline.py) and how many files a bench runs.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..choices import choice_list
from ..errors import MobiledeployError


@dataclass(frozen=True)
class FileKind:
    """One kind of file an artifact can hold."""

    format: str
    precision: str
    note: str

    @property
    def filename(self) -> str:
        return f"model_{self.precision}.{self.format}"

    @property
    def quantized(self) -> bool:
        """Needs calibration inputs (full-integer activations)."""
        return self.precision == "int8"


FILE_KINDS = (
    FileKind("tflite", "fp32", "float32, the reference every other file is checked against"),
    FileKind("tflite", "fp16", "float16 weights, float32 compute on CPU; halves the file"),
    FileKind("tflite", "dynamic", "int8 weights, float activations; no calibration"),
    FileKind("tflite", "int8", "full integer, per-channel weights, builtin int8 ops, calibrated"),
    FileKind("onnx", "fp32", "float32 graph written from the Keras layers (batch norm folded)"),
    FileKind("onnx", "int8", "QDQ, per-channel, onnxruntime static quantization, calibrated"),
)
FORMATS = tuple(dict.fromkeys(k.format for k in FILE_KINDS))
PRECISIONS = tuple(dict.fromkeys(k.precision for k in FILE_KINDS))
#: How int8 activation ranges are set, and the input/output types a TFLite int8 file can have.
CALIB_METHODS = ("minmax", "entropy", "percentile", "imported")
IO_TYPES = ("int8", "uint8", "float")
#: The TFLite precisions a sweep compares and pick chooses among (what phones and boards run).
SWEEP_PRECISIONS = ("fp32", "int8")


def kind(format: str, precision: str) -> FileKind:
    """The table's row for a format and precision."""
    for k in FILE_KINDS:
        if k.format == format and k.precision == precision:
            return k
    raise KeyError((format, precision))


def select(formats: str, precisions: str | None, int8: bool) -> list[FileKind]:
    """The file kinds an export writes: fp32 always; --int8 adds int8; --precisions picks explicitly."""
    fmts = choice_list(formats, FORMATS, "format", "--formats")
    precs = choice_list(precisions, PRECISIONS, "precision", "--precisions") if precisions else ["fp32"]
    if int8 and "int8" not in precs:
        precs.append("int8")
    if "fp32" not in precs:
        precs.insert(0, "fp32")  # every other file is verified against a float export too
    chosen = [k for k in FILE_KINDS if k.format in fmts and k.precision in precs]
    for p in precs:  # a precision asked for that none of the formats has would be dropped without a word
        if not any(k.precision == p for k in chosen):
            has = [k.format for k in FILE_KINDS if k.precision == p]
            raise MobiledeployError(f"--precisions {p}: no {' or '.join(fmts)} file has that precision ({p} is "
                                    f"{' and '.join(has)} only): add {has[0]} to --formats, or leave {p} out")
    return chosen


def help_table() -> str:
    """Lines for --help listing every file kind."""
    return "\n".join(f"  {k.filename:<22} {k.note}" for k in FILE_KINDS)
