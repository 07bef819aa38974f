"""`[lab] scheduler` and `certs` in mobiledeploy.toml: the defaults of `lab status|worker` ADDRESS and --certs and of
sweep's --lab and --lab-certs, against the real lab of labkit; the command line wins; a bad table is one line."""
from __future__ import annotations

import json

from conftest import assert_one_line_error, mobiledeploy
from labkit import board_server, certs, lab  # noqa: F401 - fixtures


def settings(folder, text: str):
    folder.mkdir(exist_ok=True)
    (folder / "mobiledeploy.toml").write_text(text)
    return folder


def test_lab_table_names_the_lab_for_status_and_sweep(lab, tmp_path):  # noqa: F811
    here = settings(tmp_path / "project", f'[lab]\nscheduler = "{lab.address}"\ncerts = "{lab.certs / "alice"}"\n')
    env = {"MOBILEDEPLOY_HOME": str(lab.client_home)}
    doc = json.loads(mobiledeploy("lab", "status", "--json", cwd=here, env=env, check=True).stdout)
    assert {w["host"] for w in doc["workers"]} >= {"desk1", "desk2"}
    # a sweep goes to the lab without --lab: the lab's own answer for a device it lacks
    proc = mobiledeploy("sweep", "--device", "nosuch", "--out", tmp_path / "s", cwd=here, env=env)
    assert_one_line_error(proc, f"no worker of the lab at {lab.address}", "board1, board2")
    # --lab '' sweeps on this host only (the configured certificates are then left unused)
    proc = mobiledeploy("sweep", "--lab", "", "--device", "nosuch", "--out", tmp_path / "s", cwd=here, env=env)
    line = assert_one_line_error(proc, "nosuch")
    assert "lab" not in line and "--lab-certs" not in line
    # the command line wins over the file
    proc = mobiledeploy("lab", "status", "tcp://192.0.2.1:8786", cwd=here, env=env)
    assert_one_line_error(proc, "plain tcp:// on a network address")


def test_a_bad_lab_table_is_one_line_naming_the_file(tmp_path):
    cases = {'[lab]\nschedular = "tls://x:8786"\n': ["[lab]", "schedular", "did you mean scheduler"],
             '[lab]\nscheduler = 8786\n': ["[lab] scheduler", "not a text"],
             '[lab]\nscheduler = "tcp://192.0.2.1:8786"\n': ["[lab] scheduler", "plain tcp://"],
             'lab = "tls://x:8786"\n': ["not a table"]}
    for i, (text, fragments) in enumerate(cases.items()):
        here = settings(tmp_path / f"p{i}", text)
        proc = mobiledeploy("lab", "status", cwd=here)
        assert proc.returncode == 2
        assert_one_line_error(proc, "mobiledeploy.toml", *fragments)
        # every command reads the file, so every command says so (not only the lab's)
        assert_one_line_error(mobiledeploy("devices", "list", cwd=here), "[lab]" if "[lab]" in text else "lab")


def test_without_an_address_anywhere(tmp_path):
    proc = mobiledeploy("lab", "status", cwd=tmp_path)
    assert_one_line_error(proc, "ADDRESS", "[lab]")
