"""The results store on a real PostgreSQL server (tests/pg.py: initdb in a temporary folder, loopback port):
schema creation, the login the libpq way, concurrent writers, the server stopped under a writer, a newer schema,
and the same answers as on SQLite."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pg
from conftest import assert_one_line_error, mobiledeploy, wait_for

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "stores"
WRITER = Path(__file__).with_name("writer.py")
pytestmark = pytest.mark.skipif(pg.missing() is not None, reason=str(pg.missing()))


@pytest.fixture(scope="module")
def server():
    s = pg.Postgres()
    yield s
    s.close()


def _env(tmp_path, url, password=pg.PASSWORD):
    env = {"MOBILEDEPLOY_HOME": str(tmp_path / "home"), "MOBILEDEPLOY_STORE": url, "PGPASSFILE": "/nonexistent"}
    if password is not None:
        env["PGPASSWORD"] = password
    return env


def _count(server, db):
    return int(server.sql(db, "SELECT count(*) FROM results").strip())


def test_a_database_without_the_schema_is_refused_until_init(server, tmp_path):
    url = server.new_db("noschema")
    env = _env(tmp_path, url)
    proc = mobiledeploy("results", "list", env=env)
    assert proc.returncode == 2
    assert_one_line_error(proc, "no mobiledeploy schema", "mobiledeploy results init")
    done = mobiledeploy("results", "init", env=env, check=True).stdout
    assert "created the mobiledeploy schema" in done and pg.PASSWORD not in done
    assert "already has" in mobiledeploy("results", "init", env=env, check=True).stdout
    doc = json.loads(mobiledeploy("results", "list", "--json", env=env, check=True).stdout)
    assert doc["results"] == [] and pg.PASSWORD not in json.dumps(doc)


def test_a_wrong_password_is_one_line_and_never_shown(server, tmp_path):
    url = server.new_db("wrongpw")
    mobiledeploy("results", "init", env=_env(tmp_path, url), check=True)
    proc = mobiledeploy("results", "list", env=_env(tmp_path, url, password="not-the-password"))
    assert proc.returncode == 2
    assert_one_line_error(proc, "refused the login", "pgpass")
    assert "not-the-password" not in proc.stderr + proc.stdout
    # a password written into the URL is never printed either
    leaky = url.replace("md@", "md:hunter2-leak@")
    proc = mobiledeploy("--store", leaky, "results", "list", env=_env(tmp_path, url, password=None))
    assert proc.returncode == 2 and "hunter2-leak" not in proc.stderr + proc.stdout


def test_the_password_file_the_libpq_way(server, tmp_path):
    url = server.new_db("pgpass")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{server.port}:pgpass:md:{pg.PASSWORD}\n")
    passfile.chmod(0o600)
    env = {**_env(tmp_path, url, password=None), "PGPASSFILE": str(passfile)}
    assert "created" in mobiledeploy("results", "init", env=env, check=True).stdout
    got = mobiledeploy("results", "import", FIXTURES / "format1-07454a1.jsonl", "--json", env=env, check=True)
    assert json.loads(got.stdout)["added"] == 4 and pg.PASSWORD not in got.stdout + got.stderr
    assert _count(server, "pgpass") == 4


def test_a_newer_schema_is_refused_and_left_alone(server, tmp_path):
    url = server.new_db("newer")
    env = _env(tmp_path, url)
    mobiledeploy("results", "init", env=env, check=True)
    server.sql("newer", "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    proc = mobiledeploy("results", "list", env=env)
    assert proc.returncode == 2
    assert_one_line_error(proc, "schema version 99", "upgrade mobiledeploy")
    assert server.sql("newer", "SELECT value FROM meta WHERE key = 'schema_version'").strip() == "99"


def test_concurrent_writers_lose_nothing(server, tmp_path):
    url = server.new_db("concurrent")
    env = {**os.environ, **_env(tmp_path, url)}
    mobiledeploy("results", "init", env=env, check=True)
    procs = [subprocess.Popen([sys.executable, WRITER, FIXTURES / "format1-07454a1.jsonl", str(tag), "25", "0"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for tag in range(4)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    assert _count(server, "concurrent") == 100
    assert int(server.sql("concurrent", "SELECT count(DISTINCT file) FROM results").strip()) == 100


def test_the_server_stopped_under_a_writer_loses_nothing(server, tmp_path):
    """Stopped after some results are stored: the writer goes on, keeps the rest in unsent.jsonl and says so;
    the server back, `results send` stores them; every result is there once."""
    url = server.new_db("stopped")
    env = {**os.environ, **_env(tmp_path, url)}
    mobiledeploy("results", "init", env=env, check=True)
    writer = subprocess.Popen([sys.executable, WRITER, FIXTURES / "format1-07454a1.jsonl", "1", "30", "0.1"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _count(server, "stopped") >= 5, timeout=120, what="five stored results")
        server.stop()
        out, err = writer.communicate(timeout=300)
    finally:
        server.start()
    assert writer.returncode == 0, err
    unsent = tmp_path / "home" / "unsent.jsonl"
    assert "unsent.jsonl" in err and "results send" in err and err.count("kept in") == 1, err
    assert unsent.exists() and pg.PASSWORD not in err
    stored_before = _count(server, "stopped")
    doc = json.loads(mobiledeploy("results", "send", "--json", env=env, check=True).stdout)
    assert doc["added"] == 30 - stored_before and not unsent.exists() and Path(doc["kept_as"]).exists()
    assert _count(server, "stopped") == 30
    assert int(server.sql("stopped", "SELECT count(DISTINCT file) FROM results").strip()) == 30


def test_a_bench_while_the_server_is_down_keeps_its_results(server, tiny_artifact, tmp_path):
    """A real bench with the store's server down: measured, kept locally with one warning, sent later."""
    url = server.new_db("down")
    env = _env(tmp_path, url)
    mobiledeploy("results", "init", env=env, check=True)
    server.stop()
    try:
        proc = mobiledeploy("bench", tiny_artifact, "--file", "model_int8.tflite", "--runs", "5", "--max-seconds",
                            "1", "--json", env=env)
    finally:
        server.start()
    assert proc.returncode == 0, proc.stderr
    assert "unsent.jsonl" in proc.stderr and len(json.loads(proc.stdout)["results"]) == 1
    assert _count(server, "down") == 0
    mobiledeploy("results", "send", env=env, check=True)
    hist = json.loads(mobiledeploy("bench", "--history", "--json", env=env, check=True).stdout)["results"]
    assert len(hist) == 1 and hist[0]["file"] == "model_int8.tflite"


