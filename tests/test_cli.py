"""One CLI vocabulary: list options are plural (old spellings kept where a user would break), --json is one object, exit codes
are documented, and a settings file supplies defaults that the command line overrides."""
import json

import pytest

from conftest import assert_one_line_error, mobiledeploy, shared


def test_help_documents_exit_codes_and_settings():
    text = mobiledeploy("--help", check=True).stdout
    for fragment in ("0 ok", "1 unexpected", "2 user error", "130 interrupted", "mobiledeploy.toml"):
        assert fragment in text


def test_shims_of_the_last_release_are_gone_and_say_so(tiny_artifact, tmp_path):
    """predict --top and testvectors --images were kept for one release (0.1); now one line names the option."""
    image = shared("images", "parrot.jpg")
    out = mobiledeploy("predict", tiny_artifact, image, "--top-k", "2", "--json", check=True)
    assert len(json.loads(out.stdout)["images"][0]["top"]) == 2
    assert_one_line_error(mobiledeploy("predict", tiny_artifact, image, "--top", "2"), "--top")
    images = shared("images")
    a = json.loads(mobiledeploy("testvectors", tiny_artifact, "--data", images, "--out", tmp_path / "a", "--json",
                                check=True).stdout)
    assert len(a["folders"]) == 2
    assert_one_line_error(mobiledeploy("testvectors", tiny_artifact, "--images", images, "--out", tmp_path / "b"),
                          "--images")
    assert_one_line_error(mobiledeploy("testvectors", tiny_artifact, "--out", tmp_path / "c"), "--data")


def test_list_options_are_plural_and_keep_the_old_spelling(tmp_path):
    """--precisions is a list in export and sweep; --precision (the old spelling) still works there."""
    for command in ("export", "sweep"):
        text = mobiledeploy(command, "--help", check=True).stdout
        assert "--precisions" in text, command
    assert_one_line_error(mobiledeploy("export", "--precision", "fp3", "--out", tmp_path), "did you mean fp32")
    assert_one_line_error(mobiledeploy("export", "--precisions", "fp3", "--out", tmp_path), "did you mean fp32")


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
    ("info = 3\n", "is not a table"),
    ('[info]\nalpha = "wide"\n', "alpha must be a number"),
    ("[bench]\nruns = 2.9\n", "runs = '2.9' is not a whole number"),      # click would cut it to 2
    ('[pick]\naccuracy = "both"\n', "[pick] accuracy"),
])
def test_bad_settings_file_is_one_line(tmp_path, text, fragment):
    (tmp_path / "mobiledeploy.toml").write_text(text)
    line = assert_one_line_error(mobiledeploy("info", cwd=tmp_path), fragment)
    if "=" in text and "[info\n" not in text and "info = 3" not in text and "nosuch" not in text:
        assert "mobiledeploy.toml" in line   # the value's file is named, not the command line


def test_eta_from_the_pace_so_far():
    from mobiledeploy.progress import eta

    assert eta(1, 4, 10.0) == ", about 30 s left" and eta(1, 20, 60.0) == ", about 19 min left"
    assert eta(0, 4, 10.0) == "" and eta(4, 4, 10.0) == ""   # nothing to go on, nothing left


def test_csv_tables_hold_one_value_per_cell(tmp_path):
    """--csv where a table is printed: bench --history on a real stored store, one row per result, the same
    figures as --json; nested objects and intervals flattened to one value a cell."""
    import csv
    import io
    import json
    from pathlib import Path

    from mobiledeploy.cli.common import emit_csv

    home = tmp_path / "home"
    home.mkdir()
    store = Path(__file__).parent / "data" / "stores" / "format1-07454a1.jsonl"
    (home / "results.jsonl").write_text(store.read_text())
    env = {"MOBILEDEPLOY_HOME": str(home)}
    rows = list(csv.DictReader(io.StringIO(mobiledeploy("bench", "--history", "--device", "all", "--csv", env=env,
                                                        check=True).stdout)))
    doc = json.loads(mobiledeploy("bench", "--history", "--device", "all", "--json", env=env, check=True).stdout)
    assert len(rows) == len(doc["results"]) == 4
    for row, rec in zip(rows, doc["results"]):
        p90 = rec["measurement"]["p90"]
        assert float(row["p90_ms"]) == p90["ms"] and float(row["p90_high"]) == p90["high"]
        assert row["file"] == rec["file"] and row["verdict"] in ("stable", "unstable")
    import contextlib

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        emit_csv([{"label": "a", "p90_ci_ms": [1.0, 2.0], "int8_drop": None},
                  {"label": "b", "p90_ci_ms": None, "int8_drop": {"drop": 0.01, "high": 0.02}}])
    got = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert got[0]["p90_ci_ms_high"] == "2.0" and got[0]["int8_drop_drop"] == "" and got[1]["int8_drop_high"] == "0.02"
