"""A simulated lab of 20 devices on 4 workers on this machine (issue 32): makespan against the ideal (the busiest
device's total work; goal within 10%), the overhead per bench task, and how both grow from 4 to 20 devices.

Every device is a real SSH board (one loopback sshd per worker host, tests/sshd.py: needs root and
openssh-server) whose `python` is a small script written here, used only by this benchmark: it answers the
runner's probe with a quiet device, and each measuring process with latencies drawn from a known distribution
(log-normal around the device's own median, twice that for a file over 1 MB: an fp32 file at alpha 0.25) after
a known delay. So a device's total work is known exactly
(files x processes x its delay), and everything else in the makespan is the lab's and the SSH path's cost.
Each script logs when it starts and ends, which splits that cost into: from the run's start to a device's first
runner, the gaps between its runners (the SSH session's per-run steps: df, run folder, two SFTP copies, clean-up;
the same as on one host), and from its last runner to the end. The same 20 devices are also swept from one host
(no lab) to separate the lab's own cost from the SSH path's.

The real scheduler, workers and client run with mutual TLS on loopback; the artifacts are exported once by a
warm-up sweep (the scripts answering at once) and reused, so exports are not in the figures.

    .venv/bin/python benchmarks/lab_scale.py        # STEPS=4,8,12,16,20 DELAY=3.0 (seconds per runner process)
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import report
from lab_kit import Lab, add_board, run, sshd

WORKERS = 4
DEVICES = 20
STEPS = [int(n) for n in os.environ.get("STEPS", "4,8,12,16,20").split(",")]
DELAY = float(os.environ.get("DELAY", "3.0"))       # the quickest device's seconds per runner process
PROCESSES = 3
GRID = ["--alphas", "0.25", "--res", "96,128", "--precisions", "fp32,int8"]   # 4 files per device
FILES = 4
BENCH = ["--runs", "20", "--warmup", "0", "--processes", str(PROCESSES), "--ci-width", "0.5",
         "--max-seconds", "1000"]
SIGMA = 0.05

# The device's python, used by nobody but this benchmark: a probe answer of a quiet 4-core board, and per
# measuring process its known delay, then --runs latencies from a log-normal around the device's median.
SCRIPT = '''#!{python} -IS
import json, os, random, sys, time
here = os.path.dirname(os.path.abspath(__file__))
start = time.time()
args = sys.argv[1:]
if "--pid-file" in args:
    try:
        os.setsid()
    except OSError:
        pass    # a session leader already (sshd made it one)
    pid_file = args[args.index("--pid-file") + 1]
    with open(pid_file + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(pid_file + ".tmp", pid_file)
conf = json.load(open(os.path.join(os.path.dirname(here), "config.json")))
name = os.path.basename(here)
facts = {{"machine": "simulated", "cpu_model": "simulated board", "cores": 4, "governor": None,
          "load_1m": 0.0, "freq_khz": None, "max_freq_khz": None, "throttle_count": None}}
if "--probe" in args:
    doc = dict(facts, affinity=[0, 1, 2, 3], python="3", temperature_c=None, core_busy={{}}, busy_processes=[],
               free_tmp_mb=10000, tflite_runtime="simulated", tflite_runtime_version="0", numpy="0")
    kind = "probe"
else:
    time.sleep(conf["delay"][name])
    runs = int(args[args.index("--runs") + 1])
    rng = random.Random()
    model = next((a for a in args if a.endswith(".tflite")), "")
    median = conf["median_ms"][name] * (2.0 if os.path.getsize(model) > 1000000 else 1.0)
    doc = dict(facts, runner_version=1, model=os.path.basename(model),
               runtime="simulated", runtime_version="0", xnnpack=False, threads=1, cpu_mask=None, init_ms=1.0,
               first_ms=median, warmup_ms=[], latencies_ms=[median * rng.lognormvariate(0, conf["sigma"])
                                                            for _ in range(runs)],
               temperature_before_c=None, temperature_after_c=None, python="3", numpy="0", peak_rss_mb=10.0,
               others_busy=0.0)
    kind = "run"
print(json.dumps(doc))
sys.stdout.flush()
with open(os.path.join(here, "log.jsonl"), "a") as f:
    f.write(json.dumps({{"kind": kind, "start": start, "end": time.time()}}) + "\\n")
'''


def names() -> list[str]:
    return [f"d{i:02d}" for i in range(DEVICES)]


def worker_of(i: int) -> str:
    return f"w{i % WORKERS + 1}"


def known(delays: dict) -> dict:
    """Each device's known total work (seconds)."""
    return {d: FILES * PROCESSES * s for d, s in delays.items()}


