"""`mobiledeploy weights`: the catalogue of official files, a fetch from a loopback mirror, local files and
archives taken into the cache, and a sweep that reads the cache (`--weights-dir cache`)."""
import io
import json
import tarfile

from conftest import assert_one_line_error, mobiledeploy


def test_list_names_every_official_variant_and_what_the_cache_holds(tmp_path):
    env = {"KERAS_HOME": str(tmp_path / "keras")}
    doc = json.loads(mobiledeploy("weights", "list", "--json", env=env, check=True).stdout)
    v1 = [e for e in doc["weights"] if e["arch"] == "mobilenet_v1"]
    assert len(v1) == 16 and doc["cache"] == str(tmp_path / "keras" / "models")
    cell = next(e for e in v1 if (e["alpha"], e["resolution"]) == (0.5, 128))
    assert cell["keras"] == "mobilenet_5_0_128_tf.h5" and cell["keras_url"].endswith("/mobilenet_5_0_128_tf.h5")
    assert cell["tflite"] == ["mobilenet_v1_0.5_128.tflite", "mobilenet_v1_0.5_128_quant.tflite"]
    assert cell["tflite_archives"] == ["mobilenet_v1_0.5_128.tgz", "mobilenet_v1_0.5_128_quant.tgz"]
    assert cell["cached"] == [] and cell["published_top1"] > 0.5
    assert any(e["arch"] == "mobilenet_v2" and e["label"] == "v2-a1.4-224" for e in doc["weights"])


def test_fetch_from_a_loopback_mirror_into_the_cache(weights_server, tmp_path):
    served, url = weights_server
    (served / "mobilenet_2_5_128_tf.h5").write_bytes(b"h5 bytes")   # fetch moves bytes; export checks content
    env = {"KERAS_HOME": str(tmp_path / "keras"), "MOBILEDEPLOY_WEIGHTS_URL": url}
    doc = json.loads(mobiledeploy("weights", "fetch", "--alpha", "0.25", "--res", "128", "--json", env=env,
                                  check=True).stdout)
    assert doc["path"] == str(tmp_path / "keras" / "models" / "mobilenet_2_5_128_tf.h5")
    listed = json.loads(mobiledeploy("weights", "list", "--arch", "mobilenet_v1", "--json", env=env).stdout)
    assert [e["cached"] for e in listed["weights"] if e["label"] == "a0.25-128"] == [["mobilenet_2_5_128_tf.h5"]]
    offline = mobiledeploy("weights", "fetch", "--alpha", "0.5", "--res", "128",
                           env={**env, "MOBILEDEPLOY_WEIGHTS_URL": "http://127.0.0.1:9/"})
    assert_one_line_error(offline, "mobilenet_5_0_128_tf.h5", "weights add")
    assert_one_line_error(mobiledeploy("weights", "fetch", "--alpha", "0.3", "--res", "128", env=env),
                          "official ImageNet weights")


