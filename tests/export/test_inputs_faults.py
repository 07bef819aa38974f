"""Fault suite for inputs: hostile images, wnids files, weight files and numeric options.

Every case runs the real CLI and asserts exit code 2, exactly one `error:` line, no traceback, and that
nothing was written (no artifact, no temporary folder). Hostile files are generated here, never committed.
"""
from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import assert_one_line_error, mobiledeploy

pytestmark = pytest.mark.faults

CLOSED = "http://127.0.0.1:9/"  # closed port: never downloads weights


# ---------------------------------------------------------------- hostile files, generated

def png(path: Path, width: int, height: int, rows: int | None = None) -> Path:
    """A greyscale 8-bit PNG of zeros; `rows` < height writes a header promising more than the data holds.

    All-zero rows compress about 1000:1, which is what makes a decompression bomb: 20000x20000 is
    ~400 KB on disk and 400 MB decoded (1.2 GB as RGB).
    """
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(6)
    block = (b"\x00" * (width + 1)) * 256
    body = []
    remaining = height if rows is None else rows
    while remaining > 0:
        n = min(256, remaining)
        body.append(packer.compress(block[:n * (width + 1)]))
        remaining -= n
    body.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(body))
                     + chunk(b"IEND", b""))
    return path


def bmp_header_only(path: Path, width: int, height: int) -> Path:
    """A 24-bit BMP whose header claims width x height and that holds no pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    path.write_bytes(b"BM" + struct.pack("<IHHI", 14 + 40, 0, 0, 14 + 40) + info)
    return path


def real_image(path: Path, fmt: str, side: int = 64) -> Path:
    """A small random image that decodes fine."""
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(path, fmt)
    return path


def image_bytes(fmt: str) -> bytes:
    """The encoded bytes of a small random image."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


def truncated(path: Path, source: Path, keep: float = 0.5) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    return path


