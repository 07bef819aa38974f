"""The page's data: pick's answers precomputed per budget are pick's own at every budget, the filters, each
file's history between runs, devices side by side. Pure: typed records in, typed page out."""
import datetime as dt
import random

import pytest

from report_records import record
from mobiledeploy.errors import MobiledeployError
from mobiledeploy.report import budgets, data, filters
from mobiledeploy.sweep import rows
from mobiledeploy.sweep.pick import choose


def _store():
    """rpi4: eight variants, two thread counts, one measured while busy, one file measured in two runs."""
    out = []
    for i, (alpha, res, prec, p90) in enumerate([(0.25, 128, "fp32", 5.0), (0.25, 128, "int8", 3.1),
                                                 (0.5, 128, "fp32", 12.0), (0.5, 128, "int8", 7.0),
                                                 (0.5, 160, "fp32", 17.0), (0.75, 160, "int8", 14.0)]):
        out.append(record("rpi4", alpha, res, prec, p90, half=0.02 + 0.01 * i))
        out.append(record("rpi4", alpha, res, prec, p90 * 0.62, threads=2, half=0.04,
                          busy=0.6 if i == 3 else None))
    out.append(record("rpi4", 0.25, 128, "fp32", 5.4, time="2025-01-09T10:00:00+00:00"))
    out.append(record("pixel", 0.25, 128, "fp32", 2.0))
    out.append(record("pixel", 0.5, 128, "int8", 2.5, arch="mobilenet_v2"))
    return out


def _same(step, choice, budget):
    shown = (step.chosen["label"], step.chosen["threads"]) if step.chosen else None
    assert shown == ((choice.chosen.label, choice.chosen.threads) if choice.chosen else None), budget
    assert step.decided == choice.decided
    assert [c["label"] for c in step.contenders] == [r.label for r in choice.contenders]
    assert [n["label"] for n in step.noisy] == [r.label for r in choice.noisy]
    assert step.why_at(budget) == choice.why


def test_the_precomputed_answer_is_picks_at_every_budget():
    """At every bound, just below and above it, and at 300 budgets between: the step the page shows for a budget
    is what sweep/pick.py's choose answers for it, reason text included."""
    records = _store()
    report = rows.build(records, {}, ["rpi4"])
    table = budgets.steps(report.rows)
    points = budgets.break_points(report.rows)
    assert len(table) >= 5 and table[0].from_ms == 0 and table[0].chosen is None
    rng = random.Random(3)
    tries = [b * f for b in points for f in (1 - 1e-9, 1, 1 + 1e-9)] + \
        [rng.uniform(points[0] / 3, points[-1] * 3) for _ in range(300)]
    for b in tries:
        _same(budgets.lookup(table, b), choose(report.rows, b), b)


def test_answers_change_only_at_steps_and_name_the_chosen_point():
    records = _store()
    page = data.build(records, {}, filters.Filters())
    rpi = next(d for d in page.devices if d.device == "rpi4")
    labels = [s.chosen["label"] if s.chosen else None for s in rpi.steps]
    assert labels[0] is None and labels[-1] is not None
    keys = {budgets.row_key(r) for r in rpi.rows}
    assert all(s.chosen["key"] in keys for s in rpi.steps if s.chosen)
    assert all(a.answer() != b.answer() for a, b in zip(rpi.steps, rpi.steps[1:]))


def test_every_measured_variant_is_a_row_and_not_quiet_ones_are_marked():
    page = data.build(_store(), {}, filters.Filters())
    rpi = next(d for d in page.devices if d.device == "rpi4")
    assert len(rpi.rows) == 12 and rpi.results == 13
    assert [r.label for r in rpi.not_quiet] == ["a0.5-128-int8"] and "60%" in rpi.not_quiet[0].noise


def test_history_states_the_change_between_runs():
    page = data.build(_store(), {}, filters.Filters())
    rpi = next(d for d in page.devices if d.device == "rpi4")
    twice = [h for h in rpi.histories if len(h.runs) == 2]
    assert len(twice) == 1 and twice[0].label == "a0.25-128-fp32" and twice[0].threads == 1
    first, second = twice[0].runs
    assert first.change is None and second.change == pytest.approx(0.08)
    # 8% apart with +-2% intervals and no drift known: beyond what the first run said another run would measure
    assert second.beyond is True


def test_devices_side_by_side_for_the_same_variant():
    page = data.build(_store(), {}, filters.Filters())
    side = page.side_by_side()
    assert [(s["label"], s["threads"], sorted(s["devices"])) for s in side] == \
        [("a0.25-128-fp32", 1, ["pixel", "rpi4"])]
    summary = page.summary()
    assert summary["side_by_side"] == [{"label": "a0.25-128-fp32", "threads": 1, "devices": ["pixel", "rpi4"]}]


def test_filters(tmp_path):
    records = _store() + [record("rpi4", 0.25, 128, "fp32", 5.0, artifact=str(tmp_path / "sweep" / "a"))]
    keep = lambda f: [r for r in records if filters.keep(r, f)]  # noqa: E731
    assert {r.device for r in keep(filters.make(devices="pixel"))} == {"pixel"}
    assert {r.model.architecture for r in keep(filters.make(families=["mobilenet_v2"]))} == {"mobilenet_v2"}
    (tmp_path / "sweep").mkdir()
    assert len(keep(filters.make(within=tmp_path / "sweep"))) == 1
    assert len(keep(filters.make(artifacts=[tmp_path / "sweep" / "a"]))) == 1
    assert len(keep(filters.make(since="2025-01-05"))) == 1
    now = dt.datetime(2025, 1, 9, 12, tzinfo=dt.timezone.utc)
    assert filters.parse_since("3h", now) == dt.datetime(2025, 1, 9, 9, tzinfo=dt.timezone.utc)
    assert filters.parse_since("2025-01-09T12:00+02:00") == dt.datetime(2025, 1, 9, 10, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("kwargs, words", [({"since": "yesterday"}, ["--since", "age"]),
                                           ({"families": "mobilenet_v3"}, ["--family", "mobilenet_v1"]),
                                           ({"within": "/no/such/folder"}, ["--within", "not a folder"])])
def test_bad_filters_are_one_line(kwargs, words):
    with pytest.raises(MobiledeployError) as err:
        filters.make(**kwargs)
    assert all(w in str(err.value) for w in words) and "\n" not in str(err.value)
