"""Options shared by several commands, declared once: the same name has the same type, range and default
everywhere (defaults come from the records that own them: BenchSettings, calibration, the classifier)."""
from __future__ import annotations

import click

from ..errors import MobiledeployError


def _checked(name: str, checker, doc: str):
    """A click parameter type that validates with one of the model's own checks."""

    class Checked(click.ParamType):
        __doc__ = doc

        def convert(self, value, param, ctx):
            try:
                return checker(value)
            except MobiledeployError as exc:
                self.fail(str(exc), param, ctx)

    Checked.name = name
    return Checked()


def _alpha(value):
    from ..model.architecture import check_alpha

    return check_alpha(value)


def _resolution(value):
    from ..model.architecture import check_resolution

    return check_resolution(value)


def _family(value):
    from ..model.families import Family, family

    return value if isinstance(value, Family) else family(value)


ALPHA = _checked("ALPHA", _alpha, "Width multiplier: 1/32 to 16 (above 1 with a warning).")
RESOLUTION = _checked("PIXELS", _resolution, "Input side in pixels, 32 to 16384.")
ARCH = _checked("ARCH", _family, "MobileNet family: mobilenet_v1 or mobilenet_v2.")


def arch_option(fn):
    """--arch: which MobileNet family (default v1, so every older command line means what it meant)."""
    from ..model.families import DEFAULT, FAMILIES

    return click.option("--arch", "family", type=ARCH, default=DEFAULT, show_default=True,
                        help=f"MobileNet family: {' or '.join(FAMILIES)} (Howard et al. 2017; Sandler et al. "
                             "2018).")(fn)


def shape_options(fn):
    """--arch, --alpha and --res: which MobileNet, shared by every command that names one."""
    fn = arch_option(fn)
    from ..export.options import EXPORT_DEFAULTS as XD

    fn = click.option("--res", "resolution", type=RESOLUTION, default=XD.resolution, show_default=True,
                      help="Input side in pixels (the paper's rho x 224).")(fn)
    return click.option("--alpha", type=ALPHA, default=XD.alpha, show_default=True,
                        help="Width multiplier: channels x alpha, cost ~ alpha^2.")(fn)


def model_options(fn):
    """--alpha, --res and --weights, shared by every command that builds a model."""
    from ..export.options import EXPORT_DEFAULTS as XD

    fn = click.option("--weights", default=XD.weights, show_default=True, metavar="SPEC",
                      help="auto (official ImageNet file if cached or downloadable, else random), "
                           "imagenet, none, a Keras .h5 file, a MobileNet v1/V2 .tflite to import, or "
                           "torchvision's ShuffleNet V2 as a state dict .npz or an .onnx file.")(fn)
    return shape_options(fn)


def threads_option(default=None, help_text="Inference threads"):
    """--threads N, 1 to MAX_THREADS, in every command that runs a model."""
    from ..runtime.session import MAX_THREADS

    shown = {"show_default": True} if default is not None else {}
    return click.option("--threads", type=click.IntRange(1, MAX_THREADS), default=default, **shown,
                        help=f"{help_text} (1 to {MAX_THREADS}).")


def bench_options(fn=None, *, thread_list: bool = False):
    """How each file is measured (defaults: BenchSettings): threads, runs per process, the protocol's stop rule.
    With `thread_list` (the sweep), --threads is a comma list: a sweep axis."""
    if fn is None:
        return lambda f: bench_options(f, thread_list=thread_list)
    from ..bench.settings import DEFAULTS
    from ..runtime.session import MAX_THREADS

    fn = click.option("--strict", is_flag=True, help="Refuse to store a result whose verdict is unstable.")(fn)
    fn = click.option("--confidence", type=click.FloatRange(0.5, 1, max_open=True), default=DEFAULTS.confidence,
                      show_default=True, help="Confidence of the median and p90 intervals.")(fn)
    fn = click.option("--max-seconds", type=click.FloatRange(0, min_open=True), default=DEFAULTS.max_seconds,
                      show_default=True, metavar="S", help="Time cap per file: stop measuring it after S seconds.")(fn)
    fn = click.option("--ci-width", type=click.FloatRange(0, 1, min_open=True, max_open=True),
                      default=DEFAULTS.ci_width, show_default=True, metavar="FRACTION",
                      help="Stop when the median's and p90's intervals are within +-FRACTION (0.05: +-5%).")(fn)
    fn = click.option("--processes", type=click.IntRange(1, 1000), default=DEFAULTS.processes, show_default=True,
                      help="Independent runner processes per file, at least (files are measured interleaved).")(fn)
    fn = click.option("--warmup", type=click.IntRange(min=0), default=DEFAULTS.warmup, show_default=True,
                      help="Inferences before measuring.")(fn)
    fn = click.option("--runs", type=click.IntRange(min=2), default=DEFAULTS.runs, show_default=True,
                      help="Measured inferences per runner process.")(fn)
    if thread_list:
        return click.option("--threads", default=str(DEFAULTS.threads), show_default=True, metavar="LIST",
                            help=f"Comma list of thread counts (1 to {MAX_THREADS}), e.g. 1,2,4: every file is "
                                 "measured at each, and pick chooses among them (more than the device's cores "
                                 "warns).")(fn)
    return threads_option(DEFAULTS.threads)(fn)


def calib_count_option(fn):
    """--calib-count: calibration images used (export and sweep alike)."""
    from ..export.calibration import CALIB_COUNT, MIN_RECOMMENDED

    return click.option("--calib-count", type=click.IntRange(min=1), default=CALIB_COUNT, show_default=True,
                        help=f"Calibration images used (below {MIN_RECOMMENDED} warns).")(fn)


def top_k_option(fn):
    """--top-k: classes shown per image."""
    from ..runtime.classifier import TOP_K

    return click.option("--top-k", "top_k", type=click.IntRange(1, 100), default=TOP_K, show_default=True,
                        help="Classes to show per image.")(fn)


def sweep_precisions_option(fn):
    """--precisions LIST (old spelling --precision): the TFLite precisions a sweep compares."""
    from ..export.formats import SWEEP_PRECISIONS

    return click.option("--precisions", "--precision", "precisions", default=",".join(SWEEP_PRECISIONS),
                        show_default=True, metavar="LIST",
                        help=f"Comma list of TFLite precisions: {', '.join(SWEEP_PRECISIONS)}.")(fn)


def insecure_option(fn):
    """--insecure: accept an unknown SSH host key for this connection only."""
    return click.option("--insecure", is_flag=True,
                        help="Accept an unknown SSH host key for this connection only (never written to "
                             "known_hosts).")(fn)


def json_option(keys: str):
    """--json with the documented shape of the command's one JSON object."""
    return click.option("--json", "as_json", is_flag=True, help=f"Print one JSON object on stdout ({keys}).")
