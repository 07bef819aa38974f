"""Hostile and broken artifacts: every path a manifest names stays inside its folder, is a regular file and is
size-capped; a broken manifest is one clear line (exit 2), never a traceback, never a file read outside."""
import json
import os
import shutil

import pytest

from conftest import assert_one_line_error, mobiledeploy, shared

pytestmark = pytest.mark.faults


def _edit_manifest(folder, change):
    path = folder / "manifest.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(doc):
        node = doc
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return change


def _raw(text: bytes):
    return lambda folder: (folder / "manifest.json").write_bytes(text)


def _labels(make):
    return lambda folder: make(folder / "labels.txt")


def _replace_with_link(target):
    def make(path):
        path.unlink()
        os.symlink(target, path)
    return make


def _fifo(path):
    path.unlink()
    os.mkfifo(path)


def _dup_entry(doc):
    doc["files"].append(dict(doc["files"][0]))


CASES = {
    "labels outside (relative)": (lambda f: _edit_manifest(f, _set("labels", "file", "../secret.txt")), "not a valid manifest"),
    "labels outside (absolute)": (lambda f: _edit_manifest(f, _set("labels", "file", "/etc/passwd")), "not a valid manifest"),
    "labels dot-dot": (lambda f: _edit_manifest(f, _set("labels", "file", "..")), "not a valid manifest"),
    "labels symlink to /etc/passwd": (_labels(_replace_with_link("/etc/passwd")), "outside the artifact"),
    "labels symlink to /dev/zero": (_labels(_replace_with_link("/dev/zero")), "outside the artifact"),
    "labels fifo": (_labels(_fifo), "not a regular file"),
    "labels directory": (_labels(lambda p: (p.unlink(), p.mkdir())), "not a regular file"),
    "labels huge": (_labels(lambda p: p.write_bytes(b"x\n" * (3 << 20))), "larger than"),
    "labels not utf-8": (_labels(lambda p: p.write_bytes(b"\xff\xfe\x00bad\n" * 1000)), "not utf-8"),
    "labels missing": (_labels(lambda p: p.unlink()), "missing"),
    "labels wrong count": (_labels(lambda p: p.write_text("a\nb\n")), "sha256"),
    "labels edited, same count": (_labels(lambda p: p.write_text(p.read_text().replace("class_0", "<b>x</b>", 1))),
                                  "does not match its sha256"),
    "labels wrong count, no digest": (lambda f: (_edit_manifest(f, lambda d: d["labels"].pop("sha256")),
                                                 (f / "labels.txt").write_text("a\nb\n")), "has 2 lines"),
    "labels digest malformed": (lambda f: _edit_manifest(f, _set("labels", "sha256", "x")), "not a valid manifest"),
    "model name outside": (lambda f: _edit_manifest(f, _set("files", 0, "name", "../model_int8.tflite")), "not a valid manifest"),
    "model name absolute": (lambda f: _edit_manifest(f, _set("files", 0, "name", "/bin/sh")), "not a valid manifest"),
    "model symlink outside": (lambda f: (f / "model_int8.tflite").unlink() or os.symlink("/bin/sh", f / "model_int8.tflite"), "outside the artifact"),
    "model sha256 wrong": (lambda f: (f / "model_int8.tflite").write_bytes(b"0" * 100), "sha256"),
    "model size field wrong": (lambda f: _edit_manifest(f, _set("files", 1, "size", 7)), "sha256"),
    "NaN in verification": (_raw(b'{"manifest_version": 1, "x": NaN}'), "valid json"),
    "Infinity": (_raw(b'{"manifest_version": Infinity}'), "valid json"),
    "deep nesting": (_raw(b"[" * 100000 + b"]" * 100000), "nests deeper"),
    "not utf-8": (_raw(b'{"name": "\xff\xfe"}'), "not utf-8"),
    "huge manifest": (_raw(b" " * (5 << 20) + b"{}"), "larger than"),
    "future version": (lambda f: _edit_manifest(f, _set("manifest_version", 2)), "upgrade"),
    "a list": (_raw(b"[1, 2, 3]"), "not a valid manifest"),
    "not json": (_raw(b"model: mobilenet"), "valid json"),
    "files missing": (lambda f: _edit_manifest(f, lambda d: d.pop("files")), "not a valid manifest"),
    "duplicate file": (lambda f: _edit_manifest(f, _dup_entry), "twice"),
    "labels names a model": (lambda f: _edit_manifest(f, _set("labels", "file", "model_int8.tflite")), "twice"),
    "shape vs resolution": (lambda f: _edit_manifest(f, _set("input", "shape", [1, 64, 64, 3])), "does not match"),
    "negative alpha": (lambda f: _edit_manifest(f, _set("model", "alpha", -0.25)), "not a valid manifest"),
    "manifest is a folder": (lambda f: (f / "manifest.json").unlink() or (f / "manifest.json").mkdir(), "not a regular file"),
    "manifest is a fifo": (lambda f: _fifo(f / "manifest.json"), "is a fifo"),
    "manifest links to /dev/zero": (lambda f: _replace_with_link("/dev/zero")(f / "manifest.json"), "character device"),
    "manifest dangling link": (lambda f: _replace_with_link("/nonexistent/x")(f / "manifest.json"), "link to nothing"),
    "unknown format": (lambda f: _edit_manifest(f, _set("files", 0, "format", "coreml")), "not a valid manifest"),
    "input scale not the file's": (lambda f: _edit_manifest(f, _set("files", 1, "input", "quantization", "scale", 0.5)),
                                   "manifest says its input"),
    "output dtype not the file's": (lambda f: _edit_manifest(f, _set("files", 1, "output", "dtype", "uint8")),
                                    "manifest says its output"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_artifact_is_one_line(case, tiny_artifact, tmp_path):
    art = tmp_path / "art"
    shutil.copytree(tiny_artifact, art)
    damage, fragment = CASES[case]
    damage(art)
    before = sorted(p.name for p in art.iterdir())
    image = shared("images", "parrot.jpg")
    proc = mobiledeploy("predict", art, image, timeout=60)
    assert_one_line_error(proc, fragment)
    assert proc.returncode == 2
    assert "root:" not in proc.stdout + proc.stderr  # nothing of /etc/passwd is ever printed
    assert sorted(p.name for p in art.iterdir()) == before


@pytest.mark.parametrize("command", ["testvectors", "eval", "bench"])
def test_every_consumer_confines_labels(command, tiny_artifact, tmp_path):
    art = tmp_path / "art"
    shutil.copytree(tiny_artifact, art)
    _replace_with_link("/etc/passwd")(art / "labels.txt")
    args = {"testvectors": ["--data", shared("images"), "--out", tmp_path / "vectors"],
            "eval": ["--data", shared("imagenet-sample"), "--no-keras"],
            "bench": ["--runs", "2", "--warmup", "0"]}[command]
    proc = mobiledeploy(command, art, *args, timeout=120)
    if command == "bench":  # bench never reads labels: it must still run, and print no label
        assert proc.returncode == 0, proc.stderr
    else:
        assert_one_line_error(proc, "outside the artifact")
    assert "root:" not in proc.stdout + proc.stderr
    assert not (tmp_path / "vectors").exists()
