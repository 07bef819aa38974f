"""The Android demo built into a signed APK here (android_demo/build.sh: javac against android-all, aapt2, D8,
zipalign, apksigner) from two real exported artifacts, checked with the Android tools that read APKs
(`apksigner verify`, `aapt dump badging`, the zip layout), then its Activity tested with Robolectric.

What only a device shows (camera frames, inference, delegates, latency, 16 KB pages) is listed in
android_demo/README.md; no emulator or system image is available here.
"""
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, mobiledeploy
from maven import mvn_test

pytestmark = pytest.mark.slow  # Maven builds, APK packaging, exports

DEMO = ROOT / "android_demo"
TOOLS = ("java", "javac", "mvn", "aapt", "aapt2", "zipalign", "apksigner", "zip", "unzip", "keytool")
PACKAGE = "dev.mobiledeploy.demo"


def needs_tools():
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (make system-deps installs them as root)")
    if not Path("/usr/share/android-framework-res/framework-res.apk").is_file():
        pytest.skip("needs the Debian package android-framework-res (make system-deps)")


@pytest.fixture(scope="module")
def artifacts(main_job, tmp_path_factory) -> list[Path]:
    """Two real artifacts: the README's main job (0.5-128, TFLite and ONNX) and a 0.25-128 TFLite-only one."""
    needs_tools()
    proc = mobiledeploy("export", "--alpha", "0.25", "--res", "128", "--int8", "--formats", "tflite",
                        "--weights", "none", "--out", tmp_path_factory.mktemp("small"), "--json")
    assert proc.returncode == 0, proc.stderr
    return [Path(main_job[0]["artifact"]), Path(json.loads(proc.stdout)["artifact"])]


@pytest.fixture(scope="module")
def apk(artifacts, tmp_path_factory) -> Path:
    """build.sh's signed APK with both artifacts (its `== ...` progress lines printed with -s)."""
    out = tmp_path_factory.mktemp("apk") / "demo.apk"
    start = time.monotonic()
    proc = subprocess.run(["bash", str(DEMO / "build.sh"), *map(str, artifacts)], env={**os.environ, "APK": str(out)},
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(f"\nbuild.sh: {time.monotonic() - start:.0f} s, {out.stat().st_size} bytes")
    return out


def _run(*args) -> str:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_apk_is_signed_and_verifies(apk):
    out = _run("apksigner", "verify", "--verbose", "--print-certs", str(apk))
    print("\n" + out)
    assert "Verified using v2 scheme (APK Signature Scheme v2): true" in out
    assert "CN=mobiledeploy debug" in out
    # the throw-away key lives in the ignored build folder, never in git
    tracked = _run("git", "-C", str(ROOT), "ls-files", "android_demo")
    assert not re.search(r"\.(keystore|jks)$", tracked, re.M)
    assert subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "android_demo/build/debug.keystore"]).returncode == 0


def test_badging_names_package_activity_permission_and_abi(apk):
    out = _run("aapt", "dump", "badging", str(apk))
    print("\n" + out)
    assert re.search(rf"^package: name='{PACKAGE}' versionCode='1' versionName='0.1.0'", out, re.M)
    assert f"launchable-activity: name='{PACKAGE}.MainActivity'" in out
    assert "uses-permission: name='android.permission.CAMERA'" in out
    assert "sdkVersion:'24'" in out and "targetSdkVersion:'35'" in out
    assert re.search(r"^native-code: 'arm64-v8a'$", out, re.M)  # one ABI: what phones run
    tree = _run("aapt", "dump", "xmltree", str(apk), "AndroidManifest.xml")
    assert re.search(r"extractNativeLibs\(0x[0-9a-f]+\)=\(type 0x12\)0x0", tree), tree


def test_artifacts_and_native_libraries_stored_uncompressed_and_aligned(apk, artifacts):
    with zipfile.ZipFile(apk) as z, apk.open("rb") as raw:
        entries = {i.filename: i for i in z.infolist()}

        def data_offset(info):
            raw.seek(info.header_offset + 26)
            name_len, extra_len = int.from_bytes(raw.read(2), "little"), int.from_bytes(raw.read(2), "little")
            return info.header_offset + 30 + name_len + extra_len

        libs = [n for n in entries if n.startswith("lib/")]
        assert sorted(libs) == ["lib/arm64-v8a/libtensorflowlite_gpu_jni.so", "lib/arm64-v8a/libtensorflowlite_jni.so"]
        for name in libs:
            assert entries[name].compress_type == zipfile.ZIP_STORED, name
            assert data_offset(entries[name]) % 4096 == 0, f"{name} is not page-aligned"
        for folder in artifacts:
            wanted = ["labels.txt", "manifest.json", *sorted(p.name for p in folder.glob("*.tflite"))]
            bundled = sorted(n.split("/")[-1] for n in entries
                             if n.startswith(f"assets/models/{folder.name}/") and not n.endswith("/"))
            assert bundled == sorted(wanted), f"{folder.name}: {bundled}"  # no ONNX files: the app cannot run them
            for file in wanted:
                info = entries[f"assets/models/{folder.name}/{file}"]
                assert info.compress_type == zipfile.ZIP_STORED, info.filename
                assert data_offset(info) % 4 == 0, f"{info.filename} is not 4-byte aligned for mmap"
                assert hashlib.sha256(z.read(info)).digest() == hashlib.sha256((folder / file).read_bytes()).digest()
        assert "classes.dex" in entries
        # README: TensorFlow Lite 2.16.1's libraries have 4 KiB-aligned segments, so 16 KB-page devices cannot
        # load them; this fails (and the README must change) when an upgrade brings 16 KiB alignment
        assert {_load_alignment(z.read(name)) for name in libs} == {4096}
    _run("zipalign", "-c", "-p", "4", str(apk))


