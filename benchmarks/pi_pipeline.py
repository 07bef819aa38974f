"""The Pi classifier's pipeline FPS from a video file against the pure inference rate of the same model.

Issue 5 goal: capture + preprocess (+ draw) overhead <= 10% of the frame time. Measured on this machine for
0.5-128 int8 (the issue's case) and 1.0-224 fp32 (whose inference time here is close to what 0.5-128 int8
takes on a Raspberry Pi 4, where inference, not capture, is the slow stage). Two pipeline runs each: JSON
lines only (no drawing) and drawing plus recording, against the runner's median inference time. The
classifier overlaps capture+preprocess (a thread) with inference+drawing.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from _common import ROOT, cli, report

sys.path.insert(0, str(ROOT))
from mobiledeploy.bench.stats import summarize  # noqa: E402
from mobiledeploy.bench.local import LocalTarget  # noqa: E402
from mobiledeploy.bench.settings import BenchSettings  # noqa: E402

FRAMES, THREADS = 300, 1  # 1 inference thread + the capture thread = this machine's 2 cores


def make_video(path: Path, frames: int):
    import cv2

    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (640, 480))
    base = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    for i in range(frames):
        writer.write(np.roll(base, i * 4, axis=1))
    writer.release()


CASES = [(0.5, 128, "int8"), (1.0, 224, "fp32")]


def pipeline(art, video, file, extra):
    proc = subprocess.run([sys.executable, str(ROOT / "raspberrypi" / "classify.py"), "--artifact", art, "--file",
                           file, "--source", str(video), "--threads", str(THREADS), "--json-lines",
                           *extra], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = tmp / "clip.avi"
        make_video(video, FRAMES)
        for alpha, res, precision in CASES:
            extra = ["--int8"] if precision == "int8" else []
            proc, _ = cli("export", "--alpha", alpha, "--res", res, *extra, "--formats", "tflite", "--weights",
                          "none", "--out", tmp, "--json", env={"MOBILEDEPLOY_WEIGHTS_URL": "http://127.0.0.1:9/"})
            art = json.loads(proc.stdout)["artifact"]
            file = f"model_{precision}.tflite"
            plain = pipeline(art, video, file, [])
            drawn = pipeline(art, video, file, ["--record", str(tmp / "out.avi")])
            raw = LocalTarget().run(Path(art) / file, BenchSettings(threads=THREADS, runs=100, warmup=10))
            infer_ms = summarize(raw["latencies_ms"])["median_ms"]
            for name, s in (("no_draw", plain), ("draw_and_record", drawn)):
                frame_ms = 1000.0 / s["fps"]
                results.append({"model": f"{alpha}-{res} {precision}", "mode": name, "pipeline_fps": s["fps"],
                                "inference_only_fps": 1000.0 / infer_ms, "inference_median_ms": infer_ms,
                                "overhead_share": max(0.0, 1 - infer_ms / frame_ms),
                                **{k: s[k] for k in ("mean_capture_ms", "mean_preprocess_ms", "mean_inference_ms",
                                                     "mean_draw_ms")}})
    report("pi_pipeline", {"frames": FRAMES, "threads": THREADS, "results": results},
           "; ".join(f"{r['model']} {r['mode']}: {r['pipeline_fps']:.0f} FPS vs inference alone "
                     f"{r['inference_only_fps']:.0f} FPS (overhead {100 * r['overhead_share']:.0f}%)" for r in results)
           + " (goal <= 10%)")


if __name__ == "__main__":
    main()