def write_config(sim: Path, delays: dict, medians: dict) -> None:
    tmp = sim / "config.json.tmp"
    tmp.write_text(json.dumps({"delay": delays, "median_ms": medians, "sigma": SIGMA}))
    os.replace(tmp, sim / "config.json")


def runs_since(sim: Path, device: str, since: float) -> list[dict]:
    path = sim / device / "log.jsonl"
    if not path.exists():
        return []
    return [e for e in map(json.loads, path.read_text().splitlines()) if e["start"] >= since and e["kind"] == "run"]


def sweep(home: Path, out: Path, devices: list[str], lab: Lab | None, sim: Path, procs: dict) -> dict:
    cpu0 = {n: p.cpu_seconds() for n, p in procs.items()}
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    epoch0 = time.time()
    proc, wall = run("sweep", *GRID, *BENCH, "--device", ",".join(devices), "--out", out, "--json",
                     *(lab.client_args() if lab else []), home=home)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {n: round(p.cpu_seconds() - cpu0[n], 2) for n, p in procs.items()}
    doc = json.loads(proc.stdout)
    r = doc["run"][0]
    started = r["first_bench_epoch"] - r["seconds_before_first_bench"]   # the run's own start (after connecting)
    ended = started + r["seconds"]
    per = {}
    for d in devices:
        logs = sorted(runs_since(sim, d, epoch0), key=lambda e: e["start"])
        gaps = [b["start"] - a["end"] for a, b in zip(logs, logs[1:])]
        per[d] = {"runs": len(logs), "busy": sum(e["end"] - e["start"] for e in logs),
                  "first_start": logs[0]["start"] - started if logs else None,
                  "after_last": ended - logs[-1]["end"] if logs else None,
                  "gap_median": statistics.median(gaps) if gaps else None, "gaps": sum(gaps)}
    medians = {(row["device"], row["precision"]): row["median_ms"] for row in doc["rows"] if row.get("median_ms")}
    return {"wall": wall, "seconds": r["seconds"], "benched": r["benched"], "errors": r["errors"], "per": per,
            "cpu_seconds": cpu, "client_cpu_seconds": round(ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, 2),
            "row_medians": medians}


def summary(got: dict, devices: list[str], work: dict) -> dict:
    busiest = max(devices, key=lambda d: work[d])
    ideal = work[busiest]
    per = got["per"]
    b = per[busiest]
    tasks = FILES * PROCESSES
    overhead = got["seconds"] - ideal
    firsts = [p["first_start"] for p in per.values() if p["first_start"] is not None]
    return {
        "devices": len(devices), "ideal_seconds": round(ideal, 2), "makespan_seconds": round(got["seconds"], 2),
        "makespan_over_ideal": round(got["seconds"] / ideal, 4), "within_10_percent": got["seconds"] <= 1.1 * ideal,
        "cli_wall_seconds": round(got["wall"], 2), "benched": got["benched"], "expected": len(devices) * FILES,
        "errors": got["errors"],
        "overhead_seconds": round(overhead, 2),
        # the busiest device's own service time (its runners and the SSH steps between them, as on one host):
        # what is left of the makespan is the lab's start (task, connect, probe) and its end (results back)
        "service_seconds": round(b["busy"] + b["gaps"], 2),
        "makespan_over_service": round(got["seconds"] / (b["busy"] + b["gaps"]), 4) if b["busy"] else None,
        "overhead_per_file_seconds": round(overhead / FILES, 3),
        "overhead_per_runner_process_seconds": round(overhead / tasks, 3),
        "busiest": {"device": busiest, "runs": b["runs"], "busy_seconds": round(b["busy"], 2),
                    "start_to_first_runner_seconds": round(b["first_start"], 2) if b["first_start"] is not None else None,
                    "gaps_between_runners_seconds": round(b["gaps"], 2),
                    "median_gap_seconds": round(b["gap_median"], 3) if b["gap_median"] is not None else None,
                    "last_runner_to_end_seconds": round(b["after_last"], 2) if b["after_last"] is not None else None},
        "first_runner_seconds": {"min": round(min(firsts), 2), "median": round(statistics.median(firsts), 2),
                                 "max": round(max(firsts), 2)} if firsts else None,
        "median_gap_all_devices_seconds": round(statistics.median(
            [p["gap_median"] for p in per.values() if p["gap_median"] is not None]), 3),
        "cpu_seconds": got["cpu_seconds"], "client_cpu_seconds": got["client_cpu_seconds"],
        "results_per_second": round(got["benched"] / got["seconds"], 3),
    }


