"""An export's options as one typed record that owns their defaults (as BenchSettings does for bench)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import MobiledeployError
from ..model.families import DEFAULT
from . import calibration, datafree
from .formats import FileKind


@dataclass
class ExportOptions:
    """One export's inputs, already checked; each default is written here once (the CLI's options, the API
    and the sweep read them from EXPORT_DEFAULTS)."""

    alpha: float = 1.0
    resolution: int = 224
    kinds: list[FileKind] = field(default_factory=list)
    arch: str = DEFAULT          # the family's name (model.families); --arch
    weights: str = "auto"
    calib: str | None = None
    calib_count: int = calibration.CALIB_COUNT
    calib_method: str = "minmax"
    verify_dir: str | None = None
    verify_count: int = 50
    io: str = "int8"
    out: str = "models"
    force: bool = False
    labels: str | None = None
    background: bool = False
    quiet: bool = False
    fallback_float: int = 0
    bias_correction: bool = False
    # data-free calibration: images and optimisation steps (0: the 1/f prior as is, for latency-only
    # exports of random weights, where calibration quality cannot matter and synthesis is most of the time)
    datafree_count: int = calibration.DATAFREE_COUNT
    datafree_steps: int = datafree.STEPS

    @property
    def family(self):
        """The model family (model.families.Family) this export builds."""
        from ..model.families import family

        return family(self.arch)

    def int8_options(self):
        """The TFLite int8 choices (tflite_ranges.Int8Options): ranges, imported QAT file, float fallback."""
        from .tflite_ranges import Int8Options

        return Int8Options(self.calib_method, str(self.weights), self.fallback_float, self.bias_correction)

    def check_applies(self) -> None:
        """Refuse an option that only changes a kind of file this export does not write (else it would be
        dropped without a word: `--io float` without `--int8`)."""
        tflite_int8 = any(k.format == "tflite" and k.quantized for k in self.kinds)
        int8 = any(k.quantized for k in self.kinds)
        unused = [(flag, where) for flag, where, used in (
            (f"--io {self.io}", "the TFLite int8 file", self.io == EXPORT_DEFAULTS.io or tflite_int8),
            ("--fallback-float", "the TFLite int8 file", not self.fallback_float or tflite_int8),
            ("--bias-correction", "the TFLite int8 file", not self.bias_correction or tflite_int8),
            (f"--calib-method {self.calib_method}", "the int8 files",
             self.calib_method == EXPORT_DEFAULTS.calib_method or int8)) if not used]
        if unused:
            flags = " and ".join(flag for flag, _ in unused)
            where = unused[0][1] if len({w for _, w in unused}) == 1 else "the int8 files"
            fix = ("add --int8" if "TFLite" not in where else "add tflite to --formats" if int8
                   else "add --int8 (with tflite in --formats)")
            raise MobiledeployError(f"{flags} only change{'s' if len(unused) == 1 else ''} {where}, which this export "
                                    f"does not write: {fix}, or leave {'it' if len(unused) == 1 else 'them'} out")


EXPORT_DEFAULTS = ExportOptions()
