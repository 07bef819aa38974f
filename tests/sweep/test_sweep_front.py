"""The sweep's pure parts on hand-built results: Pareto front, pick, predictor, published labels."""
import json

from conftest import assert_one_line_error, mobiledeploy
from mobiledeploy.sweep import front, grid, predictor, rows
from mobiledeploy.bench.record import BenchRecord
from mobiledeploy.bench.measurement import Estimate
from mobiledeploy.sweep.cells import Cell, Row
from mobiledeploy.sweep.pick import choose
from stored import stored

# (alpha, res, precision, p90 ms): a device where int8 is faster; the published top-1 decides accuracy
HAND = [(0.25, 128, "int8", 1.0), (0.25, 128, "fp32", 2.0), (0.5, 128, "int8", 1.5), (0.5, 128, "fp32", 4.0),
        (1.0, 224, "fp32", 20.0), (0.75, 224, "int8", 8.0)]


def record(alpha, res, precision, p90, device="phone", threads=1, models="/models", sha=None):
    from mobiledeploy.model.cost import summary

    cost = summary(alpha, res)
    sha = sha or f"{alpha}-{res}-{precision}-{device}-{threads}"
    return {"device": device, "artifact": f"{models}/mobilenet_v1_{alpha:.2f}_{res}", "file": f"model_{precision}.tflite",
            "format": "tflite", "precision": precision, "sha256": sha, "size": 1000, "settings": {"threads": threads},
            "artifact_name": f"mobilenet_v1_{alpha:.2f}_{res}", "std_ms": 0.01, "cv": 0.01,
            "median_ms": p90 * 0.9, "p90_ms": p90, "time": "2026-01-01T00:00:00+00:00",
            "model": {"alpha": alpha, "resolution": res, "macs": cost["macs"], "params": cost["params"],
                      "weights": {"kind": "random"}}}


def hand_rows(acc=None):
    return rows.build([BenchRecord.from_dict(record(*h)) for h in HAND], acc or {}, ["phone"]).rows


def test_front_on_hand_built_results():
    off = [r.label for r in hand_rows() if not r.on_front]
    # a0.25-128-fp32 (2.0 ms, 41.5%) is beaten by a0.5-128-int8 (1.5 ms, 54.9%); no other point is beaten
    assert off == ["a0.25-128-fp32"]
    fr = front.pareto(hand_rows())
    assert [r.label for r in fr] == ["a0.25-128-int8", "a0.5-128-int8", "a0.5-128-fp32", "a0.75-224-int8",
                                        "a1.0-224-fp32"]
    assert all(r.top1_source == "published" for r in hand_rows())


def _point(p90, top1):
    return Row("d", Cell(0.5, 128), "int8", 1, None, None, Estimate(p90), Estimate(p90), "measured", top1)


def test_front_ties_and_missing_accuracy():
    pts = [_point(1.0, 0.5), _point(1.0, 0.6), _point(2.0, 0.6), _point(0.5, None), _point(3.0, 0.7)]
    assert front.pareto(pts) == [pts[1], pts[4]]


def test_pick_what_a_reader_would():
    r = hand_rows()
    chosen = choose(r, 5.0).chosen
    assert chosen.label == "a0.5-128-fp32"  # 56.3% is the best published top-1 at p90 <= 5 ms
    chosen = choose(r, 10.0).chosen
    assert chosen.label == "a0.75-224-int8"
    c = choose(r, 0.5)
    chosen, why = c.chosen, c.why
    assert chosen is None and "a0.25-128-int8" in why and "1.00 ms" in why
    chosen = choose(r, 5.0, min_top1=0.6).chosen
    assert chosen is None


def test_measured_and_published_accuracy_are_not_one_scale():
    acc = {"0.5-128-fp32-phone-1": {"top1": 0.40, "n": 300}}
    r = hand_rows(acc)
    measured = [x for x in r if x.label == "a0.5-128-fp32"][0]
    assert measured.top1_source == "measured" and measured.top1 == 0.40
    c = choose(r, 5.0)
    assert c.chosen.label == "a0.5-128-fp32" and c.ranked_by == "measured"   # the one measured, not 54.9% published
    assert choose(r, 5.0, accuracy="published").chosen.label == "a0.5-128-int8"   # asked for: published ones only


def test_predictor_recovers_a_linear_device_and_reports_loo():
    cells = [(a, s) for a in (0.25, 0.5, 0.75, 1.0) for s in (128, 160, 192, 224)]
    feats = [predictor.features(a, s, "fp32") for a, s in cells]
    truth = [0.3 + 0.011 * f["dense_macs"] + 0.04 * f["dw_macs"] for f in feats]
    fit_cells = grid.spanning(cells, 6)
    idx = [cells.index(c) for c in fit_cells]
    model = predictor.fit([feats[i] for i in idx], [truth[i] for i in idx])
    rest = [i for i in range(len(cells)) if i not in idx]
    errs = predictor.holdout_errors(model, [feats[i] for i in rest], [truth[i] for i in rest])
    assert max(errs) < 1.0 and model.loo_max_pct < 1.0