def median_error(measured: dict, medians: dict) -> float:
    """The largest relative difference between a stored median and the known one (the distribution came through)."""
    return round(max(abs(v / (medians[d] * (2.0 if p == "fp32" else 1.0)) - 1) for (d, p), v in measured.items()), 4)


def compare_picks(homes: list[Path], devices: list[str], medians: dict) -> dict:
    """pick's answers from each store (the lab's, one host's) at budgets far from every known p90: below the int8
    files', between the int8 and the fp32 files', above all. The distributions are known and the same, so every
    answer must be the same."""
    answers = {}
    for d in devices:
        for factor in (0.5, 1.5, 3.0):
            budget = round(medians[d] * factor, 3)
            got = []
            for home in homes:
                proc, _ = run("pick", "--device", d, "--budget-ms", budget, "--json", home=home, check=False)
                if proc.returncode not in (0, 3):
                    raise SystemExit(f"pick failed: {proc.stderr.strip()}")
                doc = json.loads(proc.stdout)
                chosen = doc.get("chosen")
                got.append("nothing fits" if not chosen else
                           ("" if doc.get("decided", True) else "undecided: ") + chosen["label"])
            answers[f"{d} @ {budget} ms"] = got
    same = sum(len(set(v)) == 1 for v in answers.values())
    return {"answers": answers, "same": f"{same}/{len(answers)}", "all_same": same == len(answers)}


