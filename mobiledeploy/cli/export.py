"""`mobiledeploy export`: the main job."""
from __future__ import annotations

import click

from ..export.formats import CALIB_METHODS, FORMATS, IO_TYPES, PRECISIONS, help_table
from ..export.options import EXPORT_DEFAULTS as XD
from .. import api
from .common import emit_json
from .options import calib_count_option, json_option, model_options


@click.command(epilog="\b\nFiles an artifact can hold:\n" + help_table())
@model_options
@click.option("--int8", is_flag=True, help="Add full-integer int8 files (calibrated).")
@click.option("--formats", default=",".join(FORMATS), show_default=True, help=f"Comma list: {', '.join(FORMATS)}.")
@click.option("--precisions", "--precision", "precisions", default=None, metavar="LIST",
              help=f"Comma list of {', '.join(PRECISIONS)} (fp32 is always written).")
@click.option("--calib", type=click.Path(), default=None,
              help="Folder of calibration images (recursive; jpg/png/bmp). Without it: data-free calibration.")
@calib_count_option
@click.option("--calib-method", type=click.Choice(CALIB_METHODS), default=XD.calib_method,
              show_default=True, help="Int8 activation ranges: min/max, percentile, entropy, or imported from a "
                                      "quantized --weights FILE.tflite (QAT; TFLite only, ONNX then uses min/max).")
@click.option("--fallback-float", type=click.IntRange(min=0), default=XD.fallback_float, show_default=True, metavar="N",
              help="Keep N layers in float (TFLite): the N whose float run removes the most output noise, "
                   "measured. With --io float the input and output tensors can stay float too.")
@click.option("--bias-correction", is_flag=True,
              help="Correct each int8 layer's bias for the mean drift from float, measured layer by layer on "
                   "the calibration images (TFLite; same ops and latency, ~10 s more).")
@click.option("--verify", "verify_dir", type=click.Path(), default=None,
              help="Folder of verification images (default: held back from --calib, else synthetic).")
@click.option("--verify-count", type=click.IntRange(min=1), default=XD.verify_count, show_default=True,
              help="Verification images at most.")
@click.option("--io", type=click.Choice(IO_TYPES), default=XD.io, show_default=True,
              help="Input/output type of the TFLite int8 file.")
@click.option("--labels", type=click.Path(), default=None, help="Class names, one per line.")
@click.option("--keep-background", is_flag=True,
              help="Keep a background class at output 0 (Google's 1001-class TFLite models).")
@click.option("--out", default=XD.out, show_default=True, type=click.Path(), help="Folder for artifacts.")
@click.option("--force", is_flag=True, help="Replace an existing artifact.")
@json_option('keys "artifact", "files", "manifest", "weights", "calibration", "seconds", "timings"')
def export(family, alpha, resolution, weights, int8, formats, precisions, calib, calib_count, calib_method, verify_dir,
           verify_count, io, labels, keep_background, out, force, as_json, fallback_float, bias_correction):
    """Export a network (MobileNet v1 or V2, ShuffleNet V1 or V2: --arch) to a verified artifact: TFLite/ONNX
    files, labels.txt, manifest.json.

    Every file is run (LiteRT, onnxruntime) on verification images and compared with the float Keras
    model; the artifact folder appears only when all of it is written.

    \b
    Examples:
      mobiledeploy export --alpha 0.5 --res 128 --int8
      mobiledeploy export --arch mobilenet_v2 --alpha 1.0 --res 224 --int8 --calib photos/
      mobiledeploy export --arch shufflenet_v2 --alpha 0.5 --res 224 --weights shufflenet_v2_x0_5.npz
    """

    result = api.export(alpha, resolution, int8=int8, formats=formats, precisions=precisions, weights=weights,
                        calib=calib, calib_count=calib_count, calib_method=calib_method, verify=verify_dir,
                        verify_count=verify_count, io=io, labels=labels, keep_background=keep_background, out=out,
                        force=force, fallback_float=fallback_float, bias_correction=bias_correction, quiet=as_json,
                        arch=family.name)
    if as_json:
        emit_json(result.to_dict())
        return
    _print_summary(result)


def _print_summary(result) -> None:
    from rich.table import Table

    from ..progress import out as console

    table = Table(title=f"{result.artifact}  ({result.seconds:.1f} s)")
    table.add_column("file", no_wrap=True)
    for col in ("size", "top1 agree", "tie-aware", "top5 has top1", "cos min", "max err"):
        table.add_column(col, justify="right")
    for f in result.files:
        v = f.verification
        table.add_row(f.name, f"{f.size / 1e6:.2f} MB", f"{v['top1_agreement']:.1%}",
                      f"{v['top1_agreement_tie_aware']:.1%}" if "top1_agreement_tie_aware" in v else "",
                      f"{v['top5_contains_top1']:.1%}", f"{v['cosine_min']:.5f}", f"{v['max_abs_error']:.2e}")
    console.print(table)
    if result.weights == "random":
        console.print("note: the weights are random (no ImageNet weights were available), so every class scores "
                      "about the same; int8 outputs step by 1/256 and round those scores to zero, which makes the "
                      "int8 cosine meaningless. Export real weights with --weights imagenet or --weights FILE.tflite.")
    art = result.artifact
    console.print("next:\n"
                  f"  mobiledeploy predict {art} IMAGE\n"
                  f"  mobiledeploy eval {art} --data DIR\n"
                  f"  mobiledeploy bench {art} --device local")
