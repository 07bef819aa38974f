"""The main job and its promises: files, manifest, verification, atomic publishing, bad inputs."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import assert_one_line_error, mobiledeploy
from mobiledeploy.artifact.bundle import Artifact
from mobiledeploy.fsutil import sha256_file as file_sha256
from mobiledeploy.artifact.manifest import Manifest

pytestmark = pytest.mark.slow  # nearly every test here runs an export


def test_main_job_offline_writes_four_verified_files(main_job):
    result, proc = main_job
    folder = Path(result["artifact"])
    assert folder.name == "mobilenet_v1_0.5_128"
    names = {f["name"] for f in result["files"]}
    assert names == {"model_fp32.tflite", "model_int8.tflite", "model_fp32.onnx", "model_int8.onnx"}
    art = Artifact.load(folder)
    manifest = art.manifest
    assert Manifest.from_dict(manifest.to_dict()) == manifest  # the typed form round-trips through JSON
    assert manifest.calibration["source"] == "data-free"
    assert manifest.model.macs == 49_160_192 and manifest.model.alpha == 0.5
    for entry in manifest.files:
        assert art.path(entry).stat().st_size == entry.size
        assert file_sha256(folder / entry.name) == entry.sha256
        if entry.precision == "fp32":
            assert entry.verification["cosine_min"] >= 0.9999
    int8 = art.entry("model_int8.tflite")
    assert int8.input.dtype == "int8" and int8.input.quantization.scale > 0
    assert manifest.default_file() is int8
    assert len(art.labels) == 1000
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temp folders left


def test_fixed_batch_one_without_shape_ops(main_job):
    from mobiledeploy.litert import open_interpreter

    folder = Path(main_job[0]["artifact"])
    it = open_interpreter(folder / "model_int8.tflite", delegates=False)
    assert list(it.get_input_details()[0]["shape_signature"]) == [1, 128, 128, 3]
    ops = {op["op_name"] for op in it._get_ops_details()}
    assert not ops & {"SHAPE", "STRIDED_SLICE", "PACK"}, ops
    assert ops <= {"CONV_2D", "DEPTHWISE_CONV_2D", "MEAN", "RESHAPE", "SOFTMAX", "QUANTIZE", "DEQUANTIZE"}


def test_existing_artifact_kept_without_force(main_job):
    folder = Path(main_job[0]["artifact"])
    before = (folder / "manifest.json").read_text()
    proc = mobiledeploy("export", "--alpha", "0.5", "--res", "128", "--out", folder.parent)
    assert_one_line_error(proc, "exists", "--force")
    assert (folder / "manifest.json").read_text() == before


def test_every_precision_and_uint8_io(tmp_path):
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "96", "--weights", "none", "--formats", "tflite",
                        "--precision", "fp32,fp16,dynamic,int8", "--io", "uint8", "--out", tmp_path, "--json",
                        check=True)
    files = {f["name"]: f for f in json.loads(proc.stdout)["files"]}
    assert set(files) == {"model_fp32.tflite", "model_fp16.tflite", "model_dynamic.tflite", "model_int8.tflite"}
    assert files["model_int8.tflite"]["input"]["dtype"] == "uint8"
    assert files["model_fp16.tflite"]["size"] < 0.6 * files["model_fp32.tflite"]["size"]
    assert files["model_fp16.tflite"]["verification"]["cosine_min"] > 0.999


def test_unknown_format_suggests(tmp_path):
    assert_one_line_error(mobiledeploy("export", "--formats", "tflte", "--out", tmp_path), "did you mean tflite")


def test_empty_calibration_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "96", "--int8", "--calib", tmp_path / "empty",
                        "--out", tmp_path / "out")
    assert_one_line_error(proc, "no images")
    assert not (tmp_path / "out" / "mobilenet_v1_0.25_96").exists()


def test_mixed_calibration_folder_converts_and_skips(tmp_path):
    calib = tmp_path / "calib"
    (calib / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    (calib / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    Image.fromarray(rng.integers(0, 255, (80, 90), dtype=np.uint8), "L").save(calib / "grey.png")
    Image.fromarray(rng.integers(0, 255, (70, 60, 4), dtype=np.uint8), "RGBA").save(calib / "sub" / "rgba.png")
    Image.fromarray((rng.integers(0, 65535, (50, 50))).astype(np.uint16)).save(calib / "deep16.png")
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).convert("CMYK").save(calib / "cmyk.jpg")
    (calib / "notes.txt").write_text("not an image")
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "96", "--int8", "--formats", "tflite",
                        "--calib", calib, "--out", tmp_path / "out", "--json", check=True)
    assert "corrupt.jpg" in proc.stderr and "warning" in proc.stderr.lower()
    assert "Traceback" not in proc.stderr
    manifest = json.loads((Path(json.loads(proc.stdout)["artifact"]) / "manifest.json").read_text())
    assert manifest["calibration"]["skipped"] == 1
    assert manifest["calibration"]["count"] + manifest["calibration"]["verification"]["count"] == 4


def test_unwritable_out(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert_one_line_error(mobiledeploy("export", "--out", blocker / "models"), "cannot write")


def test_ctrl_c_leaves_nothing(tmp_path):
    exe = Path(sys.executable).with_name("mobiledeploy")
    out = tmp_path / "out"
    # a shell starts background jobs (`make test &`, some CI runners) with SIGINT ignored, and children
    # inherit that: give the export the default handler, as a terminal's Ctrl-C would find it
    proc = subprocess.Popen([str(exe), "export", "--alpha", "0.25", "--res", "96", "--int8", "--weights", "none",
                             "--out", str(out)], stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and not (out.exists() and any(out.iterdir())):
        time.sleep(0.1)
    assert out.exists(), "the export never started writing"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert not out.exists() or list(out.iterdir()) == []


def test_manifest_with_wrong_sha_refused(main_job, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(main_job[0]["artifact"], copy)
    with open(copy / "model_int8.tflite", "r+b") as f:
        f.seek(2000)
        f.write(b"\x00\x01\x02\x03")
    image = tmp_path / "x.png"
    Image.new("RGB", (40, 40), (200, 10, 10)).save(image)
    assert_one_line_error(mobiledeploy("predict", copy, image), "sha256")


def test_truncated_model_refused(main_job, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(main_job[0]["artifact"], copy)
    data = (copy / "model_fp32.tflite").read_bytes()
    (copy / "model_fp32.tflite").write_bytes(data[: len(data) // 3])
    image = tmp_path / "x.png"
    Image.new("RGB", (40, 40)).save(image)
    assert_one_line_error(mobiledeploy("predict", copy, image, "--file", "model_fp32.tflite"), "model_fp32.tflite")


def test_corrupt_manifest_refused(main_job, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(main_job[0]["artifact"], copy)
    doc = json.loads((copy / "manifest.json").read_text())
    del doc["input"]["mean"]
    (copy / "manifest.json").write_text(json.dumps(doc))
    assert_one_line_error(mobiledeploy("predict", copy, copy / "labels.txt"), "manifest")
    (copy / "manifest.json").write_text("{not json")
    assert_one_line_error(mobiledeploy("predict", copy, copy / "labels.txt"), "json")


def test_predict_on_non_image(main_job, tmp_path):
    (tmp_path / "photo.jpg").write_text("plain text")
    assert_one_line_error(mobiledeploy("predict", main_job[0]["artifact"], tmp_path / "photo.jpg"), "photo.jpg")


def test_eval_on_folder_without_labels(main_job, tmp_path):
    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (40, 40)).save(tmp_path / "imgs" / "holiday.png")
    assert_one_line_error(mobiledeploy("eval", main_job[0]["artifact"], "--data", tmp_path / "imgs"), "no labels")


def test_predict_json_and_eval_json_keys(main_job, tmp_path):
    art = main_job[0]["artifact"]
    data = tmp_path / "data"
    for cls in (3, 7):
        (data / str(cls)).mkdir(parents=True)
        Image.fromarray(np.full((50, 50, 3), cls * 20, np.uint8)).save(data / str(cls) / "a.png")
    pred = json.loads(mobiledeploy("predict", art, data / "3" / "a.png", "--json", "--top-k", "3", check=True).stdout)
    assert len(pred["images"][0]["top"]) == 3
    doc = json.loads(mobiledeploy("eval", art, "--data", data, "--json", check=True).stdout)
    formats = {r["format"] for r in doc["results"]}
    assert formats == {"tflite", "onnx", "keras"}
    for r in doc["results"]:
        assert {"file", "format", "precision", "n", "top1", "top5"} <= set(r) and r["n"] == 2
        assert 0.0 <= r["top1"] <= r["top5"] <= 1.0


@pytest.mark.parametrize("method", ["entropy", "percentile"])
def test_onnx_int8_calibration_methods(tmp_path, method):
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "96", "--int8", "--formats", "onnx", "--weights", "none",
                        "--calib-method", method, "--out", tmp_path, "--json", check=True)
    result = json.loads(proc.stdout)
    manifest = json.loads((Path(result["artifact"]) / "manifest.json").read_text())
    assert manifest["calibration"]["onnx_int8"] == f"onnxruntime {method}"
    int8 = next(f for f in result["files"] if f["name"] == "model_int8.onnx")
    assert int8["size"] < 0.5 * next(f for f in result["files"] if f["name"] == "model_fp32.onnx")["size"]
