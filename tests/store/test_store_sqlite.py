"""The default results store, SQLite in the home: the stores of earlier versions imported once, writers at once,
SIGKILL mid-write, a corrupt file, a full disk, a newer schema, and the `results` commands."""
import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import assert_one_line_error, mobiledeploy
from stored import stored

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "stores"
WRITER = Path(__file__).with_name("writer.py")
OLD = sorted(FIXTURES.glob("*.jsonl"))


def _old_lines() -> list[str]:
    return [x for f in OLD for x in f.read_text().splitlines() if x.strip()]


def test_an_old_store_is_imported_once_and_kept(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "results.jsonl").write_text("\n".join(_old_lines()) + "\n")
    (home / "accuracy.jsonl").write_text(json.dumps({"sha256": "ab" * 32, "top1": 0.5, "data": "/d"}) + "\nnot json\n")
    env = {"MOBILEDEPLOY_HOME": str(home)}
    first = mobiledeploy("bench", "--history", "--device", "all", "--json", env=env, check=True)
    told = [x for x in first.stderr.splitlines() if "imported" in x]
    assert len(told) == 2 and f"imported {len(_old_lines())} of {len(_old_lines())} results" in told[0]
    assert "results.jsonl.imported" in told[0]
    assert not (home / "results.jsonl").exists() and (home / "results.jsonl.imported").read_text().strip()
    assert len(json.loads(first.stdout)["results"]) == len(_old_lines())
    again = mobiledeploy("bench", "--history", "--device", "all", "--json", env=env, check=True)
    assert "imported" not in again.stderr and again.stdout == first.stdout
    # importing the same file again (by hand, or an old version wrote it again) adds nothing
    got = json.loads(mobiledeploy("results", "import", home / "results.jsonl.imported", "--json", env=env,
                                  check=True).stdout)
    assert got["added"] == 0 and got["known"] == len(_old_lines())
    (home / "results.jsonl").write_text((home / "results.jsonl.imported").read_text())
    mobiledeploy("results", "list", env=env, check=True)
    assert len(stored(home)) == len(_old_lines()) and (home / "results.jsonl.imported.2").exists()
    con = sqlite3.connect(home / "results.db")
    assert con.execute("SELECT count(*) FROM accuracy").fetchone()[0] == 1
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_writers_at_once_lose_nothing(tmp_path):
    env = {**os.environ, "MOBILEDEPLOY_HOME": str(tmp_path / "home")}
    procs = [subprocess.Popen([sys.executable, WRITER, OLD[0], str(tag), "25", "0"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for tag in range(4)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    kept = stored(tmp_path / "home")
    assert len(kept) == 100 and len({r["file"] for r in kept}) == 100


def test_sigkill_mid_write_leaves_whole_results_only(tmp_path):
    """Results of 300,000 latencies each (a write of a few MB): killed while writing, the store holds whole
    results only, the one cut short is absent, and the next writer goes on."""
    env = {**os.environ, "MOBILEDEPLOY_HOME": str(tmp_path / "home")}
    for attempt in range(3):
        writer = subprocess.Popen([sys.executable, WRITER, OLD[0], str(attempt), "1000", "0", "300000"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        printed = 0
        for _ in range(2 + attempt):
            printed += bool(writer.stdout.readline())
        writer.send_signal(signal.SIGKILL)
        rest = writer.stdout.read()
        writer.wait()
        printed += len(rest.split())
        kept = stored(tmp_path / "home")
        mine = [r for r in kept if r["file"].startswith(f"w{attempt}-")]
        assert printed <= len(mine) <= printed + 1          # a commit may land before its line is printed
        assert all(len(r["latencies_ms"]) == 300000 for r in kept)
    con = sqlite3.connect(tmp_path / "home" / "results.db")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_corrupt_store_is_one_line_and_left_as_it_is(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "results.db").write_bytes(b"this is not a database, it was a text editor's save\n" * 100)
    before = (home / "results.db").read_bytes()
    for args in (("bench", "--history"), ("results", "list"), ("pick", "--device", "local", "--budget-ms", "5")):
        proc = mobiledeploy(*args, env={"MOBILEDEPLOY_HOME": str(home)})
        assert proc.returncode == 2, args
        assert_one_line_error(proc, "not a readable SQLite database", "move it away")
    assert (home / "results.db").read_bytes() == before


def test_a_newer_schema_is_refused(tmp_path):
    env = {"MOBILEDEPLOY_HOME": str(tmp_path / "home")}
    mobiledeploy("results", "import", OLD[0], env=env, check=True)
    con = sqlite3.connect(tmp_path / "home" / "results.db")
    con.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    proc = mobiledeploy("results", "list", env=env)
    assert proc.returncode == 2
    assert_one_line_error(proc, "schema version 7", "upgrade mobiledeploy")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs (a full disk) needs root")
def test_a_full_disk_is_one_line_and_loses_what_was_stored(tmp_path):
    mnt = Path(tempfile.mkdtemp(prefix="md-full-"))
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt], capture_output=True).returncode:
        pytest.skip("mount -t tmpfs is not allowed here")
    try:
        env = {"MOBILEDEPLOY_HOME": str(mnt / "home")}
        mobiledeploy("results", "import", OLD[0], env=env, check=True)
        base = json.loads(OLD[0].read_text().splitlines()[0])
        big = tmp_path / "big.jsonl"
        big.write_text("".join(json.dumps(dict(base, file=f"big{i}.tflite", latencies_ms=[1.5] * 100000)) + "\n"
                               for i in range(8)))
        proc = mobiledeploy("results", "import", big, env=env)
        assert proc.returncode == 2
        assert_one_line_error(proc, "disk is full", "free space")
        doc = json.loads(mobiledeploy("results", "list", "--json", env=env, check=True).stdout)
        assert len(doc["results"]) == len(OLD[0].read_text().splitlines())   # the import was all or nothing
    finally:
        subprocess.run(["umount", "-l", mnt])
        mnt.rmdir()


@pytest.mark.skipif(os.geteuid() != 0, reason="a read-only bind mount needs root")
def test_a_read_only_store_is_one_line_and_untouched(tmp_path):
    home = tmp_path / "home"
    env = {"MOBILEDEPLOY_HOME": str(home)}
    mobiledeploy("results", "import", OLD[0], env=env, check=True)
    before = (home / "results.db").read_bytes()
    if subprocess.run(["mount", "--bind", home, home], capture_output=True).returncode:
        pytest.skip("bind mounts are not allowed here")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", home], check=True)
        for args in (("results", "import", OLD[1]), ("results", "list")):
            proc = mobiledeploy(*args, env=env)
            assert proc.returncode == 2, args
            assert_one_line_error(proc, str(home / "results.db"), "writable")
    finally:
        subprocess.run(["umount", "-l", home])
    assert (home / "results.db").read_bytes() == before


def test_results_commands_list_export_import_prune(tmp_path):
    env = {"MOBILEDEPLOY_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    lines = _old_lines()
    hostile = dict(json.loads(lines[0]), device="=HYPERLINK(\"http://x\")", artifact_name="<script>x</script>")
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines + [json.dumps(hostile)]) + "\n")
    got = json.loads(mobiledeploy("results", "import", src, "--json", env=env, check=True).stdout)
    assert got["added"] == len(lines) + 1 and got["skipped"] == 0
    table = mobiledeploy("results", "list", "--device", "local", env=env, check=True).stdout
    assert f"{len(lines)} results in" in table and "p90 ms" in table and "HYPERLINK" not in table
    since = json.loads(mobiledeploy("results", "list", "--since", "2100-01-01", "--json", env=env, check=True).stdout)
    assert since["results"] == []
    # csv: one row a result, a cell that would be a spreadsheet formula is text
    mobiledeploy("results", "export", "--format", "csv", "--out", tmp_path / "r.csv", env=env, check=True)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text())))
    assert len(rows) == len(lines) + 1 and any(r["device"] == "'=HYPERLINK(\"http://x\")" for r in rows)
    # jsonl and json round trip into another home: the same records
    for fmt in ("jsonl", "json"):
        out = tmp_path / f"r.{fmt}"
        mobiledeploy("results", "export", "--format", fmt, "--out", out, env=env, check=True)
        other = {"MOBILEDEPLOY_HOME": str(tmp_path / f"other-{fmt}")}
        got = json.loads(mobiledeploy("results", "import", out, "--json", env=other, check=True).stdout)
        assert got["added"] == len(lines) + 1
        assert stored(tmp_path / f"other-{fmt}") == stored(tmp_path / "home")
    # an export never replaces what is not a regular file
    os.mkfifo(tmp_path / "fifo")
    proc = mobiledeploy("results", "export", "--out", tmp_path / "fifo", env=env)
    assert proc.returncode == 2 and "fifo" in proc.stderr.lower()
    # prune: a dry run deletes nothing; a filter is required
    assert mobiledeploy("results", "prune", env=env).returncode == 2
    dry = json.loads(mobiledeploy("results", "prune", "--device", "=HYPERLINK(\"http://x\")", "--dry-run", "--json",
                                  env=env, check=True).stdout)
    assert dry == {"pruned": 1, "dry_run": True} and len(stored(tmp_path / "home")) == len(lines) + 1
    mobiledeploy("results", "prune", "--device", "=HYPERLINK(\"http://x\")", env=env, check=True)
    assert len(stored(tmp_path / "home")) == len(lines)
    # a file that holds no record is refused, nothing stored
    (tmp_path / "junk.jsonl").write_text("nothing here\n")
    proc = mobiledeploy("results", "import", tmp_path / "junk.jsonl", env=env)
    assert proc.returncode == 2 and "holds no bench record" in proc.stderr


def test_the_store_setting_order(tmp_path):
    """--store beats MOBILEDEPLOY_STORE, which beats [store] url in mobiledeploy.toml, which beats the home."""
    (tmp_path / "mobiledeploy.toml").write_text(f'[store]\nurl = "sqlite:///{tmp_path}/file.db"\n')
    base = {"MOBILEDEPLOY_HOME": str(tmp_path / "home")}
    where = lambda *a, env=base: json.loads(mobiledeploy(*a, "results", "list", "--json", env=env, cwd=tmp_path,  # noqa: E731
                                                         check=True).stdout)["store"]
    assert where() == f"{tmp_path}/file.db"
    assert where(env={**base, "MOBILEDEPLOY_STORE": str(tmp_path / "env.db")}) == f"{tmp_path}/env.db"
    assert where("--store", f"sqlite:///{tmp_path}/cli.db",
                 env={**base, "MOBILEDEPLOY_STORE": str(tmp_path / "env.db")}) == f"{tmp_path}/cli.db"
    (tmp_path / "mobiledeploy.toml").write_text('[store]\nurl = 5\n')
    proc = mobiledeploy("results", "list", env=base, cwd=tmp_path)
    assert proc.returncode == 2 and "[store] url" in proc.stderr
