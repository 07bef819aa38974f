"""The Android demo's processing module against the Python runtime, through test vectors, with Maven and
JUnit from Maven Central; and a compile check of the app's model code against Maven Central jars.

Not built here: the app module itself (the Android Gradle plugin, AndroidX and CameraX are only on
Google's Maven repository, which this machine does not reach).
"""
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, mobiledeploy, shared

DEMO = ROOT / "android_demo"
PROCESSING = DEMO / "processing"


def needs(*tools):
    for tool in tools:
        if not shutil.which(tool):
            pytest.skip(f"needs {tool} (Java 17 and Maven)")


def test_processing_module_matches_python_vectors(reference_artifact, tmp_path):
    needs("mvn", "java")
    vectors = tmp_path / "vectors"
    mobiledeploy("testvectors", reference_artifact, "--data", shared("images"), "--out", vectors, check=True)
    assert sorted(p.name for p in vectors.iterdir()) == ["model_fp32", "model_int8"]
    reports = PROCESSING / "target" / "surefire-reports"
    shutil.rmtree(reports, ignore_errors=True)
    proc = subprocess.run(["mvn", "-B", "-q", "test", f"-Dtestvectors.dir={vectors}"], cwd=PROCESSING,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    total = failures = skipped = 0
    for xml in reports.glob("TEST-*.xml"):
        suite = ET.parse(xml).getroot()
        total += int(suite.get("tests"))
        failures += int(suite.get("failures")) + int(suite.get("errors"))
        skipped += int(suite.get("skipped"))
    images = len(list(shared("images").iterdir()))
    assert failures == 0 and skipped == 0
    assert total >= 2 * images  # every image, for the int8 and the fp32 file, plus the unit tests
    exact = [line for line in proc.stdout.splitlines() if "bit-exact" in line]
    print("\n" + "\n".join(exact))
    assert len(exact) == 2 * images


def _fetch(artifact: str, dest: Path) -> Path:
    """One artifact from Maven Central into dest (mvn dependency:copy); AARs yield their classes.jar."""
    proc = subprocess.run(["mvn", "-B", "-q", "dependency:copy", f"-Dartifact={artifact}",
                           f"-DoutputDirectory={dest}", "-Dmdep.stripVersion=false"],
                          capture_output=True, text=True, timeout=600, cwd=dest)
    assert proc.returncode == 0, proc.stdout[-2000:]
    group, name, version = artifact.split(":")[:3]
    packaging = artifact.split(":")[3] if artifact.count(":") >= 3 else "jar"
    path = dest / f"{name}-{version}.{packaging}"
    if packaging == "aar":
        with zipfile.ZipFile(path) as z:
            jar = dest / f"{name}-{version}-classes.jar"
            jar.write_bytes(z.read("classes.jar"))
        return jar
    return path


def test_app_model_code_compiles_against_android_and_tflite_api(tmp_path):
    """ModelRunner (LiteRT Interpreter, GPU delegate, assets) and the processing module, compiled with javac
    against Android API stubs and TensorFlow Lite's Java API from Maven Central. LiteRT 1.x keeps TensorFlow
    Lite's org.tensorflow.lite classes, which the app uses; MainActivity (AndroidX, CameraX) is not compiled."""
    needs("mvn", "javac")
    jars = [_fetch(a, tmp_path) for a in (
        "com.google.android:android:4.1.1.4",
        "org.json:json:20240303",  # the platform's org.json; the stub artifact lists it as a dependency
        "org.tensorflow:tensorflow-lite:2.16.1:aar",
        "org.tensorflow:tensorflow-lite-api:2.16.1:aar",
        "org.tensorflow:tensorflow-lite-gpu:2.16.1:aar",
        "org.tensorflow:tensorflow-lite-gpu-api:2.14.0:aar",
    )]
    sources = sorted((PROCESSING / "src" / "main" / "java").rglob("*.java"))
    sources.append(DEMO / "app" / "src" / "main" / "java" / "dev" / "mobiledeploy" / "demo" / "ModelRunner.java")
    proc = subprocess.run(["javac", "--release", "11", "-d", str(tmp_path / "classes"), "-cp",
                           ":".join(map(str, jars)), *map(str, sources)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "classes" / "dev" / "mobiledeploy" / "demo" / "ModelRunner.class").is_file()
