"""Test vectors: real images, the exact tensors the Python runtime feeds each file, and LiteRT's outputs.

Other implementations of the preprocessing (the Android app's Java module) must reproduce them:
for every TFLite file of the artifact, a folder `<out>/<file stem>/` holds `manifest.json` (a copy: the
other side reads its rules from it), `vectors.json`, and per image `NAME.rgb` (H*W*3 bytes, RGB, row
major), `NAME.input.bin` (the input tensor in the file's dtype), `NAME.input_f32.bin` (the normalised
float values before quantization, float32 little-endian), `NAME.output.bin` (the raw output tensor).
`<out>/yuv/` holds Camera2 YUV_420_888 frames made from the same images (padded rows, planar and interleaved
chroma, every rotation) and the RGB that mobiledeploy/runtime/yuv.py turns them into.
"""
from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import numpy as np

from ..artifact.bundle import Artifact, Publisher
from ..artifact.manifest import FileEntry
from ..errors import MobiledeployError
from . import yuv
from .classifier import Classifier
from .images import find_images, load_rgb
from .preprocess import to_float64


def write(artifact_path, images: list[Path], out: Path, k: int = 5) -> list[Path]:
    """Write vectors for every TFLite file of the artifact; returns the folders written.

    Published like an artifact: every folder is built beside its target and renamed into place only when
    all of them are complete (an unreadable image, a full disk or Ctrl-C leaves the previous vectors as
    they were and no partial folder). Existing vector folders are replaced.
    """
    artifact = Artifact.load(artifact_path)
    if not images:
        raise MobiledeployError("no images for test vectors: pass --data DIR with jpg/png/bmp files")
    entries = [e for e in artifact.manifest.files if e.format == "tflite"]
    if not entries:
        raise MobiledeployError(f"{artifact.folder} has no TFLite file to write vectors for")
    with contextlib.ExitStack() as stack:
        for entry in entries:
            target = Path(out) / Path(entry.name).stem
            pub = stack.enter_context(Publisher(target, force=True, what="test vector folder"))
            _write_one(artifact, entry, images, pub.tmp, k)
        pub = stack.enter_context(Publisher(Path(out) / "yuv", force=True, what="test vector folder"))
        _write_yuv(images, pub.tmp)
    return [Path(out) / Path(e.name).stem for e in entries]


def _write_one(artifact: Artifact, entry: FileEntry, images: list[Path], folder: Path, k: int) -> None:
    """The vectors of one model file, into `folder`."""
    clf = Classifier(artifact, entry.name)
    shutil.copy(artifact.folder / "manifest.json", folder / "manifest.json")
    cases = []
    for path in images:
        rgb = load_rgb(path)
        name = path.stem
        values = to_float64(rgb, clf.spec)
        tensor = clf.session.prepare(values)
        raw = clf.session.invoke(tensor)
        scores = clf.session.dequantize(raw)[0]
        (folder / f"{name}.rgb").write_bytes(np.ascontiguousarray(rgb).tobytes())
        (folder / f"{name}.input.bin").write_bytes(tensor.astype(tensor.dtype.newbyteorder("<")).tobytes())
        (folder / f"{name}.input_f32.bin").write_bytes(values.astype("<f4").tobytes())
        (folder / f"{name}.output.bin").write_bytes(raw.astype(raw.dtype.newbyteorder("<")).tobytes())
        cases.append({"name": name, "source": path.name, "width": int(rgb.shape[1]), "height": int(rgb.shape[0]),
                      "top": [{"index": p.index, "score": p.score, "label": p.label} for p in clf.top(scores, k)]})
    doc = {"artifact": artifact.manifest.name, "file": entry.name, "sha256": entry.sha256,
           "input": {"dtype": str(clf.session.input_dtype), "shape": clf.session.input_shape,
                     "quantization": entry.input.to_dict()["quantization"]},
           "output": {"dtype": str(clf.session.output_dtype), "quantization": entry.output.to_dict()["quantization"],
                      "size": int(artifact.manifest.model.outputs)},
           "k": k, "cases": cases, "default_file": artifact.manifest.default_file().name}
    (folder / "vectors.json").write_text(json.dumps(doc, indent=2) + "\n")


def _write_yuv(images: list[Path], folder: Path) -> None:
    """Per image one YUV_420_888 frame of a central crop (odd sizes too), layouts and rotations taking turns:
    NAME.y/.u/.v (planes as Camera2 gives them), NAME.rgb (the upright RGB) and frames.json."""
    cases = []
    for i, path in enumerate(images):
        rgb = load_rgb(path)
        w, h = min(96 - i % 2, rgb.shape[1]), min(64 - i % 2, rgb.shape[0])
        top, left = (rgb.shape[0] - h) // 2, (rgb.shape[1] - w) // 2
        frame = yuv.from_rgb(rgb[top:top + h, left:left + w], row_padding=(0, 16, 3)[i % 3], interleaved=i % 2 == 1)
        rotation = 90 * (i % 4)
        upright = yuv.rotate(yuv.to_rgb(frame), rotation)
        for plane in ("y", "u", "v"):
            (folder / f"{path.stem}.{plane}").write_bytes(getattr(frame, plane).tobytes())
        (folder / f"{path.stem}.rgb").write_bytes(upright.tobytes())
        cases.append({"name": path.stem, "width": w, "height": h, "y_row_stride": frame.y_row_stride,
                      "uv_row_stride": frame.uv_row_stride, "uv_pixel_stride": frame.uv_pixel_stride,
                      "rotation": rotation, "rgb_width": int(upright.shape[1]), "rgb_height": int(upright.shape[0])})
    (folder / "frames.json").write_text(json.dumps({"rule": "mobiledeploy/runtime/yuv.py", "cases": cases},
                                                   indent=2) + "\n")


def images_from(folder) -> list[Path]:
    """The images of a folder, for vectors."""
    return find_images(folder)
