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


# --- what is packed, and under which name (issue 34, class 11) -------------------------------------------------

def _needs_tools():
    for tool in ("java", "javac", "mvn", "aapt2", "zipalign", "apksigner", "zip", "unzip", "keytool", "flock"):
        if not shutil.which(tool):
            pytest.skip(f"needs {tool} (make system-deps)")


def _build(*artifacts, apk, cwd=None, env=None, timeout=600, wait=True):
    """build.sh as a user runs it (the real Maven cache in ~/.m2), writing `apk`."""
    import os

    cmd = ["bash", str(ROOT / "android_demo" / "build.sh"), *map(str, artifacts)]
    full = {**os.environ, "APK": str(apk), **(env or {})}
    if not wait:
        return subprocess.Popen(cmd, env=full, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=full, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _assets(apk) -> dict:
    """{folder name: {file name: bytes}} of the APK's assets/models/."""
    import zipfile

    out: dict = {}
    with zipfile.ZipFile(apk) as z:
        for info in z.infolist():
            parts = info.filename.split("/")
            if len(parts) == 4 and parts[:2] == ["assets", "models"] and parts[3]:
                out.setdefault(parts[2], {})[parts[3]] = z.read(info)
    return out


def _manifest_names(folder):
    import json

    doc = json.loads((folder / "manifest.json").read_text())
    return sorted(["manifest.json", doc["labels"]["file"], *(f["name"] for f in doc["files"] if f["format"] == "tflite")])


def test_build_sh_packs_files_linked_inside_the_artifact_under_the_manifests_names(tmp_path, tiny_artifact):
    """labels.txt and the int8 model as links to other files of the artifact: the APK holds labels.txt and
    model_int8.tflite (what the app opens), with the linked files' bytes, not names.txt and q.bin."""
    _needs_tools()
    art = tmp_path / "art" / tiny_artifact.name
    shutil.copytree(tiny_artifact, art)
    for name, target in (("labels.txt", "names.txt"), ("model_int8.tflite", "q.bin")):
        (art / name).rename(art / target)
        (art / name).symlink_to(target)
    proc = _build(art, apk=tmp_path / "demo.apk")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    packed = _assets(tmp_path / "demo.apk")[art.name]
    assert sorted(packed) == _manifest_names(art)
    for name, data in packed.items():
        assert data == (art / name).read_bytes(), name


def test_build_sh_refuses_two_artifacts_of_one_folder_name(tmp_path, tiny_artifact):
    """Two folders named alike would both become assets/models/NAME, one silently overwriting the other:
    refused before anything is built. The same folder given twice is packed once (checked in the next test)."""
    _needs_tools()
    first, second = tmp_path / "a" / tiny_artifact.name, tmp_path / "b" / tiny_artifact.name
    shutil.copytree(tiny_artifact, first)
    shutil.copytree(tiny_artifact, second)
    apk = tmp_path / "out" / "demo.apk"
    proc = _build(first, second, apk=apk, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    assert_one_line_error(proc, "both named", str(first), str(second), "rename one")
    assert "==" not in proc.stdout and not (tmp_path / "out").exists()


def test_build_sh_artifact_folder_named_dash(tmp_path, tiny_artifact):
    """A folder named `-` is that folder (`cd -` would be $OLDPWD, here another artifact); given twice, once."""
    _needs_tools()
    dash = tmp_path / "-"
    shutil.copytree(tiny_artifact, dash)
    other = tmp_path / "elsewhere" / "mobilenet_other"
    shutil.copytree(tiny_artifact, other)
    proc = _build("-", "-", apk=tmp_path / "demo.apk", cwd=tmp_path, env={"OLDPWD": str(other)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    packed = _assets(tmp_path / "demo.apk")
    assert list(packed) == ["-"] and sorted(packed["-"]) == _manifest_names(dash)


def test_build_sh_refuses_a_folder_name_that_is_not_text(tmp_path, tiny_artifact):
    _needs_tools()
    import os

    art = os.path.join(os.fsencode(tmp_path), b"model\xff\n")
    shutil.copytree(tiny_artifact, art.decode("utf-8", "surrogateescape"))
    proc = subprocess.run([b"bash", os.fsencode(ROOT / "android_demo" / "build.sh"), art],
                          env={"PATH": "/usr/bin:/bin", "APK": str(tmp_path / "out" / "demo.apk")},
                          capture_output=True, timeout=120)
    proc = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(errors="replace"),
                                       proc.stderr.decode(errors="replace"))
    assert proc.returncode == 2
    assert_one_line_error(proc, "not printable utf-8", "rename it")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_build_sh_never_replaces_an_apk_path_that_is_not_a_file(tmp_path, tiny_artifact, kind):
    _needs_tools()
    import os

    apk = tmp_path / "demo.apk"
    os.mkfifo(apk) if kind == "fifo" else apk.mkdir()
    proc = _build(tiny_artifact, apk=apk, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    assert_one_line_error(proc, f"APK={apk}", "not a regular file")
    assert (apk.is_fifo() if kind == "fifo" else apk.is_dir())


def test_two_build_sh_at_once_take_turns(tmp_path, tiny_artifact):
    """Both builds share android_demo/build/ (its stage/, dex/, gen/ are rebuilt by each): the second waits for
    the first, and each APK holds its own artifact, whole and signed."""
    _needs_tools()
    arts = []
    for name in ("mobilenet_first", "mobilenet_second"):
        shutil.copytree(tiny_artifact, tmp_path / name)
        arts.append(tmp_path / name)
    procs = [_build(art, apk=tmp_path / f"{art.name}.apk", wait=False) for art in arts]
    results = [(p, *p.communicate(timeout=900)) for p in procs]
    for p, out, err in results:
        assert p.returncode == 0, out[-2000:] + err[-2000:]
    assert sum("waiting for another build.sh" in err for _, _, err in results) == 1
    for art in arts:
        apk = tmp_path / f"{art.name}.apk"
        assert list(_assets(apk)) == [art.name] and sorted(_assets(apk)[art.name]) == _manifest_names(art)
        assert subprocess.run(["apksigner", "verify", str(apk)], capture_output=True).returncode == 0
    assert not list(tmp_path.glob(".*.tmp-*"))
