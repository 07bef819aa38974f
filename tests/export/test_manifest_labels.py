"""labels.txt is covered by the manifest: the exporter records its sha256, every reader checks it, manifests
written before the digest existed still load, and a label is printed as text (never as terminal escapes)."""
import hashlib
import json
import shutil

import pytest
from conftest import assert_one_line_error, mobiledeploy, shared
from test_manifest import valid_doc

from mobiledeploy.artifact.manifest import Manifest
from mobiledeploy.errors import MobiledeployError

pytestmark = pytest.mark.faults


def _copy(tiny_artifact, tmp_path):
    art = tmp_path / "art"
    shutil.copytree(tiny_artifact, art)
    return art


def _set_labels(art, lines, digest=True):
    """Rewrite labels.txt; with `digest`, also the manifest's sha256 (an artifact exported with these labels)."""
    data = ("\n".join(lines) + "\n").encode()
    (art / "labels.txt").write_bytes(data)
    doc = json.loads((art / "manifest.json").read_text())
    if digest:
        doc["labels"]["sha256"] = hashlib.sha256(data).hexdigest()
    else:
        doc["labels"].pop("sha256", None)
    (art / "manifest.json").write_text(json.dumps(doc))


def test_exporter_records_the_labels_digest(tiny_artifact):
    doc = json.loads((tiny_artifact / "manifest.json").read_text())
    assert doc["labels"]["sha256"] == hashlib.sha256((tiny_artifact / "labels.txt").read_bytes()).hexdigest()
    assert doc["manifest_version"] == 1  # an optional key: the Android app's parser (version 1) reads it as before


def test_tampered_labels_are_refused(tiny_artifact, tmp_path):
    art = _copy(tiny_artifact, tmp_path)
    lines = (art / "labels.txt").read_text().splitlines()
    lines[0] = "<img src=x onerror=alert(1)>"
    (art / "labels.txt").write_text("\n".join(lines) + "\n")  # same line count: only the digest can tell
    proc = mobiledeploy("predict", art, shared("images", "parrot.jpg"), timeout=60)
    assert_one_line_error(proc, "labels.txt", "sha256")
    assert proc.returncode == 2
    assert "<img" not in proc.stdout


def test_manifest_without_labels_digest_still_loads(tiny_artifact, tmp_path):
    """Artifacts exported before the digest was recorded keep working (the count is still checked)."""
    art = _copy(tiny_artifact, tmp_path)
    lines = (art / "labels.txt").read_text().splitlines()
    _set_labels(art, ["legacy"] + lines[1:], digest=False)
    proc = mobiledeploy("predict", art, shared("images", "parrot.jpg"), "--json", timeout=60)
    assert proc.returncode == 0, proc.stderr
    doc = valid_doc()
    assert "sha256" not in doc["labels"]
    assert Manifest.from_dict(doc).to_dict() == doc  # no key added on the way through
    _set_labels(art, lines[:3], digest=False)
    assert_one_line_error(mobiledeploy("predict", art, shared("images", "parrot.jpg"), timeout=60), "has 3 lines")


@pytest.mark.parametrize("digest", ["0" * 63, "A" * 64, None, 7])
def test_malformed_labels_digest_is_refused(digest):
    doc = valid_doc()
    doc["labels"]["sha256"] = digest
    with pytest.raises(MobiledeployError, match="not a valid manifest: labels/sha256"):
        Manifest.from_dict(doc)


def test_predict_escapes_terminal_sequences_in_labels(tiny_artifact, tmp_path):
    art = _copy(tiny_artifact, tmp_path)
    outputs = len((art / "labels.txt").read_text().splitlines())
    hostile = "\x1b[2J\x1b]0;owned\x07red\u202eevil"   # clear screen, set the window title, a bidi override
    _set_labels(art, [hostile] * outputs)
    proc = mobiledeploy("predict", art, shared("images", "parrot.jpg"), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "\u202e" not in proc.stdout
    assert "\\x1b[2J\\x1b]0;owned\\x07red\\u202eevil" in proc.stdout
    as_json = json.loads(mobiledeploy("predict", art, shared("images", "parrot.jpg"), "--json", check=True).stdout)
    assert as_json["images"][0]["top"][0]["label"] == hostile  # JSON carries the label itself, escaped by JSON


def test_printable():
    from mobiledeploy.artifact.labels import printable

    assert printable("tabby, tabby cat") == "tabby, tabby cat"
    assert printable("caf\u00e9 \u732b") == "caf\u00e9 \u732b"                  # text stays text
    assert printable("a\x1b[31mb\tc\x00") == "a\\x1b[31mb\\x09c\\x00"
    assert printable("\u202e\U000e0041") == "\\u202e\\U000e0041"               # invisible format characters
    assert printable("vid\udcff.avi") == "vid\\xff.avi"                        # a non-UTF-8 file name's byte
