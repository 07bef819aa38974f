"""Stores written by every earlier version still read, and pick gives the answer those versions gave.

tests/data/stores/ holds real store lines, each file written by the mobiledeploy of one commit (its README says
how): two tiny artifacts benched on a 2-core x86-64 machine, then `pick` run by that same version at five
budgets, its answers kept in answers.json. Format 0 is before the measurement protocol (one runner process, no
interval), format 1 the protocol's flat keys (early and late). Format 2, this version's, is read back from what
this version writes (the round trip below).
"""
import json
from pathlib import Path

import pytest

from conftest import mobiledeploy
from mobiledeploy.bench.record import RECORD_FORMAT, BenchRecord
from mobiledeploy.sweep import rows
from mobiledeploy.sweep.pick import choose

STORES = Path(__file__).resolve().parent.parent / "data" / "stores"
ANSWERS = json.loads((STORES / "answers.json").read_text())


def lines(name: str) -> list[dict]:
    return [json.loads(x) for x in (STORES / f"{name}.jsonl").read_text().splitlines() if x.strip()]


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_every_line_of_an_earlier_format_reads_and_round_trips(name):
    docs = lines(name)
    records = [BenchRecord.from_dict(d) for d in docs]
    assert len(records) == 4 and {r.record_format for r in records} == {ANSWERS[name]["format"]}
    for d, r in zip(docs, records):
        assert r.median_ms == d.get("median_ms", r.median_ms) and r.p90_ms == d.get("p90_ms", r.p90_ms)
        m = r.measurement
        assert m.median.lower <= m.median.value <= m.median.upper
        if ANSWERS[name]["format"] == 0:   # before the protocol: one process, no interval, a CV verdict
            assert m.processes == 1 and not m.median.has_interval and "before the protocol" in m.verdict.reason
        else:
            assert m.median.has_interval and m.confidence == d.get("confidence", 0.95) and m.processes >= 3
        again = BenchRecord.from_dict(json.loads(json.dumps(r.to_dict())))   # written in this format, read back
        assert again.record_format == RECORD_FORMAT and again.measurement == m and again.device_facts == r.device_facts


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_pick_gives_the_answer_the_version_that_wrote_the_store_gave(name):
    records = [BenchRecord.from_dict(d) for d in lines(name)]
    report = rows.build(records, {}, ["local"])
    for answer in ANSWERS[name]["answers"]:
        c = choose(report.rows, answer["budget_ms"])
        assert (c.chosen.label if c.chosen else None) == answer["chosen"], answer
        if answer["decided"] is not None:   # versions before the protocol had no notion of it
            assert c.decided == answer["decided"] and [r.label for r in c.contenders] == answer["contenders"]


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_pick_gives_the_same_answers_after_the_store_imported_the_old_file(name, tmp_path, monkeypatch):
    """The old results.jsonl in the home, imported on first use into results.db: the records read back from the
    database give the answers that version gave (and the records equal the lines read directly)."""
    from mobiledeploy.bench import store

    home = tmp_path / "home"
    home.mkdir()
    (home / "results.jsonl").write_text((STORES / f"{name}.jsonl").read_text())
    monkeypatch.setenv("MOBILEDEPLOY_HOME", str(home))
    records = store.history(latencies=True)
    assert not (home / "results.jsonl").exists() and (home / "results.db").exists()
    direct = [BenchRecord.from_dict(d) for d in lines(name)]
    assert [r.measurement for r in records] == [r.measurement for r in direct]
    assert [r.latencies_ms for r in records] == [r.latencies_ms for r in direct]
    report = rows.build(store.history("local"), {}, ["local"])
    for answer in ANSWERS[name]["answers"]:
        c = choose(report.rows, answer["budget_ms"])
        assert (c.chosen.label if c.chosen else None) == answer["chosen"], answer
        if answer["decided"] is not None:
            assert c.decided == answer["decided"] and [r.label for r in c.contenders] == answer["contenders"]


def test_hostile_and_newer_lines_are_skipped_with_one_warning(tmp_path):
    """A 400-digit integer, a family this version does not know, a newer record format, a p90 outside its own
    interval: each costs its own line, with one warning naming the store; the rest reads."""
    good = lines("format1-07454a1")
    hostile = [{**good[0], "median_ms": 10 ** 400}, {**good[1], "model": {**good[1]["model"], "architecture":
                                                                            "mobilenet_v3"}},
               {**good[2], "record_format": RECORD_FORMAT + 1}, {**good[3], "p90_ci_ms": [good[3]["p90_ms"] * 2,
                                                                                       good[3]["p90_ms"] * 3]},
               {**good[0], "size": 10 ** 400}, {**good[0], "model": {**good[0]["model"], "alpha": 1e-300}}]
    home = tmp_path / "home"
    home.mkdir()
    (home / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in good + hostile))
    proc = mobiledeploy("bench", "--history", "--device", "all", "--json", env={"MOBILEDEPLOY_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["results"]) == len(good)
    warnings = [x for x in proc.stderr.splitlines() if "skipped" in x]
    assert len(warnings) == 1 and f"skipped {len(hostile)} lines" in warnings[0] and "results.jsonl" in warnings[0]


def test_a_session_outcome_crosses_a_process_boundary():
    """What a bench session returns is plain typed data: it pickles and comes back equal (a lab worker sends it)."""
    import pickle

    from mobiledeploy.bench.session import Outcome

    records = [BenchRecord.from_dict(d) for d in lines("format1-07454a1")]
    back = pickle.loads(pickle.dumps(Outcome("local", "/m", records, ["x: failed"])))
    assert back.records == records and back.errors == ["x: failed"] and back.to_dict() == Outcome(
        "local", "/m", records, ["x: failed"]).to_dict()
