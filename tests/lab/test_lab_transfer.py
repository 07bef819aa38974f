"""What crosses hosts in the lab, without a lab: an exported artifact coming back to the client (every file checked,
the whole of it, its paths made the client's), inputs going to a worker (paths kept inside their folder).
A real artifact (tests/conftest.py's tiny one); anything that arrives is treated as untrusted."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mobiledeploy.artifact.bundle import Artifact
from mobiledeploy.errors import MobiledeployError
from mobiledeploy.lab import exports, transfer
from mobiledeploy.sweep.cache import Recipe


def _recipe(artifact: Artifact, **kw) -> Recipe:
    m = artifact.manifest.model
    fields = dict(alpha=m.alpha, resolution=m.resolution, weights=None, weights_sha256=None, calib=None,
                  calib_count=8, datafree_steps=0, precisions=("fp32", "int8"))
    return Recipe(**{**fields, **kw})


def _answer(artifact: Artifact, payload=None, paths=None) -> dict:
    return {"payload": payload or transfer.pack_whole(artifact), "paths": paths or {}, "host": "desk1",
            "warnings": [], "seconds": 1.0}


def test_an_exported_artifact_comes_back_whole_and_checked(tiny_artifact, tmp_path):
    art = Artifact.load(tiny_artifact)
    back = exports.receive(_answer(art), _recipe(art), tmp_path / "out")
    assert back.folder == tmp_path / "out" / tiny_artifact.name
    for e in art.manifest.files:   # every model file, checked against the manifest's sha256 on the way
        assert back.path(back.entry(e.name)).read_bytes() == (tiny_artifact / e.name).read_bytes()
    assert back.labels == art.labels

    whole = transfer.pack_whole(art)
    corrupt = replace(whole, files=tuple((n, b[:-1] + bytes([b[-1] ^ 1])) if n.endswith(".tflite") else (n, b)
                                         for n, b in whole.files))
    missing = replace(whole, files=tuple((n, b) for n, b in whole.files if not n.startswith("model_int8")))
    outside = replace(whole, files=(*whole.files, ("../evil.txt", b"x")))
    rooted = replace(whole, files=(*whole.files, ("/", b"x")))
    for bad, words in ((corrupt, "arrived corrupted"), (missing, "arrived incomplete"), (outside, "refused"),
                       (rooted, "not a file name")):
        target = tmp_path / f"bad-{words.split()[-1]}"
        with pytest.raises(MobiledeployError, match=words):
            exports.receive(_answer(art, bad), _recipe(art), target)
        assert not (target / tiny_artifact.name).exists()                # nothing half-written is left
        assert [p.name for p in target.iterdir()] == [] if target.exists() else True
        assert not (tmp_path / "evil.txt").exists()


def test_the_workers_paths_in_the_manifest_become_the_clients(tiny_artifact, tmp_path):
    art = Artifact.load(tiny_artifact)
    doc = json.loads((tiny_artifact / "manifest.json").read_text())
    theirs = "/home/lab/.config/mobiledeploy/lab/exports/.export.tmp-1-x"
    doc["calibration"]["path"] = f"{theirs}/calib"
    doc["calibration"]["verification"] = {"source": f"held back from {theirs}/calib", "count": 2}
    doc["model"]["weights"] = {"kind": "tflite", "path": f"{theirs}/weights/w.tflite", "sha256": "0" * 64}
    doc["model"]["name"] = f"{theirs}/calib"   # not an input's path field: left alone
    whole = transfer.pack_whole(art)
    payload = replace(whole, manifest=json.dumps(doc).encode())
    recipe = _recipe(art, calib=str(tmp_path / "mine"))
    recipe = replace(recipe, weights=str(tmp_path / "w" / "w.tflite"))
    paths = {"calib": f"{theirs}/calib", "weights": f"{theirs}/weights/w.tflite"}
    back = exports.receive(_answer(art, payload, paths), recipe, tmp_path / "out")
    got = json.loads((back.folder / "manifest.json").read_text())
    assert got["calibration"]["path"] == str(tmp_path / "mine")
    assert got["calibration"]["verification"]["source"] == f"held back from {tmp_path / 'mine'}"
    assert got["model"]["weights"]["path"] == str(tmp_path / "w" / "w.tflite")
    assert got["model"]["name"] == f"{theirs}/calib"
    # a worker path of "/" or "" would make every absolute path the client's: ignored
    doc["calibration"]["path"] = "/etc/passwd"
    payload = replace(whole, manifest=json.dumps(doc).encode())
    back = exports.receive(_answer(art, payload, {"calib": "/"}), recipe, tmp_path / "out2")
    assert json.loads((back.folder / "manifest.json").read_text())["calibration"]["path"] == "/etc/passwd"


def test_inputs_sent_to_a_worker_stay_inside_its_folder(tiny_artifact, tmp_path):
    art = Artifact.load(tiny_artifact)
    calib = tmp_path / "calib"
    (calib / "sub").mkdir(parents=True)
    (calib / "a.png").write_bytes(b"a")
    (calib / "sub" / "b.jpg").write_bytes(b"b")
    recipe = _recipe(art, calib=str(calib))
    inputs = exports.inputs_for(recipe)
    assert sorted(rel for rel, _ in inputs.calib) == ["a.png", "sub/b.jpg"]   # relative: the same draw there
    there = tmp_path / "worker"
    there.mkdir()
    mapped = exports._write_inputs(recipe, inputs, there)
    assert (Path(mapped.calib) / "sub" / "b.jpg").read_bytes() == b"b"
    for n, rel in enumerate(("../escape.png", "/abs.png", "a/../../x.png", "", "sub\\..\\x.png")):
        bad = exports.Inputs(None, (("a.png", b"a"), (rel, b"x")))
        (there / f"again{n}").mkdir()
        with pytest.raises(MobiledeployError, match="leave its folder"):
            exports._write_inputs(recipe, bad, there / f"again{n}")
    assert not (tmp_path / "escape.png").exists() and not Path("/abs.png").exists()
