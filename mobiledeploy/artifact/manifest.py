"""manifest.json as a typed `Manifest`: the one description of an artifact that every consumer reads.

The JSON Schema shipped beside this file is the wire contract (the Android app reads the same JSON);
`Manifest.from_dict` validates against it and builds frozen dataclasses, so no consumer indexes dicts.
A manifest is untrusted input: it is size-capped, NaN/Infinity and absurd nesting are refused, and every
path it names must stay inside its artifact folder (`member_path`).
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import MobiledeployError
from ..model.families import DEFAULT
from ..fsutil import replace_file
from ..readers import parse_json, read_text

MANIFEST = "manifest.json"
VERSION = 1
MAX_MANIFEST_BYTES = 4 << 20   # a real manifest is a few KB; anything this large is not one
# the preferred file when none is named: int8 TFLite first (what phones and boards run)
DEFAULT_PREFERENCE = (("tflite", "int8"), ("tflite", "fp32"), ("onnx", "int8"), ("onnx", "fp32"))


@lru_cache(maxsize=1)
def schema() -> dict:
    """The manifest's JSON Schema."""
    return json.loads((Path(__file__).with_name("manifest.schema.json")).read_text())


@dataclass(frozen=True)
class Quantization:
    """Affine int quantization of a tensor: real = (q - zero_point) * scale."""

    scale: float
    zero_point: int


@dataclass(frozen=True)
class TensorSpec:
    """A file's input or output: dtype and, when integer, its quantization."""

    dtype: str
    quantization: Quantization | None = None

    @classmethod
    def of(cls, dtype, quant) -> "TensorSpec":
        """From a numpy dtype and a (scale, zero point) pair or None."""
        import numpy as np

        q = Quantization(float(quant[0]), int(quant[1])) if quant else None
        return cls(np.dtype(dtype).name, q)

    def to_dict(self) -> dict:
        q = self.quantization
        return {"dtype": self.dtype,
                "quantization": {"scale": q.scale, "zero_point": q.zero_point} if q else None}


