"""The export, top to bottom: build, calibrate, write and verify each file kind, write the manifest, publish."""
from __future__ import annotations

import datetime as dt
import logging
import platform
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..version import __version__
from ..artifact import labels as labels_mod
from ..artifact.manifest import FileEntry, LabelsInfo, Manifest, ModelInfo, TensorSpec
from ..artifact.bundle import Publisher, artifact_name
from ..fsutil import sha256_file
from ..errors import MobiledeployError
from ..model.cost import summary
from ..progress import Steps, bar
from ..runtime.preprocess import input_spec
from ..runtime.session import Session
from ..quiet import native_output_captured
from . import calibration, datafree, memory, verify
from .formats import FileKind
from .options import ExportOptions  # noqa: F401 - the options' owner; imported here for the pipeline's callers
from .formats import kind as kind_of

log = logging.getLogger("mobiledeploy")
FLOAT_COSINE_MIN = 0.9999     # a float export that disagrees more than this with Keras fails
INT8_AGREEMENT_WARN = 0.90    # an int8 export below this top-1 agreement warns


@dataclass(frozen=True)
class ExportResult:
    """What one export wrote: the artifact folder, its verified files, and where the time went."""

    artifact: str
    files: tuple[FileEntry, ...]
    manifest: str
    weights: str          # the weights' kind: imagenet, keras-h5, tflite, random, ...
    calibration: str      # images or data-free
    seconds: float
    timings: dict

    def to_dict(self) -> dict:
        """The JSON form (`export --json`)."""
        return {"artifact": self.artifact, "files": [e.to_dict() for e in self.files], "manifest": self.manifest,
                "weights": self.weights, "calibration": self.calibration, "seconds": self.seconds,
                "timings": self.timings}


def export(opts: ExportOptions) -> ExportResult:
    """Write one artifact, every file verified against the float model; nothing appears until all of it is."""
    opts.check_applies()  # before any work: an option this export would drop is refused
    target_dir = Path(opts.out) / artifact_name(opts.alpha, opts.resolution, opts.arch)
    quantized = any(k.quantized for k in opts.kinds)
    histograms = opts.calib_method != "minmax" and any(k.format == "onnx" and k.quantized for k in opts.kinds)
    kept = min(opts.calib_count, calibration.DATAFREE_COUNT if not opts.calib else opts.calib_count) if histograms else 0
    memory.check(opts.alpha, opts.resolution, _held_inputs(opts, quantized), kept=kept, family=opts.family)  # before anything is written
    steps = Steps(4 + len(opts.kinds), opts.quiet)
    spec = input_spec(opts.resolution)
    if quantized:
        from .tflite_ranges import check, quantizable_layers

        check(opts.int8_options(), opts.weights, quantizable_layers(opts.family))
    with Publisher(target_dir, opts.force) as pub:
        with steps.step("model built, weights loaded"):
            from ..model.weights import build_with_weights

            loaded = build_with_weights(opts.alpha, opts.resolution, opts.weights, opts.background,
                                        family=opts.family)
            model = loaded.model
            outputs = model.output_shape[-1]
            names, labels_source = labels_mod.resolve(opts.labels, loaded.labels, outputs, opts.background)

        if loaded.origin["kind"] == "random" and opts.datafree_steps:
            # random weights hold nothing for synthetic images to learn (no trained statistics, no classes):
            # the natural-image prior as is, as the sweep does, instead of seconds of optimisation
            opts = replace(opts, datafree_steps=0)
        with steps.step("calibration and verification inputs ready"):
            calib_inputs, verify_inputs, calib_info = _inputs(model, spec, opts, quantized)

        with steps.step("float reference computed (Keras)"):
            # eager calls: predict() traces a function first, seconds per model for a handful of inputs
            reference = np.concatenate([model(verify_inputs[i:i + 16], training=False).numpy()
                                        for i in range(0, len(verify_inputs), 16)])

        entries = []
        job = _Job(model, pub.tmp, calib_inputs, opts)
        try:
            for kind in opts.kinds:
                with steps.step(f"{kind.filename} written and verified"):
                    path = WRITERS[kind.format](job, kind)
                    entries.append(_verified_entry(kind, path, verify_inputs, reference))
        finally:
            job.close()
        if getattr(job.converter, "int8_record", None):
            calib_info["tflite_int8"] = job.converter.int8_record

        with steps.step("manifest written"):
            labels_bytes, labels_sha256 = labels_mod.digest(names)
            (pub.tmp / "labels.txt").write_bytes(labels_bytes)
            cost = summary(opts.alpha, opts.resolution, outputs, opts.family)
            manifest = Manifest(
                name=target_dir.name,
                model=ModelInfo(opts.alpha, opts.resolution, outputs - int(opts.background), opts.background,
                                outputs, cost["macs"], cost["params"], loaded.origin, opts.arch),
                input=spec,
                labels=LabelsInfo("labels.txt", len(names), labels_source, labels_sha256),
                files=tuple(entries), calibration=calib_info, provenance=_provenance(steps))
            manifest_path = manifest.write(pub.tmp)
    return ExportResult(str(target_dir), tuple(entries), str(target_dir / manifest_path.name), loaded.origin["kind"],
                        calib_info["source"], round(sum(steps.timings.values()), 2), dict(steps.timings))