def test_postgres_and_sqlite_give_the_same_history_and_pick(server, tmp_path):
    """Every earlier version's store imported into both: the same records, the same pick answers."""
    from mobiledeploy.bench import store
    from mobiledeploy.sweep import rows
    from mobiledeploy.sweep.pick import choose

    url = server.new_db("same")
    pg_env = _env(tmp_path, url)
    mobiledeploy("results", "init", env=pg_env, check=True)
    lite_env = {"MOBILEDEPLOY_HOME": str(tmp_path / "lite")}
    for f in sorted(FIXTURES.glob("*.jsonl")):
        mobiledeploy("results", "import", f, env=pg_env, check=True)
        mobiledeploy("results", "import", f, env=lite_env, check=True)
    a = json.loads(mobiledeploy("bench", "--history", "--device", "all", "--json", env=pg_env, check=True).stdout)
    b = json.loads(mobiledeploy("bench", "--history", "--device", "all", "--json", env=lite_env, check=True).stdout)
    assert a["results"] == b["results"] and len(a["results"]) > 8
    answers = []
    for use in (url, "sqlite:///" + str(tmp_path / "lite" / "results.db")):
        os.environ["PGPASSWORD"] = pg.PASSWORD
        try:
            store.use(use)
            report = rows.build(store.history("local"), {}, ["local"])
            answers.append([getattr(choose(report.rows, b, None).chosen, "label", None) for b in (0.03, 0.06, 0.2, 1)])
        finally:
            store.use(None)
            os.environ.pop("PGPASSWORD", None)
    assert answers[0] == answers[1] and any(answers[0])