def _load_alignment(elf: bytes) -> int:
    """The smallest p_align of an ELF64 little-endian file's PT_LOAD segments."""
    assert elf[:4] == b"\x7fELF" and elf[4] == 2 and elf[5] == 1, "not an ELF64 little-endian file"
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    aligns = [struct.unpack_from("<Q", elf, phoff + i * phentsize + 48)[0] for i in range(phnum)
              if struct.unpack_from("<I", elf, phoff + i * phentsize)[0] == 1]
    return min(aligns)


def _robolectric_apk(apk_dir: Path, artifacts: list[Path], dest: Path) -> Path:
    """build.sh's resources (same R ids as the compiled tests) plus assets: the real artifacts, a corrupt manifest
    and an artifact whose model file is missing. Directory entries as zip -r writes them (Robolectric's
    AssetManager lists folders only through them)."""
    shutil.copy(apk_dir / "stage" / "base.apk", dest)
    files = {}
    for folder in artifacts:
        for p in [folder / "manifest.json", folder / "labels.txt", *folder.glob("*.tflite")]:
            files[f"models/{folder.name}/{p.name}"] = p.read_bytes()
    manifest = (artifacts[0] / "manifest.json").read_bytes()
    files["models/corrupt-manifest/manifest.json"] = manifest[: len(manifest) // 2]
    files["models/missing-model/manifest.json"] = manifest
    files["models/missing-model/labels.txt"] = (artifacts[0] / "labels.txt").read_bytes()
    with zipfile.ZipFile(dest, "a") as z:
        dirs = sorted({"assets/"} | {f"assets/{'/'.join(n.split('/')[:i])}/" for n in files for i in (1, 2)})
        for d in dirs:
            z.writestr(d, b"")
        for name, data in sorted(files.items()):
            z.writestr(f"assets/{name}", data, compress_type=zipfile.ZIP_STORED)
    return dest


def test_activity_under_robolectric(apk, artifacts, tmp_path):
    """JUnit 4 + Robolectric 4.16.1 on Android 15, offline (android-all-instrumented from build.sh's Maven run):
    camera permission granted and denied, the artifact list, switching artifacts, Android's own org.json, and a
    shown error (no crash) for a corrupt manifest or a missing model. The native TFLite library cannot load on
    this x86-64 JVM: the test asserts the app says so instead of crashing."""
    test_apk = _robolectric_apk(DEMO / "build", artifacts, tmp_path / "robolectric.apk")
    app = DEMO / "app"
    start = time.monotonic()
    proc, total, failures, skipped = mvn_test(app, f"robolectric.apk={test_apk}", timeout=1800)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    print(f"\nRobolectric: {total} tests, {failures} failed, {skipped} skipped, {time.monotonic() - start:.0f} s")
    assert failures == 0 and skipped == 0  # every fixture is present, so nothing may skip
    assert total == 7


def test_versions_agree_between_gradle_and_the_maven_builds():
    """Android Studio's Gradle build and build.sh/app/pom.xml must use the same Maven Central versions (no
    androidx/CameraX, which only Google's repository has); the wrapper names a real Gradle distribution."""
    gradle = (DEMO / "app" / "build.gradle.kts").read_text()
    coords = dict(re.findall(r'(?:implementation|testImplementation)\("([\w.\-]+:[\w.\-]+):([\w.\-]+)"\)', gradle))
    tools = (DEMO / "tools" / "pom.xml").read_text()
    app_pom = (DEMO / "app" / "pom.xml").read_text()
    assert coords["org.tensorflow:tensorflow-lite"] == coords["org.tensorflow:tensorflow-lite-gpu"] == "2.16.1"
    assert "<tflite>2.16.1</tflite>" in tools and "<tflite>2.16.1</tflite>" in app_pom
    assert f"<version>{coords['org.tensorflow:tensorflow-lite-gpu-api']}</version>" in tools
    assert f"<version>{coords['org.robolectric:robolectric']}</version>" in app_pom
    assert f"<version>{coords['junit:junit']}</version>" in app_pom
    assert not [c for c in coords if c.startswith(("androidx.", "com.google.ai.edge"))]
    wrapper = (DEMO / "gradle" / "wrapper" / "gradle-wrapper.properties").read_text()
    assert re.search(r"^distributionUrl=https\\://services\.gradle\.org/distributions/gradle-8\.\d+(\.\d+)?-bin\.zip$",
                     wrapper, re.M)
