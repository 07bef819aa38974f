"""The test device's `benchmark_model`: runs LiteRT on the pushed model and prints what TensorFlow's tool
prints (the LiteRT 2.x format: INFO: prefixes, count= lines with p5/median/p95, memory footprint).

Written out with this Python as interpreter by the tests, pushed through adb like the real binary.
"""
import argparse
import os
import resource
import statistics
import sys
import time


def stat_line(us):
    s = sorted(us)
    pct = lambda p: s[min(len(s) - 1, len(s) * p // 100)]
    std = statistics.pstdev(us) if len(us) > 1 else 0
    return (f"count={len(us)} first={us[0]:.0f} curr={us[-1]:.0f} min={min(us):.0f} max={max(us):.0f} "
            f"avg={sum(us) / len(us):.1f} std={std:.0f} p5={pct(5):.0f} median={pct(50):.0f} p95={pct(95):.0f}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--graph", required=True)
    p.add_argument("--num_threads", type=int, default=1)
    p.add_argument("--warmup_runs", type=int, default=1)
    p.add_argument("--num_runs", type=int, default=50)
    p.add_argument("--use_xnnpack", default="true")
    p.add_argument("--use_gpu", default="false")
    p.add_argument("--use_nnapi", default="false")
    p.add_argument("--enable_op_profiling", default="false")
    a = p.parse_args()
    say = lambda text: print(f"INFO: {text}", flush=True)
    say("STARTING!")
    say(f"Num threads: [{a.num_threads}]")
    say(f"Graph: [{a.graph}]")
    if a.use_gpu == "true":
        print("ERROR: GPU delegate is not available on this test device", flush=True)
        return 1
    import numpy as np
    from ai_edge_litert import interpreter as lite

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    it = lite.Interpreter(model_path=a.graph, num_threads=a.num_threads)
    it.allocate_tensors()
    init_us = (time.perf_counter() - t) * 1e6
    say(f"Loaded model {a.graph}")
    if a.use_xnnpack == "true":
        say("Created TensorFlow Lite XNNPACK delegate for CPU.")
    say(f"The input model file size (MB): {os.path.getsize(a.graph) / 1e6:g}")
    say(f"Initialized session in {init_us / 1000:.3f}ms.")
    d = it.get_input_details()[0]
    x = np.zeros(d["shape"], d["dtype"])
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def timed(n):
        out = []
        for _ in range(n):
            t = time.perf_counter()
            it.set_tensor(d["index"], x)
            it.invoke()
            out.append((time.perf_counter() - t) * 1e6)
        return out

    say(f"Running benchmark for at least {a.warmup_runs} iterations and at least 0.5 seconds but terminate if "
        "exceeding 150 seconds.")
    warm = timed(max(1, a.warmup_runs))
    say(stat_line(warm))
    say(f"Running benchmark for at least {a.num_runs} iterations and at least 1 seconds but terminate if "
        "exceeding 150 seconds.")
    runs = timed(a.num_runs)
    say(stat_line(runs))
    say(f"Inference timings in us: Init: {init_us:.0f}, First inference: {warm[0]:.0f}, Warmup (avg): "
        f"{sum(warm) / len(warm):.1f}, Inference (avg): {sum(runs) / len(runs):.1f}")
    say("Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the "
        "actual memory footprint of the model at runtime. Take the information at your discretion.")
    rss2 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    say(f"Memory footprint delta from the start of the tool (MB): init={rss1 - rss0:.4f} overall={rss2 - rss0:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
