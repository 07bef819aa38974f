"""The results store on a big store: 100,000 results (50 devices x 32 files x ~62 runs, 100 latencies each),
as SQLite (the default), PostgreSQL (a real server started here, as the tests do) and the results.jsonl of
versions before 0.3 read whole (what every pick did then).

Measured: `pick --device local --budget-ms 5` and `bench --history --device local` (the CLI's wall time, a new
process each, and the call alone inside one process), bulk import, and the write throughput of 4 processes
storing one result at a time at once.
Goal (issue 31): pick under 1 s on a 2-core machine.
Usage: python benchmarks/store_scale.py [--results N]
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import CLI, ROOT, report

N = int(sys.argv[sys.argv.index("--results") + 1]) if "--results" in sys.argv else 100_000
DEVICES, ALPHAS, RESOLUTIONS = 50, (0.25, 0.5, 0.75, 1.0), (128, 160, 192, 224)
WRITERS, PER_WRITER = 4, 200
FIXTURE = ROOT / "tests" / "data" / "stores" / "format1-07454a1.jsonl"


def records(n: int) -> list[dict]:
    """n format-2 records in the real layout: the fixture's measurement, other devices, files, times."""
    from mobiledeploy.bench.record import BenchRecord

    base = BenchRecord.from_dict(json.loads(FIXTURE.read_text().splitlines()[0])).to_dict()
    files = [(a, r, p) for a in ALPHAS for r in RESOLUTIONS for p in ("fp32", "int8")]
    out = []
    for i in range(n):
        device = "local" if i % DEVICES == 0 else f"lab-{i % DEVICES:02d}"
        a, r, p = files[(i // DEVICES) % len(files)]
        run = i // (DEVICES * len(files))
        scale = a * a * (r / 224) ** 2 * (0.4 if p == "int8" else 1.0) * (1 + 0.01 * (run % 7))
        m = json.loads(json.dumps(base["measurement"]))
        for key in ("median", "p90"):
            est = m[key]
            est["ms"], est["low"], est["high"] = 10 * scale, 9.8 * scale, 10.3 * scale
        d = dict(base, device=device, artifact=f"/srv/sweep/mobilenet_v1_{a}_{r}", artifact_name=f"mobilenet_v1_{a}_{r}",
                 file=f"model_{p}.tflite", precision=p, sha256=f"{hash((a, r, p)) & (2**64 - 1):064x}",
                 time=f"2026-{1 + run % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i // 60) % 60:02d}+00:00",
                 model={**base["model"], "alpha": a, "resolution": r}, measurement=m,
                 latencies_ms=[round(10 * scale * (1 + (j % 13) / 100), 4) for j in range(100)])
        out.append(d)
    return out


def timed_cli(env, *args) -> float:
    start = time.perf_counter()
    proc = subprocess.run([CLI, *args], capture_output=True, text=True, env={**os.environ, **env})
    # the artifacts the results name are not on this machine: pick chooses, then says the best fit is gone
    if proc.returncode != 0 and "is gone or damaged" not in proc.stderr:
        raise SystemExit(f"mobiledeploy {' '.join(args)} failed: {proc.stderr.strip()[:400]}")
    return round(time.perf_counter() - start, 3)


def in_process(env) -> dict:
    """The calls alone, in one process with the store open (what a server or the lab client pays)."""
    code = ("import json,os,time\nfrom mobiledeploy import api\nfrom mobiledeploy.errors import MobiledeployError\n"
            "api.history(None, 'local')\nt=time.perf_counter()\ntry:\n  api.pick('local', 5.0)\n"
            "except MobiledeployError as e:\n  assert 'is gone' in str(e)\na=time.perf_counter()-t\nt=time.perf_counter();h=api.history(None, 'local');"
            "b=time.perf_counter()-t\nprint(json.dumps({'pick_s': round(a,3), 'history_s': round(b,3), "
            "'history_records': len(h.records)}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env})
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-600:])
    return json.loads(proc.stdout)


def writers(env) -> float:
    """Results a second stored by WRITERS processes at once, one result a transaction."""
    script = ROOT / "tests" / "store" / "writer.py"
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, str(script), str(FIXTURE), str(t + 1), str(PER_WRITER), "0"],
                              env={**os.environ, **env}, stdout=subprocess.DEVNULL) for t in range(WRITERS)]
    for p in procs:
        p.wait()
    return round(WRITERS * PER_WRITER / (time.perf_counter() - start), 1)


def measure(name: str, env: dict, docs: list[dict]) -> dict:
    from mobiledeploy.bench import store
    from mobiledeploy.bench.record import BenchRecord

    os.environ.update(env)
    store.use(None)
    recs = [BenchRecord.from_dict(d) for d in docs]
    start = time.perf_counter()
    for k in range(0, len(recs), 5000):
        store.insert(recs[k:k + 5000])
    imported = time.perf_counter() - start
    out = {"import_results_per_s": round(len(recs) / imported), "pick_cli_s": timed_cli(env, "pick", "--device",
           "local", "--budget-ms", "5"), "history_cli_s": timed_cli(env, "bench", "--history", "--device", "local",
                                                                     "--json"),
           **in_process(env), "writes_per_s_4_writers": writers(env)}
    for key in env:
        os.environ.pop(key, None)
    print(f"{name}: {out}", file=sys.stderr)
    return out


def main():
    sys.path.insert(0, str(ROOT / "tests"))
    work = Path(tempfile.mkdtemp(prefix="md-store-bench-"))
    docs = records(N)
    out = {"results": N, "devices": DEVICES, "load_before": list(os.getloadavg())}
    try:
        # the old way: results.jsonl read whole, every line checked, the device's records kept
        jhome = work / "jsonl"
        jhome.mkdir()
        (jhome / "results.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
        from mobiledeploy.bench import record_lines

        start = time.perf_counter()
        local = [r for r in record_lines.read(jhome / "results.jsonl") if r.device == "local"]
        out["jsonl"] = {"read_all_s": round(time.perf_counter() - start, 3), "local_records": len(local),
                        "bytes": (jhome / "results.jsonl").stat().st_size}
        out["sqlite"] = measure("sqlite", {"MOBILEDEPLOY_HOME": str(work / "sqlite")}, docs)
        out["sqlite"]["bytes"] = sum(p.stat().st_size for p in (work / "sqlite").glob("results.db*"))
        import pg

        if pg.missing() is None:
            server = pg.Postgres()
            try:
                url = server.new_db("bench")
                env = {"MOBILEDEPLOY_HOME": str(work / "pg"), "MOBILEDEPLOY_STORE": url, "PGPASSWORD": pg.PASSWORD}
                subprocess.run([CLI, "results", "init"], env={**os.environ, **env}, check=True, capture_output=True)
                out["postgresql"] = measure("postgresql", env, docs)
            finally:
                server.close()
        else:
            out["postgresql"] = {"skipped": pg.missing()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    s, p = out["sqlite"], out.get("postgresql", {})
    report("store_scale", out, f"{N} results: pick {s['pick_cli_s']} s (SQLite CLI), {p.get('pick_cli_s', '-')} s (PostgreSQL CLI); "
                f"old jsonl read alone {out['jsonl']['read_all_s']} s; 4 writers {s['writes_per_s_4_writers']}/s "
                f"(SQLite), {p.get('writes_per_s_4_writers', '-')}/s (PostgreSQL); goal pick < 1 s")


if __name__ == "__main__":
    main()