def hostile_image(kind: str, folder: Path, name: str = "photo") -> Path:
    """One hostile file named like an image."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "bomb-20000":
        return png(folder / f"{name}.png", 20000, 20000)
    if kind == "bomb-9000":  # 81 MP: under Pillow's own 89 MP warning, over our 64 MP limit
        return png(folder / f"{name}.png", 9000, 9000)
    if kind == "header-100000":
        return png(folder / f"{name}.png", 100000, 100000, rows=1)
    if kind == "bmp-header-30000":
        return bmp_header_only(folder / f"{name}.bmp", 30000, 30000)
    if kind == "truncated-jpeg":
        path = folder / f"{name}.jpg"
        path.write_bytes(image_bytes("JPEG")[:-len(image_bytes("JPEG")) // 2])
        return path
    if kind == "truncated-png":
        path = folder / f"{name}.png"
        path.write_bytes(image_bytes("PNG")[:len(image_bytes("PNG")) * 3 // 10])
        return path
    if kind == "zero-bytes":
        path = folder / f"{name}.jpg"
        path.write_bytes(b"")
        return path
    if kind == "text":
        path = folder / f"{name}.png"
        path.write_text("not an image\n")
        return path
    if kind == "folder":
        path = folder / f"{name}.jpg"
        path.mkdir()
        return path
    if kind == "fifo":
        path = folder / f"{name}.jpg"
        os.mkfifo(path)
        return path
    if kind == "dev-zero":
        path = folder / f"{name}.jpg"
        path.symlink_to("/dev/zero")
        return path
    if kind == "huge-file":  # sparse: 600 MB by its size, no disk used
        path = folder / f"{name}.jpg"
        with open(path, "wb") as f:
            f.truncate(600 * 2**20)
        return path
    raise AssertionError(kind)


def snapshot(folder: Path) -> set:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def assert_user_error(proc, *fragments) -> str:
    """Exit 2, one error line with the fragments, no traceback."""
    line = assert_one_line_error(proc, *fragments)
    assert proc.returncode == 2, proc.stderr
    return line


def assert_nothing_written(out: Path) -> None:
    assert not out.exists() or not any(out.iterdir()), sorted(snapshot(out))


# ---------------------------------------------------------------- a small artifact to run against

@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    """alpha 0.25 at 32x32, fp32 TFLite only, random weights: the smallest real artifact (1000 outputs)."""
    out = tmp_path_factory.mktemp("faults-inputs-models")
    home = tmp_path_factory.mktemp("faults-inputs-home")
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "32", "--formats", "tflite", "--weights", "none",
                        "--out", out, "--json", env={"KERAS_HOME": str(home), "MOBILEDEPLOY_WEIGHTS_URL": CLOSED})
    assert proc.returncode == 0, proc.stderr
    return Path(json.loads(proc.stdout)["artifact"])


def wnids(n: int) -> list[str]:
    return [f"n{10_000_000 + i:08d}" for i in range(n)]


# ---------------------------------------------------------------- 1. images: predict

IMAGE_FAULTS = [
    ("bomb-20000", "megapixel"), ("bomb-9000", "9000x9000"), ("header-100000", "megapixel"),
    ("bmp-header-30000", "900 megapixels"), ("truncated-jpeg", "truncated"), ("truncated-png", "truncated"),
    ("zero-bytes", "empty"), ("text", "cannot read image"), ("folder", "folder"), ("fifo", "FIFO"),
    ("dev-zero", "device"), ("huge-file", "MB"),
]


@pytest.mark.parametrize("kind,fragment", IMAGE_FAULTS, ids=[k for k, _ in IMAGE_FAULTS])
def test_predict_refuses_hostile_image(artifact, tmp_path, kind, fragment):
    path = hostile_image(kind, tmp_path / "in")
    before = snapshot(tmp_path)
    proc = mobiledeploy("predict", artifact, path, timeout=120)
    line = assert_user_error(proc, fragment)
    assert path.name in line
    assert snapshot(tmp_path) == before


# ---------------------------------------------------------------- 1. images: calibration skips them

def test_calibration_skips_hostile_images_with_one_warning_each(tmp_path):
    """Bombs and damaged files among real images: skipped, one warning line each, export succeeds."""
    calib = tmp_path / "calib"
    (calib / "ok").mkdir(parents=True)
    for i in range(4):
        real_image(calib / "ok" / f"real{i}.png", "PNG")
    bad = [hostile_image(kind, calib / "bad", kind) for kind in ("bomb-20000", "truncated-jpeg", "fifo")]
    out = tmp_path / "out"
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "32", "--formats", "tflite", "--int8",
                        "--precision", "int8", "--weights", "none", "--calib", calib, "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    skipped = [line for line in proc.stderr.splitlines() if "skipped" in line]
    # the FIFO is not listed as an image at all (not a regular file); the other two are skipped
    assert len(skipped) == 2 and any("megapixel" in s for s in skipped), proc.stderr
    manifest = json.loads((Path(json.loads(proc.stdout)["artifact"]) / "manifest.json").read_text())
    assert manifest["calibration"]["skipped"] + manifest["calibration"]["verification"]["count"] \
        + manifest["calibration"]["count"] == 6
    assert bad[2].exists()


def test_calibration_of_only_hostile_images_fails(tmp_path):
    calib = tmp_path / "calib"
    for kind in ("bomb-20000", "truncated-jpeg", "zero-bytes"):
        hostile_image(kind, calib, kind)
    out = tmp_path / "out"
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "32", "--formats", "tflite", "--int8",
                        "--weights", "none", "--calib", calib, "--out", out)
    assert_user_error(proc, "no readable image")
    assert_nothing_written(out)


# ---------------------------------------------------------------- 2. eval

def _labelled(folder: Path, n: int = 2) -> Path:
    """Images labelled by class-index subfolders."""
    for i in range(n):
        (folder / str(i)).mkdir(parents=True, exist_ok=True)
        real_image(folder / str(i) / f"img{i}.png", "PNG")
    return folder


def _wnid_named(folder: Path, ids: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for wnid in ids:
        real_image(folder / f"{wnid}_1.png", "PNG")
    return folder


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


EVAL_FAULTS = {
    "wnids-1001": lambda t: (["--data", _wnid_named(t / "d", wnids(2)), "--wnids", _write(t / "w.txt", wnids(1001))],
                             ["1001", "1000 classes"]),
    "wnids-999": lambda t: (["--data", _wnid_named(t / "d", wnids(2)), "--wnids", _write(t / "w.txt", wnids(999))],
                            ["999", "1000 classes"]),
    "wnids-duplicate": lambda t: (["--data", _wnid_named(t / "d", wnids(2)),
                                   "--wnids", _write(t / "w.txt", wnids(999) + [wnids(1)[0]])], ["twice"]),
    "wnids-not-wnids": lambda t: (["--data", _wnid_named(t / "d", wnids(2)),
                                   "--wnids", _write(t / "w.txt", [f"class {i}" for i in range(1000)])],
                                  ["not a WordNet id"]),
    "wnids-dev-zero": lambda t: (["--data", _wnid_named(t / "d", wnids(2)), "--wnids", "/dev/zero"],
                                 ["not a regular file"]),
    "wnids-folder": lambda t: (["--data", _wnid_named(t / "d", wnids(2)), "--wnids", t], ["not a regular file"]),
    "wnids-binary": lambda t: (["--data", _wnid_named(t / "d", wnids(2)), "--wnids", _binary(t / "w.bin")],
                               ["UTF-8"]),
    "file-not-in-artifact": lambda t: (["--data", _labelled(t / "d"), "--file", "model_int8.onnx"],
                                       ["model_int8.onnx", "model_fp32.tflite"]),
    "file-second-not-in-artifact": lambda t: (["--data", _labelled(t / "d"), "--file", "model_fp32.tflite",
                                               "--file", "nope"], ["nope", "it has"]),
    "data-empty-folder": lambda t: (["--data", (t / "d").mkdir() or t / "d"], ["no images"]),
    "data-is-a-file": lambda t: (["--data", real_image(t / "x.png", "PNG")], ["not a folder"]),
    "data-missing": lambda t: (["--data", t / "nowhere"], ["not found"]),
    "data-unlabelled": lambda t: (["--data", _unlabelled(t / "d")], ["no labels"]),
    "data-only-unreadable": lambda t: (["--data", _unreadable_class(t / "d")], ["none of the 3", "megapixel"]),
}


def _unlabelled(folder: Path) -> Path:
    """Images in a subfolder that is neither a class index, a label nor a WordNet id."""
    (folder / "zebra crossing").mkdir(parents=True)
    real_image(folder / "zebra crossing" / "a.png", "PNG")
    return folder


def _binary(path: Path) -> Path:
    path.write_bytes(b"\xff\xfe\x00n0144\xc3")
    return path


def _unreadable_class(folder: Path) -> Path:
    for kind in ("bomb-20000", "truncated-jpeg", "text"):
        hostile_image(kind, folder / "0", kind)
    return folder


@pytest.mark.parametrize("case", list(EVAL_FAULTS))
def test_eval_refuses(artifact, tmp_path, case):
    args, fragments = EVAL_FAULTS[case](tmp_path)
    before = snapshot(tmp_path)
    proc = mobiledeploy("eval", artifact, "--no-keras", *args, timeout=120)
    assert_user_error(proc, *fragments)
    assert snapshot(tmp_path) == before


def test_eval_skips_unreadable_images_with_a_count(artifact, tmp_path):
    data = _labelled(tmp_path / "d", 2)
    hostile_image("bomb-20000", data / "0", "bomb")
    hostile_image("truncated-jpeg", data / "1", "cut")
    proc = mobiledeploy("eval", artifact, "--data", data, "--no-keras", "--json", timeout=120)
    assert proc.returncode == 0, proc.stderr
    warning = [line for line in proc.stderr.splitlines() if "could not be read" in line]
    assert len(warning) == 1 and "2 of 4" in warning[0], proc.stderr
    assert json.loads(proc.stdout)["n"] == 2


# ---------------------------------------------------------------- 3. weights

@pytest.fixture(scope="module")
def weight_files(tmp_path_factory, artifact) -> dict:
    """Keras 2 / Keras 3 weight files for other alphas and class counts, made with the real builder."""
    from h5_layout import write_keras2_h5

    from mobiledeploy.model.mobilenet import build_mobilenet_v1

    folder = tmp_path_factory.mktemp("weights")
    build_mobilenet_v1(0.5, 32).save_weights(folder / "a050.weights.h5")
    build_mobilenet_v1(0.25, 32, classes=10).save_weights(folder / "c10.weights.h5")
    write_keras2_h5(folder / "a075.h5", build_mobilenet_v1(0.75, 32))
    files = {name: folder / name for name in ("a050.weights.h5", "c10.weights.h5", "a075.h5")}
    files["tflite-a025"] = artifact / "model_fp32.tflite"
    return files


def _weights(kind: str, t: Path, files: dict) -> Path:
    if kind in files:
        return files[kind]
    if kind == "truncated-keras3":
        return truncated(t / "w.weights.h5", files["a050.weights.h5"], 0.5)
    if kind == "truncated-keras2":
        return truncated(t / "w.h5", files["a075.h5"], 0.9)
    if kind == "hdf5-signature-garbage":
        (t / "w.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 64)
        return t / "w.h5"
    if kind == "not-hdf5":
        (t / "w.h5").write_text("these are not weights\n")
        return t / "w.h5"
    if kind == "empty":
        (t / "w.h5").write_bytes(b"")
        return t / "w.h5"
    if kind == "truncated-tflite":
        return truncated(t / "w.tflite", files["tflite-a025"], 0.5)
    if kind == "fifo":
        os.mkfifo(t / "w.h5")
        return t / "w.h5"
    if kind == "folder":
        (t / "w.h5").mkdir()
        return t / "w.h5"
    if kind == "dev-zero":
        return Path("/dev/zero")
    raise AssertionError(kind)


WEIGHT_FAULTS = [
    # (weights, --alpha, fragments of the error line)
    ("a050.weights.h5", "0.25", ["alpha 0.5", "1000 outputs"]),        # Keras 3, another alpha: say what it holds
    ("a075.h5", "0.25", ["alpha 0.75"]),                               # Keras 2, another alpha
    ("c10.weights.h5", "0.5", ["alpha 0.25", "10 outputs"]),          # another alpha and class count
    ("tflite-a025", "0.5", ["alpha 0.25 at 32x32"]),                   # TFLite of another alpha
    ("truncated-keras3", "0.5", ["truncated"]),
    ("truncated-keras2", "0.75", ["truncated"]),
    ("hdf5-signature-garbage", "0.25", ["cannot read Keras weights"]),
    ("not-hdf5", "0.25", ["neither"]),
    ("empty", "0.25", ["empty"]),
    ("truncated-tflite", "0.25", ["cannot load TFLite"]),
    ("fifo", "0.25", ["not a regular file"]),
    ("folder", "0.25", ["folder"]),
    ("dev-zero", "0.25", ["not a regular file"]),
]


@pytest.mark.parametrize("kind,alpha,fragments", WEIGHT_FAULTS, ids=[w[0] for w in WEIGHT_FAULTS])
def test_export_refuses_weights(weight_files, tmp_path, kind, alpha, fragments):
    path = _weights(kind, tmp_path, weight_files)
    out = tmp_path / "out"
    proc = mobiledeploy("export", "--alpha", alpha, "--res", "32", "--formats", "tflite", "--weights", path,
                        "--out", out, timeout=300)
    assert_user_error(proc, *fragments)
    assert_nothing_written(out)


def test_another_class_count_is_explained(weight_files, tmp_path):
    """A 10-class Keras 3 file with 1000 labels: the error says the model has 10 outputs, and why."""
    labels = _write(tmp_path / "labels.txt", [f"c{i}" for i in range(1000)])
    out = tmp_path / "out"
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "64", "--formats", "tflite",
                        "--weights", weight_files["c10.weights.h5"], "--labels", labels, "--out", out)
    assert_user_error(proc, "1000 labels", "10 outputs")
    assert "10-output classifier" in proc.stderr  # the line before says where 10 comes from
    assert_nothing_written(out)


# ---------------------------------------------------------------- 4. TFLite import checks shapes, not a derived alpha

def test_alpha_03_artifact_evaluates_with_keras(tmp_path):
    """int(1024 * 0.3) = 307 channels: the file "holds alpha 0.2998"; it must still import at alpha 0.3."""
    out = tmp_path / "out"
    proc = mobiledeploy("export", "--alpha", "0.3", "--res", "64", "--formats", "tflite", "--weights", "none",
                        "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    art = json.loads(proc.stdout)["artifact"]
    proc = mobiledeploy("eval", art, "--data", _labelled(tmp_path / "d"), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["file"]: r for r in json.loads(proc.stdout)["results"]}
    assert rows["keras"]["agreement_with_float"] == 1.0 and rows["model_fp32.tflite"]["agreement_with_float"] == 1.0
    # the same file offered for alpha 0.31 (318 channels) is refused with what it holds
    proc = mobiledeploy("export", "--alpha", "0.31", "--res", "64", "--formats", "tflite",
                        "--weights", Path(art) / "model_fp32.tflite", "--out", tmp_path / "out2")
    assert_user_error(proc, "alpha 0.3 at 64x64")
    assert_nothing_written(tmp_path / "out2")


# ---------------------------------------------------------------- 5/6. sizes and numeric options

NUMERIC_FAULTS = [
    (["info", "--alpha", "nan"], "alpha"),
    (["info", "--alpha", "inf"], "alpha"),
    (["info", "--alpha", "1e-9"], "1/32"),
    (["info", "--alpha", "1e300"], "at most 16"),
    (["info", "--alpha", "-0.0"], "alpha"),
    (["info", "--res", str(10 ** 9)], "16384"),
    (["info", "--res", "1e999"], "16384"),
    (["info", "--res", "9" * 5000], "16384"),
    (["info", "--res", "nan"], "whole number"),
    (["info", "--classes", "0"], "classes"),
    (["info", "--classes", str(10 ** 30)], "classes"),
    (["export", "--alpha", "nan", "--res", "32"], "alpha"),
    (["export", "--alpha", "0.25", "--res", str(10 ** 9)], "16384"),
    (["export", "--alpha", "0.25", "--res", "32", "--calib-count", "0"], "calib-count"),
    (["export", "--alpha", "0.25", "--res", "32", "--verify-count", "-1"], "verify-count"),
    (["export", "--alpha", "16", "--res", "16384", "--formats", "tflite"], "GB of memory"),
    (["export", "--alpha", "1", "--res", "8192", "--formats", "tflite", "--int8", "--calib", "{calib}",
      "--calib-count", "100000"], "--res"),
]


@pytest.mark.parametrize("args,fragment", NUMERIC_FAULTS, ids=[" ".join(a)[:40] for a, _ in NUMERIC_FAULTS])
def test_numeric_options_one_line(tmp_path, args, fragment):
    out = tmp_path / "out"
    (tmp_path / "calib").mkdir()
    real_image(tmp_path / "calib" / "a.png", "PNG")
    args = [a.replace("{calib}", str(tmp_path / "calib")) for a in args]
    if args[0] == "export":
        args += ["--weights", "none", "--out", str(out)]
    proc = mobiledeploy(*args, timeout=120)
    assert_user_error(proc, fragment)
    assert_nothing_written(out)


@pytest.mark.parametrize("args,fragment", [
    (["--top-k", "0"], "top-k"), (["--top-k", "101"], "top-k"), (["--threads", "0"], "threads"),
    (["--threads", str(10 ** 11)], "threads"),
])
def test_predict_numeric_options(artifact, tmp_path, args, fragment):
    image = real_image(tmp_path / "a.png", "PNG")
    assert_user_error(mobiledeploy("predict", artifact, image, *args), fragment)


def test_info_at_the_largest_sizes_answers_at_once():
    """Analytic: the largest alpha and side still print in seconds (no model is built)."""
    proc = mobiledeploy("info", "--alpha", "16", "--res", "16384", "--json", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["macs"] > 10 ** 14


def test_memory_estimate_grows_with_inputs_and_side():
    """The estimate is a function of what the export holds; the refusal names a side that fits."""
    from mobiledeploy.errors import MobiledeployError
    from mobiledeploy.export import memory

    assert memory.estimate(1.0, 448, 250) > memory.estimate(1.0, 448, 40) > memory.estimate(1.0, 224, 40)
    assert memory.estimate(1.0, 224, 200, kept=200) > memory.estimate(1.0, 224, 200)
    with pytest.raises(MobiledeployError, match=r"use --res (\d+) or less") as info:
        memory.check(1.0, 4096, 40, available=4 * memory.GB)
    fits = int(info.value.args[0].split("use --res ")[1].split()[0])
    assert memory.estimate(1.0, fits, 40) <= 4 * memory.GB < memory.estimate(1.0, fits + 32, 40)


# ---------------------------------------------------------------- the image reader under fuzzing

SEEDS = {fmt: image_bytes(fmt) for fmt in ("PNG", "JPEG", "BMP", "GIF")}


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(sorted(SEEDS)), cut=st.integers(0, 20000),
       flips=st.lists(st.tuples(st.integers(0, 20000), st.integers(0, 255)), max_size=8))
def test_image_reader_fuzz_only_user_errors(tmp_path_factory, fmt, cut, flips):
    """Truncated and bit-flipped real images (headers included, so dimensions go wild): the reader returns
    an HxWx3 uint8 array or raises MobiledeployError; any other exception is a bug."""
    from mobiledeploy.errors import MobiledeployError
    from mobiledeploy.runtime.images import MAX_PIXELS, load_rgb

    data = bytearray(SEEDS[fmt][:max(1, cut)])
    for position, value in flips:
        data[position % len(data)] = value
    path = tmp_path_factory.getbasetemp() / f"fuzz.{fmt.lower()}"
    path.write_bytes(bytes(data))
    try:
        rgb = load_rgb(path)
    except MobiledeployError as exc:
        assert "\n" not in str(exc)
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert rgb.shape[0] * rgb.shape[1] <= MAX_PIXELS
