"""ShuffleNet V2 1.0x against MobileNetV2 1.0 at 224 on this machine: the latency ratio beside the mult-adds ratio
and the memory access cost (MAC) ratio, fp32 and int8 (issue 33's acceptance).

Both are exported with random weights (latency does not depend on the values) as TFLite fp32 + int8, and the
four files are measured in ONE bench session on `local` (mobiledeploy.bench.session.bench_files: the protocol's
interleaved rounds, each file in several runner processes, until every file's median and p90 intervals are
narrow or its time cap is reached), so drift of this shared machine hits all four alike. The records are stored
in this benchmark's own home's store (WORK/home), never thrown away; a rerun reuses the exports and adds a
second run to the store. The papers measured speed on ARM (Ma et al. Figure 1, Sandler et al. Table 4); this is
the x86-64 host's answer.

The latency ratio is the ratio of the two files' medians, with the conservative interval from the two medians'
intervals (low/high, high/low); beside it the paired ratio: the protocol runs one runner process of each file
per round, so round k's ShuffleNet process median over round k's MobileNet one cancels what the machine's load
did to both in that round; its median and order-statistic interval over the rounds.
Usage: python benchmarks/shufflenet_vs_mobilenet.py [--threads N] [--max-seconds S]
"""
import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from _common import ROOT, cli, report

sys.path.insert(0, str(ROOT))
WORK = Path(os.environ.get("TMPDIR", "/tmp")) / "mobiledeploy-shufflenet-vs-mobilenet"
HOME = WORK / "home"
PAIR = {"shufflenet": "shufflenet_v2", "mobilenet": "mobilenet_v2"}
ALPHA, RESOLUTION = 1.0, 224


def export(arch: str) -> Path:
    """The artifact of `arch` 1.0-224 (fp32 + int8 TFLite, random weights), exported once and reused."""
    folder = WORK / "models" / f"{arch}_{ALPHA}_{RESOLUTION}"
    if (folder / "manifest.json").is_file():
        return folder
    proc, _ = cli("export", "--arch", arch, "--alpha", ALPHA, "--res", RESOLUTION, "--int8", "--formats", "tflite",
                  "--weights", "none", "--out", WORK / "models", "--json", env={"MOBILEDEPLOY_HOME": str(HOME)})
    return Path(json.loads(proc.stdout)["artifact"])


def costs(arch: str, precision: str) -> dict:
    from mobiledeploy.model import cost
    from mobiledeploy.model.families import family

    s = cost.summary(ALPHA, RESOLUTION, family=family(arch), precision=precision)
    return {"macs": s["macs"], "mac_bytes": s["mac_bytes"], "params": s["params"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=40.0, help="each file's measuring cap")
    args = parser.parse_args()
    os.environ["MOBILEDEPLOY_HOME"] = str(HOME)
    os.environ.setdefault("MOBILEDEPLOY_WEIGHTS_URL", "http://127.0.0.1:9/")
    from mobiledeploy.bench.intervals import quantile_interval
    from mobiledeploy.bench.session import bench_files
    from mobiledeploy.bench.settings import BenchSettings

    artifacts = {name: export(arch) for name, arch in PAIR.items()}
    load_before = os.getloadavg()
    settings = BenchSettings(threads=args.threads, runs=50, warmup=10, processes=3, ci_width=0.05,
                             max_seconds=args.max_seconds)
    outcome = bench_files("local", [(artifacts[name], f"model_{p}.tflite") for p in ("fp32", "int8") for name in PAIR],
                          settings)
    load_after = os.getloadavg()
    if outcome.errors:
        raise SystemExit(f"shufflenet_vs_mobilenet: {'; '.join(outcome.errors)}")
    by = {(Path(r.artifact).name.split("_")[0], r.precision): r for r in outcome.records}
    files, ratios = {}, {}
    for (name, precision), r in sorted(by.items()):
        m, p90 = r.measurement.median, r.p90
        files[f"{name}_{precision}"] = {
            "arch": PAIR[name], "file": r.file, "median_ms": m.value, "median_ci_ms": [m.low, m.high],
            "p90_ms": p90.value, "p90_ci_ms": [p90.low, p90.high], "confidence": m.confidence,
            "samples": r.measurement.samples, "processes": r.measurement.processes,
            "verdict": r.measurement.verdict.word, "noise": r.noise, **costs(PAIR[name], precision)}
    for precision in ("fp32", "int8"):
        s, mb = files[f"shufflenet_{precision}"], files[f"mobilenet_{precision}"]
        low = s["median_ci_ms"][0] / mb["median_ci_ms"][1] if None not in (s["median_ci_ms"][0], mb["median_ci_ms"][1]) else None
        high = s["median_ci_ms"][1] / mb["median_ci_ms"][0] if None not in (s["median_ci_ms"][1], mb["median_ci_ms"][0]) else None
        paired = [a / b for a, b in zip(by[("shufflenet", precision)].measurement.process_medians_ms,
                                        by[("mobilenet", precision)].measurement.process_medians_ms)]
        ratios[precision] = {"latency_ratio": s["median_ms"] / mb["median_ms"], "latency_ratio_ci": [low, high],
                             "paired_ratio": float(np.median(paired)),
                             "paired_ratio_ci": list(quantile_interval(paired, 0.5, settings.confidence)),
                             "paired_rounds": len(paired),
                             "p90_ratio": s["p90_ms"] / mb["p90_ms"], "macs_ratio": s["macs"] / mb["macs"],
                             "mac_ratio": s["mac_bytes"] / mb["mac_bytes"], "params_ratio": s["params"] / mb["params"]}
    data = {"threads": args.threads, "settings": settings.to_dict(), "files": files, "ratios": ratios,
            "load_average_before": load_before, "load_average_after": load_after,
            "store": str(HOME), "run": outcome.records[0].run}
    parts = [f"{p} {ratios[p]['latency_ratio']:.2f} ({files['shufflenet_' + p]['median_ms']:.2f} / "
             f"{files['mobilenet_' + p]['median_ms']:.2f} ms), paired {ratios[p]['paired_ratio']:.2f} "
             f"[{ratios[p]['paired_ratio_ci'][0]:.2f}, {ratios[p]['paired_ratio_ci'][1]:.2f}]" for p in ("fp32", "int8")]
    summary = (f"ShuffleNet V2 1.0x / MobileNetV2 1.0 at 224, {args.threads} thread(s): latency ratio {'; '.join(parts)}; "
               f"mult-adds ratio {ratios['fp32']['macs_ratio']:.2f}, MAC ratio {ratios['fp32']['mac_ratio']:.2f}; "
               f"load {load_before[0]:.1f}->{load_after[0]:.1f} on {os.cpu_count()} cores")
    report("shufflenet_vs_mobilenet", data, summary)


if __name__ == "__main__":
    main()
