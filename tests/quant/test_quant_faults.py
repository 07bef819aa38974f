"""Bad input to quant-report and to the int8 choices of export: one line, exit 2, nothing left behind."""
import json
import shutil

import pytest

from conftest import assert_one_line_error, mobiledeploy

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def float_only(tmp_path_factory):
    """An artifact without any int8 file (fp32 TFLite and ONNX, random weights)."""
    out = tmp_path_factory.mktemp("float-only")
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "64", "--weights", "none", "--out", out, "--json",
                        check=True)
    return json.loads(proc.stdout)["artifact"]


def test_report_needs_an_int8_file(float_only, tmp_path):
    proc = mobiledeploy("quant-report", float_only, "--plot", tmp_path / "p.png")
    assert proc.returncode == 2
    assert_one_line_error(proc, "no int8 file", "--int8")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("case", ["missing artifact", "no images", "plot folder missing", "tampered int8"])
def test_report_bad_inputs(main_job, tmp_path, case):
    art = main_job[0]["artifact"]
    args, fragment = [art], None
    if case == "missing artifact":
        args, fragment = [tmp_path / "nowhere"], "nowhere"
    elif case == "no images":
        (tmp_path / "empty").mkdir()
        args, fragment = [art, "--data", tmp_path / "empty"], "no images"
    elif case == "plot folder missing":
        args, fragment = [art, "--plot", tmp_path / "no" / "such" / "p.png"], "folder does not exist"
    else:
        copy = tmp_path / "copy"
        shutil.copytree(art, copy)
        with open(copy / "model_int8.tflite", "r+b") as f:
            f.seek(2000)
            f.write(b"\xff" * 16)
        args, fragment = [copy], "sha256"
    proc = mobiledeploy("quant-report", *args)
    assert proc.returncode == 2, proc.stderr
    assert_one_line_error(proc, fragment)
    assert not list(tmp_path.glob("**/*.png")) and not list(tmp_path.glob("**/.*tmp*"))


@pytest.mark.parametrize("args, fragment", [
    (["--fallback-float", "30"], "at most 29"),
    (["--fallback-float", "1000"], "at most 29"),
    (["--fallback-float", "-1"], "fallback-float"),
    (["--fallback-float", "two"], "fallback-float"),
    (["--calib-method", "imported"], "quantized tflite"),       # --weights none: nothing to import from
    (["--calib-method", "kl"], "calib-method"),
])
def test_export_bad_int8_choices(tmp_path, args, fragment):
    out = tmp_path / "models"
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "64", "--int8", "--weights", "none", "--out", out,
                        *args)
    assert proc.returncode == 2, proc.stderr
    assert_one_line_error(proc, fragment)
    assert not out.exists() or not any(out.iterdir())  # nothing half-written, no temporary folder


def test_report_on_a_hostile_onnx_file_is_what_predict_says(main_job, tmp_path):
    """A corrupt ONNX file whose manifest sha256 matches: the runtime's loader refuses it, exit 2, as predict does."""
    import hashlib

    art = tmp_path / "art"
    shutil.copytree(main_job[0]["artifact"], art)
    (art / "model_int8.onnx").write_bytes(b"not a protobuf at all")
    doc = json.loads((art / "manifest.json").read_text())
    for e in doc["files"]:
        if e["name"] == "model_int8.onnx":
            e.update(sha256=hashlib.sha256(b"not a protobuf at all").hexdigest(), size=21)
    (art / "manifest.json").write_text(json.dumps(doc))
    report = mobiledeploy("quant-report", art)
    predict = mobiledeploy("predict", art, "--file", "model_int8.onnx", tmp_path)  # an image folder is irrelevant
    assert report.returncode == 2 and "unexpected" not in report.stderr
    assert_one_line_error(report, "model_int8.onnx")
    assert predict.returncode == 2
