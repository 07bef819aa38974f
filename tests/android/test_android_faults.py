"""android_demo/build.sh given something that is not an artifact: exit 2, one `error:` line, no APK written."""
import shutil
import subprocess

import pytest

from conftest import ROOT, assert_one_line_error

pytestmark = pytest.mark.faults


def _artifact_without(tmp_path, *missing):
    folder = tmp_path / "mobilenet_v1_0.25_128"
    folder.mkdir()
    for name in ("manifest.json", "labels.txt", "model_int8.tflite"):
        if name not in missing:
            (folder / name).write_text("{}" if name.endswith(".json") else "x")
    return folder


@pytest.mark.parametrize("make,fragment", [
    (lambda tmp: tmp / "no-such-folder", "is not an artifact folder"),
    (lambda tmp: tmp, "is not an artifact folder"),
    (lambda tmp: _artifact_without(tmp, "manifest.json"), "no manifest.json"),
    (lambda tmp: _artifact_without(tmp, "labels.txt"), "has no labels.txt"),
    (lambda tmp: _artifact_without(tmp, "model_int8.tflite"), "--formats tflite"),
])
def test_build_sh_rejects_what_is_not_an_artifact(tmp_path, make, fragment):
    for tool in ("java", "javac", "mvn", "aapt2", "zipalign", "apksigner", "zip", "unzip", "keytool"):
        if not shutil.which(tool):
            pytest.skip(f"needs {tool} (make system-deps)")
    apk = tmp_path / "out" / "demo.apk"
    proc = subprocess.run(["bash", str(ROOT / "android_demo" / "build.sh"), str(make(tmp_path))],
                          env={"PATH": "/usr/bin:/bin", "APK": str(apk)}, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert_one_line_error(proc, fragment)
    assert not (tmp_path / "out").exists()  # nothing written, not even the APK's folder


def _link_out(name):
    def make(tmp_path, artifact):
        secret = tmp_path / "secret.txt"
        secret.write_text("private\n" * 1000)
        (artifact / name).unlink()
        (artifact / name).symlink_to(secret)
    return make


@pytest.mark.parametrize("damage,fragment", [
    (_link_out("labels.txt"), "outside the artifact"),
    (_link_out("model_int8.tflite"), "outside the artifact"),
    (lambda tmp, a: (a / "model_fp32.tflite").write_bytes(b"changed"), "sha256"),
])
def test_build_sh_reads_the_artifact_through_its_manifest(tmp_path, tiny_artifact, damage, fragment):
    """What a manifest names is packed only as the manifest says: a file linked outside the artifact or changed
    since export is refused with one line, before anything is built."""
    for tool in ("java", "javac", "mvn", "aapt2", "zipalign", "apksigner", "zip", "unzip", "keytool"):
        if not shutil.which(tool):
            pytest.skip(f"needs {tool} (make system-deps)")
    art = tmp_path / "art" / tiny_artifact.name
    shutil.copytree(tiny_artifact, art)
    damage(tmp_path, art)
    apk = tmp_path / "out" / "demo.apk"
    proc = subprocess.run(["bash", str(ROOT / "android_demo" / "build.sh"), str(art)],
                          env={"PATH": "/usr/bin:/bin", "APK": str(apk)}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert_one_line_error(proc, fragment)
    assert "private" not in proc.stdout + proc.stderr and not (tmp_path / "out").exists()
