#!/usr/bin/env python3
"""mobiledeploy's on-device latency runner: one file, copied to the target and run there.

Depends on nothing but the standard library, numpy and a runtime (ai_edge_litert, else tflite_runtime,
or onnxruntime for .onnx). Prints one JSON document on stdout; on failure {"error": ...} and exit 3.
Runs identically on the host (in a subprocess) and on boards over SSH, so both measure the same way.
"""
import argparse
import glob
import json
import os
import platform
import sys
import tempfile
import time

RUNNER_VERSION = 1
MIN_TIMED_RUNS = 10   # a process stopped by --max-seconds still reports this many latencies (or --runs)
# onnxruntime's telemetry (1DS, on Linux since 1.2x) writes a .ses file in $TMPDIR and a database in ~/.cache on
# import: nothing of a measurement should stay on the device or leave it. Read before onnxruntime is imported.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.processor() or platform.machine()
    for key in ("model name", "Model", "Hardware", "cpu model"):
        for line in info.splitlines():
            if line.lower().startswith(key.lower()) and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.machine()


def read_first(pattern):
    for path in sorted(glob.glob(pattern)):
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            continue
    return None


def temperature_c():
    temps = []
    for path in glob.glob("/sys/class/thermal/thermal_zone*/temp"):
        try:
            with open(path) as f:
                temps.append(int(f.read().strip()) / 1000.0)
        except (OSError, ValueError):
            pass
    return max(temps) if temps else None


class StderrCapture:
    """Capture what native code writes to fd 2 (LiteRT announces its XNNPACK delegate there)."""

    def __enter__(self):
        sys.stderr.flush()
        self.tmp = tempfile.TemporaryFile()
        self.saved = os.dup(2)
        os.dup2(self.tmp.fileno(), 2)
        return self

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.tmp.seek(0)
        self.text = self.tmp.read().decode("utf-8", "replace")
        return False


def _model_source(path, by_name, by_content):
    """{by_name: path}, or the file's bytes when its name is not UTF-8 (the runtimes' bindings take only UTF-8
    text: a folder named in another encoding would fail with a dump of their signatures)."""
    try:
        path.encode("utf-8")
        return {by_name: path}
    except UnicodeEncodeError:
        with open(path, "rb") as f:
            return {by_content: f.read()}


def load_tflite(path, threads):
    try:
        from ai_edge_litert import interpreter as mod
        import ai_edge_litert as pkg
        name = "ai-edge-litert"
    except ImportError:
        try:
            from tflite_runtime import interpreter as mod
            import tflite_runtime as pkg
            name = "tflite-runtime"
        except ImportError:
            raise RuntimeError("no TFLite runtime on this device: pip install ai-edge-litert "
                               "(or tflite-runtime)")
    with StderrCapture() as cap:
        it = mod.Interpreter(num_threads=threads, **_model_source(path, "model_path", "model_content"))
        it.allocate_tensors()
    detail = it.get_input_details()[0]
    out_index = it.get_output_details()[0]["index"]

    def run(x):
        it.set_tensor(detail["index"], x)
        it.invoke()
        return it.get_tensor(out_index)

    return run, detail["shape"], detail["dtype"], name, getattr(pkg, "__version__", "?"), "XNNPACK" in cap.text