def test_add_takes_files_and_archives_by_their_official_names_only(tmp_path):
    env = {"KERAS_HOME": str(tmp_path / "keras")}
    archive = tmp_path / "mobilenet_v1_0.5_128_quant.tgz"
    with tarfile.open(archive, "w:gz") as tar:   # Google's layout: the .tflite beside its labels and checkpoint
        for name, data in (("./mobilenet_v1_0.5_128_quant.tflite", b"\x1c\x00\x00\x00TFL3model"), ("./labels.txt", b"x"),
                           ("../../escape/mobilenet_v1_0.25_128.tflite", b"\x1c\x00\x00\x00TFL3evil")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("mobilenet_v1_1.0_224.tflite")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    doc = json.loads(mobiledeploy("weights", "add", archive, "--json", env=env, check=True).stdout)
    cache = tmp_path / "keras" / "models"
    assert sorted(p.rsplit("/", 1)[1] for p in doc["added"]) == ["mobilenet_v1_0.25_128.tflite",
                                                                   "mobilenet_v1_0.5_128_quant.tflite"]
    assert sorted(p.name for p in cache.iterdir()) == ["mobilenet_v1_0.25_128.tflite", "mobilenet_v1_0.5_128_quant.tflite"]
    assert not (tmp_path / "escape").exists() and not (cache / "mobilenet_v1_1.0_224.tflite").exists()
    wrong = tmp_path / "my_model.tflite"
    wrong.write_bytes(b"x")
    assert_one_line_error(mobiledeploy("weights", "add", wrong, env=env), "not a MobileNet weights file name")
    assert_one_line_error(mobiledeploy("weights", "add", tmp_path / "missing.tgz", env=env), "is not a file")
    # the sweep reads the cache as a weights folder
    from mobiledeploy.sweep import sources

    import os
    os.environ["KERAS_HOME"] = env["KERAS_HOME"]
    try:
        from mobiledeploy.sweep.catalog import cache_dir
        found = sources.scan(cache_dir())
    finally:
        del os.environ["KERAS_HOME"]
    assert set(found) == {("mobilenet_v1", 0.25, 128), ("mobilenet_v1", 0.5, 128)}


def _tgz(path, members):
    """A .tgz of (name, bytes) regular files, or (name, None, linkname) symlinks, in the order given."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data, *link in members:
            info = tarfile.TarInfo(name)
            if link:
                info.type, info.linkname = tarfile.SYMTYPE, link[0]
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def _tflite_bytes():
    """Google's real 0.25-128 quant file where ../shared/data has it, else bytes with a TFLite identifier."""
    from conftest import REFERENCE

    return REFERENCE.read_bytes() if REFERENCE.is_file() else b"\x1c\x00\x00\x00TFL3" + bytes(200)


def _google_layout(stem, model):
    """The members of one of Google's MobileNet archives (checkpoint, graphs, info and the .tflite), at the top."""
    return [(f"./{stem}.ckpt.data-00000-of-00001", b"c" * 300), (f"./{stem}.ckpt.index", b"i"),
            (f"./{stem}.ckpt.meta", b"m"), (f"./{stem}_eval.pbtxt", b"p"), (f"./{stem}_frozen.pb", b"f"),
            (f"./{stem}_info.txt", b"Model: x"), (f"./{stem}.tflite", model)]


def test_list_names_google_archives_with_their_official_urls(tmp_path):
    env = {"KERAS_HOME": str(tmp_path / "keras"), "MOBILEDEPLOY_WEIGHTS_URL": ""}
    doc = json.loads(mobiledeploy("weights", "list", "--json", env=env, check=True).stdout)
    by = {e["label"]: e for e in doc["weights"]}
    assert by["a0.5-128"]["archives"] == [
        {"kind": "tflite", "name": "mobilenet_v1_0.5_128.tgz", "member": "mobilenet_v1_0.5_128.tflite",
         "url": "https://storage.googleapis.com/download.tensorflow.org/models/mobilenet_v1_2018_02_22/"
                "mobilenet_v1_0.5_128.tgz"},
        {"kind": "tflite-quant", "name": "mobilenet_v1_0.5_128_quant.tgz", "member": "mobilenet_v1_0.5_128_quant.tflite",
         "url": "https://storage.googleapis.com/download.tensorflow.org/models/mobilenet_v1_2018_08_02/"
                "mobilenet_v1_0.5_128_quant.tgz"}]
    assert [a["url"] for a in by["v2-a1.0-224"]["archives"]] == [
        "https://storage.googleapis.com/mobilenet_v2/checkpoints/mobilenet_v2_1.0_224.tgz",
        "https://storage.googleapis.com/download.tensorflow.org/models/tflite_11_05_08/mobilenet_v2_1.0_224_quant.tgz"]
    assert [a["kind"] for a in by["v2-a0.35-96"]["archives"]] == ["tflite"]      # no quant V2 but 1.0-224
    assert by["v2-a1.3-160"]["archives"] == []                                    # Keras has it, TF-slim not
    text = mobiledeploy("weights", "list", "--arch", "mobilenet_v1", env=env, check=True).stdout
    assert "mobilenet_v1_0.5_128_quant.tgz" in text and "--kind tflite" in text


def test_fetch_a_google_archive_keeps_only_its_tflite(weights_server, tmp_path):
    """Google's layout served from loopback: only the .tflite reaches the cache, byte for byte; a second fetch needs
    no network; the sweep reads it from the cache."""
    served, url = weights_server
    model = _tflite_bytes()
    _tgz(served / "mobilenet_v1_0.25_128_quant.tgz", _google_layout("mobilenet_v1_0.25_128_quant", model))
    env = {"KERAS_HOME": str(tmp_path / "keras"), "MOBILEDEPLOY_WEIGHTS_URL": url}
    args = ("weights", "fetch", "--alpha", "0.25", "--res", "128", "--kind", "tflite-quant", "--json")
    doc = json.loads(mobiledeploy(*args, env=env, check=True).stdout)
    cache = tmp_path / "keras" / "models"
    assert doc["path"] == str(cache / "mobilenet_v1_0.25_128_quant.tflite")
    assert sorted(p.name for p in cache.iterdir()) == ["mobilenet_v1_0.25_128_quant.tflite"]   # no ckpt, no .tgz
    assert (cache / "mobilenet_v1_0.25_128_quant.tflite").read_bytes() == model
    offline = {**env, "MOBILEDEPLOY_WEIGHTS_URL": "http://127.0.0.1:9/"}
    again = json.loads(mobiledeploy(*args, env=offline, check=True).stdout)   # cached: no download
    assert again["path"] == doc["path"]
    listed = json.loads(mobiledeploy("weights", "list", "--arch", "mobilenet_v1", "--json", env=env).stdout)
    assert [e["cached"] for e in listed["weights"] if e["label"] == "a0.25-128"] == [
        ["mobilenet_v1_0.25_128_quant.tflite"]]
    # offline, another cell: one line naming the URL and the local-file fallback
    err = assert_one_line_error(mobiledeploy("weights", "fetch", "--alpha", "0.5", "--res", "128", "--kind", "tflite",
                                             env=offline), "mobilenet_v1_0.5_128.tgz", "weights add")
    assert "127.0.0.1:9" in err
    assert_one_line_error(mobiledeploy("weights", "fetch", "--arch", "mobilenet_v2", "--alpha", "0.5", "--res", "128",
                                       "--kind", "tflite-quant", env=env), "no tflite-quant archive", "v2-a1.0-224")


def test_fetch_refuses_archives_that_are_not_googles(weights_server, tmp_path):
    """A link where the model should be, the model only below the top (../ paths), a non-TFLite member, a file that
    is not gzip: one line each, nothing in the cache, nothing written outside it, no temporary file left."""
    served, url = weights_server
    env = {"KERAS_HOME": str(tmp_path / "keras"), "MOBILEDEPLOY_WEIGHTS_URL": url}
    cases = {
        ("0.5", "128"): ([("./mobilenet_v1_0.5_128.tflite", None, "/etc/passwd")], "not a regular file"),
        ("0.75", "128"): ([("../../escape/mobilenet_v1_0.75_128.tflite", _tflite_bytes()),
                           ("sub/mobilenet_v1_0.75_128.tflite", _tflite_bytes())], "holds no mobilenet_v1_0.75_128"),
        ("1.0", "128"): ([("./mobilenet_v1_1.0_128.tflite", b"<html>not found</html>")], "not a tflite file"),
    }
    for (alpha, res), (members, message) in cases.items():
        _tgz(served / f"mobilenet_v1_{alpha}_{res}.tgz", members)
        proc = mobiledeploy("weights", "fetch", "--alpha", alpha, "--res", res, "--kind", "tflite", env=env)
        assert_one_line_error(proc, message)
    (served / "mobilenet_v1_0.25_160.tgz").write_bytes(b"<html>a captive portal</html>")
    assert_one_line_error(mobiledeploy("weights", "fetch", "--alpha", "0.25", "--res", "160", "--kind", "tflite",
                                       env=env), "not a readable .tgz")
    cache = tmp_path / "keras" / "models"
    assert list(cache.iterdir()) == [] and not (tmp_path / "escape").exists()


def test_fetch_caps_the_download_and_what_it_unpacks(weights_server, tmp_path, monkeypatch):
    """The caps, made small in this process: a download larger than any MobileNet archive and an archive that
    unpacks to more than the cap (a gzip bomb's shape) stop with one error and leave nothing."""
    from mobiledeploy.errors import MobiledeployError
    from mobiledeploy.sweep import catalog

    import pytest

    served, url = weights_server
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("MOBILEDEPLOY_WEIGHTS_URL", url)
    _tgz(served / "mobilenet_v1_0.5_160.tgz", _google_layout("mobilenet_v1_0.5_160", _tflite_bytes()))
    monkeypatch.setattr(catalog, "MAX_DOWNLOAD", 100)
    with pytest.raises(MobiledeployError, match="more than any MobileNet archive"):
        catalog.fetch("mobilenet_v1", 0.5, 160, "tflite")
    monkeypatch.setattr(catalog, "MAX_DOWNLOAD", 1 << 30)
    _tgz(served / "mobilenet_v1_0.5_192.tgz", [("./padding.bin", bytes(4 << 20)),
                                               ("./mobilenet_v1_0.5_192.tflite", _tflite_bytes())])
    monkeypatch.setattr(catalog, "MAX_UNPACKED", 1 << 20)
    with pytest.raises(MobiledeployError, match="unpacks to more than"):
        catalog.fetch("mobilenet_v1", 0.5, 192, "tflite")
    cache = tmp_path / "keras" / "models"
    assert list(cache.iterdir()) == []
