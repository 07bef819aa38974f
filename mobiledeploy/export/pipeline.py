"""The export, top to bottom: build, calibrate, convert and verify each target, write the manifest, publish."""
from __future__ import annotations

import datetime as dt
import logging
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..artifact import labels as labels_mod
from ..artifact import manifest as mf
from ..artifact.bundle import Publisher, artifact_name, file_sha256
from ..errors import MobiledeployError
from ..model.cost import summary
from ..progress import Steps, bar
from ..runtime.preprocess import input_spec
from ..runtime.session import Session
from ..quiet import native_output_captured
from . import calibration, datafree, verify
from .formats import Target

log = logging.getLogger("mobiledeploy")
FLOAT_COSINE_MIN = 0.9999     # a float export that disagrees more than this with Keras fails
INT8_AGREEMENT_WARN = 0.90    # an int8 export below this top-1 agreement warns
DATAFREE_CALIB = 32
DATAFREE_VERIFY = 8


@dataclass
class ExportOptions:
    alpha: float
    resolution: int
    targets: list[Target]
    weights: str = "auto"
    calib: str | None = None
    calib_count: int = 200
    calib_method: str = "minmax"
    verify_dir: str | None = None
    verify_count: int = 50
    io: str = "int8"
    out: str = "models"
    force: bool = False
    labels: str | None = None
    background: bool = False
    quiet: bool = False
    # data-free calibration: images and optimisation steps (0: the 1/f prior as is, for latency-only
    # exports of random weights, where calibration quality cannot matter and synthesis is most of the time)
    datafree_count: int = DATAFREE_CALIB
    datafree_steps: int = datafree.STEPS