def load_onnx(path, threads):
    try:
        import onnxruntime as ort
    except ImportError:
        raise RuntimeError("no onnxruntime on this device: pip install onnxruntime")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    sess = ort.InferenceSession(_model_source(path, "path", "path")["path"], opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    import numpy as np
    return (lambda x: sess.run(None, {inp.name: x})[0]), inp.shape, np.float32, "onnxruntime", ort.__version__, False


class UsageError(Exception):
    """A setting this device cannot honour: reported as its message alone."""


def usable_cores():
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def set_cpu_mask(text):
    """Pin this process to the cores of a hex mask; a core the device lacks is a usage error."""
    try:
        mask = int(text, 16)
    except ValueError:
        mask = 0
    if mask <= 0:
        raise UsageError("--cpu-mask takes a hex mask of cores such as f0, got %r" % text)
    wanted = [i for i in range(mask.bit_length()) if mask >> i & 1]
    usable = usable_cores()
    missing = [c for c in wanted if c not in usable]
    if missing:
        raise UsageError("--cpu-mask %s names cores %s, which this device does not have or will not give "
                         "this process (usable: %s)" % (text, ",".join(map(str, missing)), ",".join(map(str, usable))))
    try:
        os.sched_setaffinity(0, wanted)
    except AttributeError:
        raise UsageError("--cpu-mask is not supported on this system (no sched_setaffinity)")
    except OSError as exc:
        raise UsageError("--cpu-mask %s cannot be applied here: %s" % (text, exc.strerror or exc))


def lead_process_group(pid_file):
    """Lead a process group of our own and say so in pid_file, so the host can stop us and our children."""
    if os.getpgrp() != os.getpid():
        os.setsid()
    tmp = pid_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.replace(tmp, pid_file)


def stop_on_eof():
    """Exit as soon as stdin ends: over SSH that is the connection going away (sshd sends no signal)."""
    import threading

    def watch():
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        os._exit(4)

    threading.Thread(target=watch, daemon=True).start()


def measure(args):
    if args.cpu_mask:
        set_cpu_mask(args.cpu_mask)
    # other work on our cores is counted from here, through the imports and the load (which make the window
    # long enough for /proc/stat's 10 ms ticks even when the measured runs take a few milliseconds)
    others = OthersMeter().__enter__()
    try:
        import numpy as np
    except ImportError:
        raise RuntimeError("numpy is missing on this device: pip install numpy")

    temp_before = temperature_c()
    start = time.perf_counter()
    loader = load_onnx if args.model.endswith(".onnx") else load_tflite
    run, shape, dtype, runtime, version, xnnpack = loader(args.model, args.threads)
    init_ms = (time.perf_counter() - start) * 1e3
    rng = np.random.default_rng(0)
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max + 1, size=[int(d) for d in shape], dtype=dtype)
    else:
        x = rng.uniform(-1, 1, size=[int(d) for d in shape]).astype(dtype)
    t = time.perf_counter()
    run(x)
    first_ms = (time.perf_counter() - t) * 1e3
    warmup = []
    for _ in range(args.warmup):
        t = time.perf_counter()
        run(x)
        warmup.append((time.perf_counter() - t) * 1e3)
    latencies = []
    # --max-seconds: this process's share of the file's time cap; past it, stop after MIN_TIMED_RUNS runs
    deadline = time.perf_counter() + args.max_seconds if args.max_seconds else None
    for _ in range(args.runs):
        t = time.perf_counter()
        run(x)
        latencies.append((time.perf_counter() - t) * 1e3)
        if args.cooldown:
            time.sleep(args.cooldown)
        if deadline is not None and len(latencies) >= MIN_TIMED_RUNS and time.perf_counter() >= deadline:
            break
    others.__exit__(None, None, None)
    return {
        "runner_version": RUNNER_VERSION,
        "model": os.path.basename(args.model),
        "runtime": runtime, "runtime_version": version, "xnnpack": xnnpack,
        "threads": args.threads, "cpu_mask": args.cpu_mask,
        "init_ms": init_ms, "first_ms": first_ms, "warmup_ms": warmup, "latencies_ms": latencies,
        "time_capped": len(latencies) < args.runs,
        "cpu_model": cpu_model(), "machine": platform.machine(), "cores": os.cpu_count(),
        "governor": read_first("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "temperature_before_c": temp_before, "temperature_after_c": temperature_c(),
        "python": platform.python_version(), "numpy": np.__version__,
        "peak_rss_mb": peak_rss_mb(), "others_busy": others.share, **telemetry(),
    }


def main():
    p = argparse.ArgumentParser(description="Measure inference latency of one model file.")
    p.add_argument("model", nargs="?")
    # no defaults here: the host always passes every setting (mobiledeploy/bench/settings.py holds them)
    p.add_argument("--threads", type=int)
    p.add_argument("--runs", type=int)
    p.add_argument("--warmup", type=int)
    p.add_argument("--cooldown", type=float, default=0.0, help="seconds to sleep between runs")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="stop measuring after this long (at least %d runs are made)" % MIN_TIMED_RUNS)
    p.add_argument("--cpu-mask", default=None, help="hex mask of the cores to run on")
    p.add_argument("--probe", action="store_true", help="only describe the device and its runtime")
    p.add_argument("--pid-file", help="lead a process group and write its id here (the host stops it by it)")
    p.add_argument("--stop-on-eof", action="store_true", help="exit when stdin ends (the host went away)")
    args = p.parse_args()
    if not args.probe and not args.model:
        p.error("a model file is required (or --probe)")
    if not args.probe and None in (args.threads, args.runs, args.warmup):
        p.error("--threads, --runs and --warmup are required with a model file")
    try:
        if args.stop_on_eof:
            stop_on_eof()
        if args.pid_file:
            lead_process_group(args.pid_file)
        if args.probe:
            doc = probe()
        else:
            doc = measure(args)
    except UsageError as exc:
        print(json.dumps({"error": str(exc)}))
        sys.exit(3)
    except OSError as exc:  # e.g. a full disk on the device: the reason, and the path
        where = " (%s)" % exc.filename if getattr(exc, "filename", None) else ""
        print(json.dumps({"error": "%s%s" % (exc.strerror or exc, where)}))
        sys.exit(3)
    except Exception as exc:  # reported to the host as data, not a traceback
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        sys.exit(3)
    print(json.dumps(doc))