def _held_inputs(opts: ExportOptions, quantized: bool) -> int:
    """How many preprocessed images the export holds at once, at most (for the memory estimate)."""
    verify_count = opts.verify_count if opts.verify_dir or opts.calib else calibration.DATAFREE_VERIFY
    if opts.calib:
        return opts.calib_count + verify_count
    return (calibration.DATAFREE_COUNT if quantized else 0) + verify_count


def _inputs(model, spec, opts: ExportOptions, quantized: bool):
    """Calibration inputs (only when a file kind needs them), held-back verification inputs, and their record."""
    info: dict = {"method": opts.calib_method, "tflite_int8": "min/max (TFLite converter)",
                  "onnx_int8": f"onnxruntime {_onnx_method(opts.calib_method)}"}
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
        if held:   # said, not silent: these images verify the files and calibrate nothing
            log.info("calibrating on %d images of %s; %d others held back to verify the files against Keras "
                     "(--verify DIR verifies on a folder of its own)", len(calib_set.inputs), opts.calib, len(held))
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
    extra = 0 if verify_inputs is not None else calibration.DATAFREE_VERIFY
    with bar("synthesizing data-free inputs", count + extra, opts.quiet) as advance:
        synthetic, method = datafree.synthesize(model, count + extra, steps=opts.datafree_steps, progress=advance)
    info.update(source="data-free", generator=method, count=count, optimised=opts.datafree_steps > 0)
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


@dataclass
class _Job:
    """What every writer needs: the model, the temporary artifact folder, calibration inputs, options."""

    model: object
    folder: Path
    calib_inputs: object
    opts: ExportOptions
    converter: object = None   # the TFLite converter, traced once and shared by every TFLite precision

    def close(self):
        if self.converter is not None:
            self.converter.__exit__(None, None, None)


def _write_tflite(job: _Job, kind: FileKind) -> Path:
    """One TFLite precision, converted from the shared trace."""
    if job.converter is None:
        from .tflite import Converter

        with native_output_captured():
            job.converter = Converter(job.model)
    with native_output_captured() as captured:
        try:
            data = job.converter.convert(kind.precision, job.calib_inputs if kind.quantized else None, job.opts.io,
                                         job.opts.int8_options() if kind.quantized else None)
        except Exception as exc:  # the converter raises many types; keep its own words
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            raise MobiledeployError(f"TFLite conversion to {kind.filename} failed: {detail}") from None
    if captured.text and job.opts.quiet is False:
        log.debug(captured.text)
    path = job.folder / kind.filename
    path.write_bytes(data)
    return path


def _write_onnx(job: _Job, kind: FileKind) -> Path:
    """The float ONNX graph (written once), and its int8 QDQ quantization when asked."""
    import onnx

    from .onnx_writer import keras_to_onnx

    fp32 = job.folder / kind_of("onnx", "fp32").filename
    if not fp32.exists():
        onnx.save(keras_to_onnx(job.model, job.opts.alpha, job.opts.resolution, job.opts.family), str(fp32))
    path = job.folder / kind.filename
    if kind.quantized:
        from .onnx_quant import quantize_int8

        with native_output_captured():
            quantize_int8(fp32, path, job.calib_inputs, _onnx_method(job.opts.calib_method))
    return path


WRITERS = {"tflite": _write_tflite, "onnx": _write_onnx}   # one per format of the file-kind table


def _verified_entry(kind: FileKind, path: Path, verify_inputs, reference) -> FileEntry:
    """Run the written file on the verification inputs, compare with Keras, return its manifest entry."""
    session = Session(path)
    scores = verify.run_file(session, verify_inputs)
    check = verify.compare(reference, scores)
    if not kind.quantized and kind.precision == "fp32" and check["cosine_min"] < FLOAT_COSINE_MIN:
        raise MobiledeployError(f"{kind.filename} disagrees with the Keras model (cosine "
                                f"{check['cosine_min']:.6f} < {FLOAT_COSINE_MIN}): the export is broken")
    if kind.quantized and check["top1_agreement"] < INT8_AGREEMENT_WARN:
        log.warning("%s agrees with the float model on top-1 for only %.1f%% of %d verification inputs",
                    kind.filename, 100 * check["top1_agreement"], check["n"])
    return FileEntry(kind.filename, kind.format, kind.precision, path.stat().st_size, sha256_file(path),
                     TensorSpec.of(session.input_dtype, session.input_quant),
                     TensorSpec.of(session.output_dtype, session.output_quant), check)


def _onnx_method(method: str) -> str:
    """Imported QAT ranges apply to the TFLite file; the ONNX file is calibrated with min/max then."""
    return "minmax" if method == "imported" else method


def _provenance(steps: Steps) -> dict:
    versions = {"mobiledeploy": __version__, "python": platform.python_version()}
    for mod in ("tensorflow", "keras", "onnx", "onnxruntime", "ai_edge_litert", "numpy"):
        m = sys.modules.get(mod)
        if m is not None:
            versions[mod] = getattr(m, "__version__", "?")
    return {**versions, "command": " ".join(["mobiledeploy", *sys.argv[1:]]),
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "platform": platform.platform(), "step_seconds": steps.timings}