def test_predictor_share_within_10pct_and_noise_floor():
    """The share counts the held-out points within +-10% (one point off by 30% here out of six); the noise
    floor is the median half-width of the measured intervals, in percent of each value."""
    cells = [(a, s) for a in (0.25, 0.5, 1.0) for s in (128, 224)]
    feats = [predictor.features(a, s, "fp32") for a, s in cells]
    truth = [0.3 + 0.011 * f["dense_macs"] + 0.04 * f["dw_macs"] for f in feats]
    truth[2] *= 1.3
    model = predictor.fit(feats, truth)
    errs = sorted(predictor.loo_errors(feats, truth, predictor.FORMS[model.form]))
    assert model.loo_within_10 == sum(e <= 10 for e in errs) / len(errs) < 1.0
    assert predictor.noise_floor([1.0, 2.0, 4.0], [(0.9, 1.1), (1.8, 2.4), None]) == 12.5  # 10% and 15%
    assert predictor.noise_floor([1.0], [None]) is None


def test_spanning_takes_corners_first():
    cells = [(a, s) for a in (0.25, 0.5, 0.75, 1.0) for s in (128, 160, 192, 224)]
    six = grid.spanning(cells, 6)
    assert set(six[:4]) == {(0.25, 128), (1.0, 224), (0.25, 224), (1.0, 128)} and len(set(six)) == 6


def stand_ins(tiny_artifact, models):
    """An artifact folder per hand-built variant: copies of a real tiny artifact whose manifest says that alpha and
    resolution (pick checks the measured file is still there, byte for byte, before recommending it)."""
    import shutil

    shas = {}
    for alpha, res, precision, _ in HAND:
        folder = models / f"mobilenet_v1_{alpha:.2f}_{res}"
        if not folder.exists():
            shutil.copytree(tiny_artifact, folder)
            doc = json.loads((folder / "manifest.json").read_text())
            doc["model"].update(alpha=alpha, resolution=res)
            doc["input"]["shape"] = [1, res, res, 3]
            (folder / "manifest.json").write_text(json.dumps(doc))
        entry = next(e for e in json.loads((folder / "manifest.json").read_text())["files"]
                     if e["name"] == f"model_{precision}.tflite")
        shas[(alpha, res, precision)] = entry["sha256"]
    return shas


def test_pick_cli_on_hand_built_store(tmp_path, tiny_artifact):
    home = tmp_path / "home"
    home.mkdir()
    models = tmp_path / "models"
    shas = stand_ins(tiny_artifact, models)
    (home / "results.jsonl").write_text("".join(
        json.dumps(record(*h, device="local", models=models, sha=shas[h[:3]])) + "\n" for h in HAND))
    env = {"MOBILEDEPLOY_HOME": str(home)}
    doc = json.loads(mobiledeploy("pick", "--device", "local", "--budget-ms", "5", "--json", env=env, check=True).stdout)
    assert doc["chosen"]["label"] == "a0.5-128-fp32"
    assert doc["neighbours"]["faster"]["label"] == "a0.5-128-int8"
    assert doc["neighbours"]["more_accurate"]["label"] == "a0.75-224-int8"
    assert doc["deploy"].startswith(f"python raspberrypi/classify.py --artifact {models}/mobilenet_v1_0.50_128")
    text = mobiledeploy("pick", "--device", "local", "--budget-ms", "5", env=env, check=True).stdout
    assert "published" in text and "over budget" in text and "random weights" in text
    proc = mobiledeploy("pick", "--device", "local", "--budget-ms", "0.5", env=env)
    assert proc.returncode == 3 and "fastest" in proc.stdout and "a0.25-128-int8" in proc.stdout
    proc = mobiledeploy("pick", "--device", "local", "--budget-ms", "0.5", "--json", env=env)
    doc = json.loads(proc.stdout)   # nothing fits, and that is decided: no interval holds the budget
    assert proc.returncode == 3 and doc["chosen"] is None and doc["decided"] is True and doc["contenders"] == []
    doc = json.loads(mobiledeploy("pick", "--device", "local", "--budget-ms", "50", "--precision", "int8", "--json",
                                  env=env, check=True).stdout)
    assert doc["chosen"]["label"] == "a0.75-224-int8"
    assert_one_line_error(mobiledeploy("pick", "--device", "local", "--budget-ms", "5", "--threads", "4", env=env),
                          "no stored", "4-thread")