def peak_rss_mb():
    """This process's peak resident memory (the runtime, the model, its buffers), in MB."""
    try:
        import resource
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(kb / 1024.0, 1) if sys.platform != "darwin" else round(kb / 1e6, 1)
    except (ImportError, OSError):
        return None


def cpu_times():
    """{core: (total, idle)} jiffies from /proc/stat (steal time counts as busy: another guest had the core)."""
    out = {}
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("cpu") and line[3:4].isdigit():
                    parts = line.split()
                    vals = [int(v) for v in parts[1:9]]
                    out[int(parts[0][3:])] = (sum(vals), vals[3] + (vals[4] if len(vals) > 4 else 0))
    except (OSError, ValueError):
        return {}
    return out


def process_cpu():
    """{pid: (name, jiffies used, last core)} of every process (/proc/PID/stat), this one left out."""
    out = {}
    me = os.getpid()
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                text = f.read()
            pid = int(stat.split("/")[2])
            name = text[text.index("(") + 1:text.rindex(")")]
            rest = text[text.rindex(")") + 2:].split()
            if pid != me:
                out[pid] = (name, int(rest[11]) + int(rest[12]), int(rest[36]))
        except (OSError, ValueError, IndexError):
            continue
    return out


def busy_cores(seconds=0.25):
    """How busy each core is with other work, sampled over a short window while this process sleeps:
    {"core_busy": {core: share}, "busy_processes": [[pid, name, core, share], ...]} (processes above 20%)."""
    a, pa = cpu_times(), process_cpu()
    time.sleep(seconds)
    b, pb = cpu_times(), process_cpu()
    share = {}
    for core in sorted(set(a) & set(b)):
        total = b[core][0] - a[core][0]
        share[str(core)] = round(1 - (b[core][1] - a[core][1]) / total, 2) if total > 0 else None
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy = []
    for pid, (name, used, core) in pb.items():
        if pid in pa:
            s = (used - pa[pid][1]) / hz / seconds
            if s > 0.2:
                busy.append([pid, name, core, round(min(s, 1.0 * (os.cpu_count() or 1)), 2)])
    busy.sort(key=lambda x: -x[3])
    return {"core_busy": share, "busy_processes": busy[:8]}


class OthersMeter:
    """The share of this process's cores that other work used while it measured: the cores' busy time
    (/proc/stat) minus this process's own CPU time, over the wall time (None where /proc/stat is absent)."""

    def __enter__(self):
        self.cores = usable_cores()
        self.a, self.own, self.t = cpu_times(), os.times(), time.time()
        return self

    def __exit__(self, *exc):
        b, own, wall = cpu_times(), os.times(), time.time() - self.t
        self.share = None
        if not self.a or not b or wall <= 0:
            return False
        hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        busy = sum((b[c][0] - b[c][1]) - (self.a[c][0] - self.a[c][1]) for c in self.cores if c in b and c in self.a)
        mine = (own.user - self.own.user) + (own.system - self.own.system)
        self.share = round(max(0.0, busy / hz - mine) / (wall * len(self.cores)), 3)
        return False


def telemetry():
    """How quiet the device is: load, CPU frequencies (current and max of cpu0), throttling counters."""
    doc = {}
    try:
        doc["load_1m"] = round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        doc["load_1m"] = None
    for key, name in (("freq_khz", "scaling_cur_freq"), ("max_freq_khz", "cpuinfo_max_freq")):
        value = read_first("/sys/devices/system/cpu/cpu0/cpufreq/" + name)
        doc[key] = int(value) if value and value.isdigit() else None
    throttle = read_first("/sys/devices/system/cpu/cpu0/thermal_throttle/core_throttle_count")
    doc["throttle_count"] = int(throttle) if throttle and throttle.isdigit() else None
    return doc


def probe():
    """What `devices check` reports: architecture, CPU, runtime, free space, temperature, governor, load."""
    doc = {"machine": platform.machine(), "cpu_model": cpu_model(), "cores": os.cpu_count(),
           "affinity": usable_cores(),
           "python": platform.python_version(),
           "governor": read_first("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
           "temperature_c": temperature_c(), **telemetry(), **busy_cores()}
    st = os.statvfs(tempfile.gettempdir())
    doc["free_tmp_mb"] = st.f_bavail * st.f_frsize // (1 << 20)
    for mod, name in (("ai_edge_litert", "ai-edge-litert"), ("tflite_runtime", "tflite-runtime")):
        try:
            pkg = __import__(mod)
            doc["tflite_runtime"] = name
            doc["tflite_runtime_version"] = getattr(pkg, "__version__", "?")
            break
        except ImportError:
            continue
    try:
        import onnxruntime
        doc["onnxruntime_version"] = onnxruntime.__version__
    except ImportError:
        pass
    try:
        import numpy
        doc["numpy"] = numpy.__version__
    except ImportError:
        doc["numpy"] = None
    return doc


if __name__ == "__main__":
    main()