@dataclass(frozen=True)
class InputSpec:
    """How an RGB image becomes the model input (runtime/preprocess.py implements it, once)."""

    shape: tuple[int, int, int, int]
    crop_fraction: float | None            # central crop of this fraction of each side; None: no crop
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    layout: str = "NHWC"
    color: str = "RGB"

    @property
    def height(self) -> int:
        return self.shape[1]

    @property
    def width(self) -> int:
        return self.shape[2]

    def to_dict(self) -> dict:
        crop = {"kind": "central", "fraction": self.crop_fraction} if self.crop_fraction else {"kind": "none"}
        return {"shape": list(self.shape), "layout": self.layout, "color": self.color, "crop": crop,
                "resize": {"method": "bilinear", "half_pixel_centers": True, "antialias": False},
                "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict) -> "InputSpec":
        crop = d["crop"]
        return cls(tuple(d["shape"]), float(crop["fraction"]) if crop["kind"] == "central" else None,
                   tuple(d["mean"]), tuple(d["std"]), d["layout"], d["color"])


def _check_architecture(doc, where: str) -> None:
    """An architecture this mobiledeploy does not build is named as such (not as a schema mismatch)."""
    from ..model.families import FAMILIES

    model = doc.get("model") if isinstance(doc, dict) else None
    arch = model.get("architecture") if isinstance(model, dict) else None
    if isinstance(arch, str) and arch not in FAMILIES:
        shown = arch if len(arch) <= 40 and arch.isprintable() else arch[:40].encode("unicode_escape").decode() + "..."
        raise MobiledeployError(f"{where}: model.architecture {shown!r} is not one this mobiledeploy reads "
                                f"({', '.join(FAMILIES)}): re-export the artifact, or upgrade mobiledeploy")


@dataclass(frozen=True)
class ModelInfo:
    """What the files compute: MobileNet v1 at alpha and resolution, its cost and weight origin."""

    alpha: float
    resolution: int
    classes: int
    background: bool
    outputs: int
    macs: int
    params: int
    weights: dict
    architecture: str = DEFAULT

    def to_dict(self) -> dict:
        return {"architecture": self.architecture, "alpha": self.alpha, "resolution": self.resolution,
                "classes": self.classes, "background": self.background, "outputs": self.outputs,
                "macs": self.macs, "params": self.params, "weights": self.weights}


@dataclass(frozen=True)
class FileEntry:
    """One model file of the artifact."""

    name: str
    format: str
    precision: str
    size: int
    sha256: str
    input: TensorSpec
    output: TensorSpec
    verification: dict
    extra: dict = field(default_factory=dict)   # further keys written by newer exporters, kept as they are

    def to_dict(self) -> dict:
        return {"name": self.name, "format": self.format, "precision": self.precision, "size": self.size,
                "sha256": self.sha256, "input": self.input.to_dict(), "output": self.output.to_dict(),
                "verification": self.verification, **self.extra}

    @classmethod
    def from_dict(cls, d: dict) -> "FileEntry":
        known = {"name", "format", "precision", "size", "sha256", "input", "output", "verification"}
        return cls(d["name"], d["format"], d["precision"], d["size"], d["sha256"], _tensor(d["input"]),
                   _tensor(d["output"]), d["verification"], {k: v for k, v in d.items() if k not in known})


@dataclass(frozen=True)
class CalibrationInfo:
    """The facts of an int8 calibration a reader acts on (the sweep's cache); the rest stays in the dict."""

    source: str                   # "images" or "data-free" (float-only exports record "data-free", count 0)
    count: int | None = None
    path: str | None = None       # the image folder, for source "images"
    optimised: bool | None = None  # data-free: were the synthetic images optimised (None: not recorded)

    @classmethod
    def from_dict(cls, d: dict) -> "CalibrationInfo":
        count, optimised = d.get("count"), d.get("optimised")
        return cls(str(d["source"]), count if type(count) is int else None,
                   d["path"] if isinstance(d.get("path"), str) else None,
                   optimised if isinstance(optimised, bool) else None)


@dataclass(frozen=True)
class LabelsInfo:
    """Where the class names are (a file inside the artifact), how many, where they came from."""

    file: str
    count: int
    source: str
    # sha256 of the file's bytes: labels are shown to people (a page, a terminal), so they are checked like the
    # model files. None only in manifests written before the exporter recorded it; those still load.
    sha256: str | None = None

    def to_dict(self) -> dict:
        digest = {"sha256": self.sha256} if self.sha256 else {}  # no key rather than null: the schema takes a digest or nothing
        return {"file": self.file, "count": self.count, "source": self.source, **digest}


@dataclass(frozen=True)
class Manifest:
    """A validated artifact manifest."""

    name: str
    model: ModelInfo
    input: InputSpec
    labels: LabelsInfo
    files: tuple[FileEntry, ...]
    calibration: dict
    provenance: dict
    version: int = VERSION

    # ---- reading -------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, folder) -> "Manifest":
        """Read, check and validate `folder/manifest.json`; one-line errors naming the path and the fix."""
        folder = Path(folder)
        path = folder / MANIFEST
        if not folder.is_dir():
            raise MobiledeployError(f"artifact folder not found: {folder}")
        if not path.exists() and not path.is_symlink():
            raise MobiledeployError(f"{folder} has no {MANIFEST}: not an artifact (make one with mobiledeploy export)")
        text = read_text(path, "manifest", MAX_MANIFEST_BYTES, "re-export the artifact")
        return cls.from_dict(parse_json(text, "manifest", path, "re-export the artifact"), str(path))

    @classmethod
    def from_dict(cls, doc, where: str = MANIFEST) -> "Manifest":
        """Validate a decoded manifest and build the typed form."""
        if isinstance(doc, dict) and doc.get("manifest_version") not in (None, VERSION):
            raise MobiledeployError(f"{where} has manifest_version {doc.get('manifest_version')!r}; this "
                                    f"mobiledeploy reads version {VERSION}: upgrade mobiledeploy or re-export")
        _check_architecture(doc, where)
        validate(doc, where)
        m = doc["model"]
        entries = tuple(FileEntry.from_dict(e) for e in doc["files"])
        names = [e.name for e in entries]
        if len(set(names)) != len(names) or doc["labels"]["file"] in names:
            raise MobiledeployError(f"{where} names a file twice: re-export the artifact")
        if doc["input"]["shape"][1:3] != [m["resolution"], m["resolution"]]:
            raise MobiledeployError(f"{where}: input shape {doc['input']['shape']} does not match resolution "
                                    f"{m['resolution']}: re-export the artifact")
        return cls(
            name=doc["name"],
            model=ModelInfo(float(m["alpha"]), m["resolution"], m["classes"], m["background"], m["outputs"],
                            m["macs"], m["params"], m["weights"], m["architecture"]),
            input=InputSpec.from_dict(doc["input"]),
            labels=LabelsInfo(doc["labels"]["file"], doc["labels"]["count"], str(doc["labels"]["source"]),
                              doc["labels"].get("sha256")),  # optional in the schema: earlier manifests lack it
            files=entries, calibration=doc["calibration"], provenance=doc["provenance"],
        )

    # ---- writing -------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON form (the wire contract)."""
        outputs = self.model.outputs
        return {
            "manifest_version": self.version, "name": self.name, "model": self.model.to_dict(),
            "input": self.input.to_dict(),
            "output": {"shape": [1, outputs], "kind": "probabilities", "background": self.model.background},
            "labels": self.labels.to_dict(),
            "files": [e.to_dict() for e in self.files], "calibration": self.calibration,
            "provenance": self.provenance,
        }

    def write(self, folder) -> Path:
        """Validate, then write `folder/manifest.json` atomically (temporary file, then rename)."""
        doc = self.to_dict()
        validate(doc, "the new manifest")
        path = Path(folder) / MANIFEST
        fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST}.", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
            replace_file(tmp, path)  # refuses a FIFO or a device there, never replaces it
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @property
    def calibration_info(self) -> CalibrationInfo:
        """The typed facts of the calibration."""
        return CalibrationInfo.from_dict(self.calibration)

    # ---- files ---------------------------------------------------------------------------------------------
    def entry(self, name: str) -> FileEntry:
        """The file entry called `name`; a clear error listing the files there are."""
        for e in self.files:
            if e.name == name:
                return e
        raise MobiledeployError(f"{self.name} has no file {name}: it has {self._choices()}")

    def file(self, format: str, precision: str) -> FileEntry:
        """The file of this format and precision; a clear error listing the files there are."""
        for e in self.files:
            if e.format == format and e.precision == precision:
                return e
        raise MobiledeployError(f"{self.name} has no {precision} {format} file: it has {self._choices()}")

    def default_file(self) -> FileEntry:
        """The file to use when none is named: int8 TFLite first (what phones and boards run)."""
        for fmt, precision in DEFAULT_PREFERENCE:
            for e in self.files:
                if e.format == fmt and e.precision == precision:
                    return e
        return self.files[0]

    def _choices(self) -> str:
        return ", ".join(e.name for e in self.files)


def _tensor(d: dict) -> TensorSpec:
    q = d.get("quantization")
    return TensorSpec(d["dtype"], Quantization(float(q["scale"]), int(q["zero_point"])) if q else None)


def validate(doc, where: str = MANIFEST) -> dict:
    """Raise a one-line MobiledeployError naming the first schema violation."""
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(schema()).iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        path = "/".join(str(p) for p in first.path) or "(top level)"
        message = first.message if len(first.message) < 200 else first.message[:200] + "..."
        raise MobiledeployError(f"{where} is not a valid manifest: {path}: {message} (re-export the artifact)")
    _check_finite(doc, where)
    return doc


def _check_finite(value, where: str) -> None:
    """Numbers a manifest holds must be finite (a dict built in Python may carry NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise MobiledeployError(f"{where} holds a non-finite number ({value}): re-export the artifact")
    if isinstance(value, dict):
        for v in value.values():
            _check_finite(v, where)
    elif isinstance(value, list):
        for v in value:
            _check_finite(v, where)