def test_pick_checks_the_artifact_before_recommending_it(tmp_path, tiny_artifact):
    """A deleted folder or a changed file is said, with how to make it again; nothing is recommended."""
    import shutil

    home, models = tmp_path / "home", tmp_path / "models"
    home.mkdir()
    shas = stand_ins(tiny_artifact, models)
    (home / "results.jsonl").write_text("".join(
        json.dumps(record(*h, device="local", models=models, sha=shas[h[:3]])) + "\n" for h in HAND))
    env = {"MOBILEDEPLOY_HOME": str(home)}
    best = models / "mobilenet_v1_0.50_128"
    (best / "model_fp32.tflite").write_bytes(b"changed")
    assert_one_line_error(mobiledeploy("pick", "--device", "local", "--budget-ms", "5", env=env),
                          "a0.5-128-fp32", "gone or damaged", "mobiledeploy export --alpha 0.5 --res 128")
    shutil.rmtree(best)
    proc = mobiledeploy("pick", "--device", "local", "--budget-ms", "5", "--json", env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert_one_line_error(proc, "gone or damaged")


def test_pick_states_the_drift_between_runs_when_the_store_has_seen_two(tmp_path, tiny_artifact):
    """The same files measured in two runs, the second 6% slower: pick's choice is the same, and it says how far
    the device moved between runs and where another run's p90 of the choice may land (bench/drift.py)."""
    home, models = tmp_path / "home", tmp_path / "models"
    home.mkdir()
    shas = stand_ins(tiny_artifact, models)

    def run(factor, day):
        lines = []
        for h in HAND:
            r = record(*h[:3], h[3] * factor, device="local", models=models, sha=shas[h[:3]])
            r.update(time=f"2026-01-0{day}T00:00:00+00:00", confidence=0.95,
                     median_ci_ms=[r["median_ms"] * 0.99, r["median_ms"] * 1.01],
                     p90_ci_ms=[r["p90_ms"] * 0.98, r["p90_ms"] * 1.02])
            lines.append(json.dumps(r) + "\n")
        return "".join(lines)

    env = {"MOBILEDEPLOY_HOME": str(home)}
    (home / "results.jsonl").write_text(run(1.0, 1))
    doc = json.loads(mobiledeploy("pick", "--device", "local", "--budget-ms", "5", "--json", env=env, check=True).stdout)
    assert doc["between_runs"] is None   # one run: nothing to say about the next
    assert "between runs" not in mobiledeploy("pick", "--device", "local", "--budget-ms", "5", env=env).stdout
    (home / "results.jsonl").write_text(run(1.0, 1) + run(1.06, 2))
    doc = json.loads(mobiledeploy("pick", "--device", "local", "--budget-ms", "5", "--json", env=env, check=True).stdout)
    b = doc["between_runs"]
    assert doc["chosen"]["label"] == "a0.5-128-fp32" and b["files"] == len(HAND) and b["pairs"] == len(HAND)
    # log(1.06) = 5.8% between the runs, less the intervals' own share: sd = 5.8% / sqrt(2), about 4%
    assert 3.5 < b["sd_pct"] < 4.3
    p90 = doc["chosen"]["p90_ms"]
    # 1.96 sqrt(2 (se^2 + sd^2)), se = log(1.02) / 1.96 from its p90 interval: +-11.7%, about 4.24 ms (run 2's)
    assert 1.10 < b["p90_rerun_ms"][1] / p90 < 1.13 and 1.10 < p90 / b["p90_rerun_ms"][0] < 1.13
    assert b["fits_rerun"] is True and doc["chosen"]["p90_rerun_ms"] == b["p90_rerun_ms"]
    others = [r for r in rows.build([BenchRecord.from_dict(x) for x in stored(home)], {}, ["local"]).rows]
    assert all(r.median_rerun.low < r.median_ms < r.median_rerun.high for r in others)
    # at 4.5 ms its p90 bound (4.32 ms) fits this run, but another run's may reach 4.77 ms: a contender, not a
    # fit (issue 30: a decision another run would not repeat is not stated as decided)
    doc = json.loads(mobiledeploy("pick", "--device", "local", "--budget-ms", "4.5", "--json", env=env,
                                  check=True).stdout)
    assert doc["chosen"]["label"] != "a0.5-128-fp32" and not doc["decided"]
    assert [r["label"] for r in doc["contenders"]] == ["a0.5-128-fp32"]
    assert "drift between runs reaches past the budget" in doc["reason"]
    history = mobiledeploy("bench", "--history", env=env, check=True).stdout
    assert "between runs, medians on local moved" in history
