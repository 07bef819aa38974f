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
        for name, data in (("./mobilenet_v1_0.5_128_quant.tflite", b"model"), ("./labels.txt", b"x"),
                           ("../../escape/mobilenet_v1_0.25_128.tflite", b"evil")):
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