def store_write_seconds(home: Path, n: int) -> float:
    """Seconds per record appended to a fresh SQLite store (the client's one write per result)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ["MOBILEDEPLOY_HOME"] = str(home)
    from mobiledeploy.bench import store

    records = store.history()
    store.use(f"sqlite:///{home / 'copy.db'}")
    start = time.perf_counter()
    for i in range(n):
        store.append(records[i % len(records)])
    return (time.perf_counter() - start) / n


def main():
    with tempfile.TemporaryDirectory(prefix="lab-scale-") as tmp:
        root = Path(tmp)
        sim = root / "sim"
        devices = names()
        delays = {d: round(DELAY * (1 + 0.1 * (i // WORKERS % 5)), 3) for i, d in enumerate(devices)}
        medians = {d: round(5.0 + i, 3) for i, d in enumerate(devices)}
        work = known(delays)
        servers = {f"w{k + 1}": sshd(root / f"sshd-w{k + 1}") for k in range(WORKERS)}
        lab = Lab(root, list(servers))
        out = root / "sweep"
        steps, one_host = [], None
        try:
            for i, d in enumerate(devices):
                (sim / d).mkdir(parents=True)
                script = sim / d / "python"
                script.write_text(SCRIPT.format(python=sys.executable))
                script.chmod(0o755)
                (sim / d / "work").mkdir()
            with lab:
                for i, d in enumerate(devices):
                    w = worker_of(i)
                    add_board(lab.home(w), d, servers[w], python=str(sim / d / "python"), workdir=sim / d / "work")
                for w in servers:
                    lab.start_worker(w, [d for i, d in enumerate(devices) if worker_of(i) == w])
                procs = {n: p for n, p in lab.procs.items()}
                # exports once, with the scripts answering at once
                write_config(sim, {d: 0.01 for d in devices}, medians)
                warm = lab.home("warm-client")
                run("sweep", *GRID, *BENCH, "--device", devices[0], "--out", out, "--json", *lab.client_args(),
                    home=warm)
                write_config(sim, delays, medians)
                for n in STEPS:
                    chosen = devices[:n]
                    got = sweep(lab.home(f"client-{n}"), out, chosen, lab, sim, procs)
                    s = summary(got, chosen, work)
                    s["median_error"] = median_error(got["row_medians"], medians)
                    steps.append(s)
                    print(f"{n} devices: makespan {s['makespan_seconds']} s, ideal {s['ideal_seconds']} s "
                          f"({s['makespan_over_ideal']:.3f}), {s['benched']}/{s['expected']} benched", file=sys.stderr)
                # the same 20 devices from one host: no lab (the SSH path's own cost)
                home = root / "one-host-home"
                home.mkdir()
                for i, d in enumerate(devices):
                    add_board(home, d, servers[worker_of(i)], python=str(sim / d / "python"),
                              workdir=sim / d / "work")
                got = sweep(home, out, devices, None, sim, {"sched": lab.procs["sched"]})
                one_host = summary(got, devices, work)
                one_host["median_error"] = median_error(got["row_medians"], medians)
                picks = compare_picks([lab.home(f"client-{STEPS[-1]}"), home], devices[:STEPS[-1]][::4], medians)
                print(f"one host, {DEVICES} devices: makespan {one_host['makespan_seconds']} s", file=sys.stderr)
                write_seconds = store_write_seconds(lab.home(f"client-{STEPS[-1]}"), 200)
        finally:
            for server in servers.values():
                server.stop()

    last = steps[-1]
    sched_per_s = last["cpu_seconds"]["sched"] / last["makespan_seconds"]
    workers_cpu = sum(v for k, v in last["cpu_seconds"].items() if k.startswith("w"))
    report("lab_scale", {
        "workers": WORKERS, "files_per_device": FILES, "processes_per_file": PROCESSES, "delay_seconds": DELAY,
        "delays": delays, "steps": steps, "one_host_20_devices": one_host,
        "pick_lab_vs_one_host": picks,
        "lab_own_overhead_seconds_20": round(last["overhead_seconds"] - one_host["overhead_seconds"], 2)
        if last["devices"] == DEVICES else None,
        "scheduler_cpu_share_20": round(sched_per_s, 4),
        "workers_cpu_seconds_per_result_20": round(workers_cpu / max(1, last["benched"]), 3),
        "client_cpu_seconds_per_result_20": round(last["client_cpu_seconds"] / max(1, last["benched"]), 3),
        "store_write_ms": round(1000 * write_seconds, 2), "goal": "makespan within 10% of the ideal",
        "load_average_after": os.getloadavg()},
        f"{last['devices']} devices on {WORKERS} workers: makespan {last['makespan_seconds']} s vs ideal "
        f"{last['ideal_seconds']} s ({100 * (last['makespan_over_ideal'] - 1):+.1f}%, goal <= +10%: "
        f"{'met' if last['within_10_percent'] else 'not met'}); overhead per file "
        f"{last['overhead_per_file_seconds']} s; from {steps[0]['devices']} to {last['devices']} devices the ratio "
        f"went {steps[0]['makespan_over_ideal']:.3f} -> {last['makespan_over_ideal']:.3f} (over the busiest device's "
        f"service time incl. SSH steps: {steps[0]['makespan_over_service']:.3f} -> {last['makespan_over_service']:.3f}); "
        f"pick lab vs one host: {picks['same']} same; one host (no lab) "
        f"{one_host['makespan_over_ideal']:.3f}; scheduler CPU {100 * sched_per_s:.1f}% of a core")


if __name__ == "__main__":
    main()
