"""One CLI vocabulary: renamed options keep their old spelling for a release, --json is one object, exit codes
are documented, and a settings file supplies defaults that the command line overrides."""
import json

import pytest

from conftest import assert_one_line_error, mobiledeploy, shared


def test_help_documents_exit_codes_and_settings():
    text = mobiledeploy("--help", check=True).stdout
    for fragment in ("0 ok", "1 unexpected", "2 user error", "130 interrupted", "mobiledeploy.toml"):
        assert fragment in text


@pytest.mark.parametrize("new,old", [("--top-k", "--top")])
def test_renamed_predict_option_keeps_old_spelling(tiny_artifact, new, old):
    image = shared("images", "parrot.jpg")
    new_out = mobiledeploy("predict", tiny_artifact, image, new, "2", "--json", check=True)
    old_out = mobiledeploy("predict", tiny_artifact, image, old, "2", "--json", check=True)
    assert len(json.loads(new_out.stdout)["images"][0]["top"]) == 2
    assert json.loads(old_out.stdout) == json.loads(new_out.stdout)
    assert f"{old} is renamed {new}" in old_out.stderr and "warning" not in new_out.stderr
    assert old not in mobiledeploy("predict", "--help", check=True).stdout.replace(new, "")


def test_testvectors_data_and_old_images_spelling(tiny_artifact, tmp_path):
    images = shared("images")
    a = json.loads(mobiledeploy("testvectors", tiny_artifact, "--data", images, "--out", tmp_path / "a", "--json",
                                check=True).stdout)
    proc = mobiledeploy("testvectors", tiny_artifact, "--images", images, "--out", tmp_path / "b", "--json", check=True)
    assert "--images is renamed --data" in proc.stderr
    assert len(a["folders"]) == len(json.loads(proc.stdout)["folders"]) == 2
    assert_one_line_error(mobiledeploy("testvectors", tiny_artifact, "--out", tmp_path / "c"), "--data")


def test_json_is_one_object_for_every_command(tiny_artifact, tmp_path):
    env = {"MOBILEDEPLOY_HOME": str(tmp_path / "home")}
    image = shared("images", "parrot.jpg")
    runs = [("info", "--alpha", "0.25", "--res", "32"), ("predict", tiny_artifact, image),
            ("bench", tiny_artifact, "--runs", "2", "--warmup", "0"),
            ("bench", tiny_artifact, "--file", "model_int8.tflite", "--runs", "2", "--warmup", "0"),
            ("bench", "--history"), ("devices", "list")]
    for args in runs:
        doc = json.loads(mobiledeploy(*args, "--json", env=env, check=True).stdout)
        assert isinstance(doc, dict), args
    assert len(json.loads(mobiledeploy("bench", "--history", "--json", env=env).stdout)["results"]) == 3


def test_settings_file_gives_defaults_the_command_line_overrides(tmp_path):
    (tmp_path / "mobiledeploy.toml").write_text("[info]\nalpha = 0.5\nres = 128\n")
    from mobiledeploy.model.cost import summary

    got = json.loads(mobiledeploy("info", "--json", cwd=tmp_path, check=True).stdout)["macs"]
    assert got == summary(0.5, 128)["macs"]
    got = json.loads(mobiledeploy("info", "--res", "160", "--json", cwd=tmp_path, check=True).stdout)["macs"]
    assert got == summary(0.5, 160)["macs"]


@pytest.mark.faults
@pytest.mark.parametrize("text,fragment", [
    ("[info]\nalpah = 0.5\n", "no option 'alpah'"),
    ("[info\n", "not valid toml"),
    ("[nosuch]\nx = 1\n", "not a mobiledeploy command"),
    ("info = 3\n", "not a mobiledeploy command"),
    ('[info]\nalpha = "wide"\n', "alpha must be a number"),
])
def test_bad_settings_file_is_one_line(tmp_path, text, fragment):
    (tmp_path / "mobiledeploy.toml").write_text(text)
    assert_one_line_error(mobiledeploy("info", cwd=tmp_path), fragment)