def export(opts: ExportOptions) -> dict:
    """Write one artifact; returns {"artifact", "files", "manifest", "seconds"}."""
    target_dir = Path(opts.out) / artifact_name(opts.alpha, opts.resolution)
    quantized = any(t.quantized for t in opts.targets)
    steps = Steps(4 + len(opts.targets), opts.quiet)
    spec = input_spec(opts.resolution)
    with Publisher(target_dir, opts.force) as pub:
        with steps.step("model built, weights loaded"):
            from ..model.weights import build_with_weights

            loaded = build_with_weights(opts.alpha, opts.resolution, opts.weights, opts.background)
            model = loaded.model
            outputs = model.output_shape[-1]
            names, labels_source = labels_mod.resolve(opts.labels, loaded.labels, outputs, opts.background)

        with steps.step("calibration and verification inputs ready"):
            calib_inputs, verify_inputs, calib_info = _inputs(model, spec, opts, quantized)

        with steps.step("float reference computed (Keras)"):
            # eager calls: predict() traces a function first, seconds per model for a handful of inputs
            reference = np.concatenate([model(verify_inputs[i:i + 16], training=False).numpy()
                                        for i in range(0, len(verify_inputs), 16)])

        entries = []
        converter = None
        try:
            for target in opts.targets:
                with steps.step(f"{target.filename} written and verified"):
                    if target.format == "tflite" and converter is None:
                        from .tflite import Converter

                        with native_output_captured():
                            converter = Converter(model)
                    entries.append(_write_target(model, target, pub.tmp, calib_inputs, verify_inputs,
                                                 reference, opts, converter))
        finally:
            if converter is not None:
                converter.__exit__(None, None, None)

        with steps.step("manifest written"):
            (pub.tmp / "labels.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
            cost = summary(opts.alpha, opts.resolution, outputs)
            doc = {
                "manifest_version": mf.VERSION,
                "name": target_dir.name,
                "model": {
                    "architecture": "mobilenet_v1", "alpha": opts.alpha, "resolution": opts.resolution,
                    "classes": outputs - int(opts.background), "background": opts.background,
                    "outputs": outputs, "macs": cost["macs"], "params": cost["params"],
                    "weights": loaded.origin,
                },
                "input": spec,
                "output": {"shape": [1, outputs], "kind": "probabilities", "background": opts.background},
                "labels": {"file": "labels.txt", "count": len(names), "source": labels_source},
                "files": entries,
                "calibration": calib_info,
                "provenance": _provenance(steps),
            }
            mf.validate(doc, "the new manifest")
            import json

            (pub.tmp / mf.MANIFEST).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return {"artifact": str(target_dir), "files": entries, "manifest": str(target_dir / mf.MANIFEST),
            "weights": loaded.origin["kind"], "calibration": calib_info["source"],
            "seconds": round(sum(steps.timings.values()), 2), "timings": steps.timings}


def _inputs(model, spec, opts: ExportOptions, quantized: bool):
    """Calibration inputs (only when a target needs them), held-back verification inputs, and their record."""
    info: dict = {"method": opts.calib_method, "tflite_int8": "min/max (TFLite converter)",
                  "onnx_int8": f"onnxruntime {opts.calib_method}"}
    if opts.calib:
        calib_paths, held = calibration.split(Path(opts.calib), opts.calib_count, opts.verify_count,
                                              bool(opts.verify_dir))
        with bar("reading calibration images", len(calib_paths), opts.quiet) as advance:
            calib_set = calibration.read_images(calib_paths, spec, advance)
        if not len(calib_set.inputs):
            raise MobiledeployError(f"no readable image in {opts.calib} ({len(calib_set.skipped)} skipped)")
        calibration.warn_if_few(len(calib_set.inputs))
        info.update(source="images", path=str(opts.calib), count=len(calib_set.inputs),
                    skipped=len(calib_set.skipped))
        verify_inputs = _verify_folder(opts, spec) if opts.verify_dir else calibration.read_images(held, spec).inputs
        info["verification"] = {"source": str(opts.verify_dir or f"held back from {opts.calib}"),
                                "count": len(verify_inputs)}
        if not len(verify_inputs):
            raise MobiledeployError("no verification images: pass --verify DIR or a larger --calib folder")
        return calib_set.inputs, verify_inputs, info
    if opts.verify_dir:
        verify_inputs = _verify_folder(opts, spec)
        verify_info = {"source": str(opts.verify_dir), "count": len(verify_inputs)}
    else:
        verify_inputs = None
    count = opts.datafree_count if quantized else 0
    extra = 0 if verify_inputs is not None else DATAFREE_VERIFY
    with bar("synthesizing data-free inputs", count + extra, opts.quiet) as advance:
        synthetic, method = datafree.synthesize(model, count + extra, steps=opts.datafree_steps, progress=advance)
    info.update(source="data-free", generator=method, count=count)
    if verify_inputs is None:
        verify_inputs = synthetic[count:]
        verify_info = {"source": f"data-free ({method}), held back", "count": extra}
    info["verification"] = verify_info
    return synthetic[:count], verify_inputs, info


def _verify_folder(opts: ExportOptions, spec: dict):
    """Inputs from --verify DIR (at most --verify-count); an error when none is readable."""
    inputs = calibration.read_images(calibration.find_images(Path(opts.verify_dir))[:opts.verify_count], spec).inputs
    if not len(inputs):
        raise MobiledeployError(f"no readable image in --verify {opts.verify_dir}")
    return inputs


def _write_target(model, target: Target, folder: Path, calib_inputs, verify_inputs, reference, opts,
                  converter) -> dict:
    """Convert one target into the temporary folder, verify it against Keras, return its manifest entry."""
    path = folder / target.filename
    if target.format == "tflite":
        with native_output_captured() as captured:
            try:
                data = converter.convert(target.precision, calib_inputs if target.quantized else None, opts.io)
            except Exception as exc:  # the converter raises many types; keep its own words
                detail = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
                raise MobiledeployError(f"TFLite conversion to {target.filename} failed: {detail}") from None
        if captured.text and opts.quiet is False:
            log.debug(captured.text)
        path.write_bytes(data)
    else:
        import onnx

        from .onnx_writer import keras_to_onnx

        fp32 = folder / "model_fp32.onnx"
        if not fp32.exists():
            onnx.save(keras_to_onnx(model, opts.alpha, opts.resolution), str(fp32))
        if target.quantized:
            from .onnx_quant import quantize_int8

            with native_output_captured():
                quantize_int8(fp32, path, calib_inputs, opts.calib_method)
    session = Session(path)
    scores = verify.run_file(session, verify_inputs)
    check = verify.compare(reference, scores)
    if not target.quantized and target.precision == "fp32" and check["cosine_min"] < FLOAT_COSINE_MIN:
        raise MobiledeployError(f"{target.filename} disagrees with the Keras model (cosine "
                                f"{check['cosine_min']:.6f} < {FLOAT_COSINE_MIN}): the export is broken")
    if target.quantized and check["top1_agreement"] < INT8_AGREEMENT_WARN:
        log.warning("%s agrees with the float model on top-1 for only %.1f%% of %d verification inputs",
                    target.filename, 100 * check["top1_agreement"], check["n"])
    return {
        "name": target.filename, "format": target.format, "precision": target.precision,
        "size": path.stat().st_size, "sha256": file_sha256(path),
        "input": mf.io_entry(session.input_dtype, session.input_quant),
        "output": mf.io_entry(session.output_dtype, session.output_quant),
        "verification": check,
    }


def _provenance(steps: Steps) -> dict:
    versions = {"mobiledeploy": __version__, "python": platform.python_version()}
    for mod in ("tensorflow", "keras", "onnx", "onnxruntime", "ai_edge_litert", "numpy"):
        m = sys.modules.get(mod)
        if m is not None:
            versions[mod] = getattr(m, "__version__", "?")
    return {**versions, "command": " ".join(["mobiledeploy", *sys.argv[1:]]),
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "platform": platform.platform(), "step_seconds": steps.timings}
