"""The same artifact measured through a loopback SSH "board" and with --device local (issue 4: within 10%).

Starts a real OpenSSH server on loopback (tests/sshd.py; needs root and openssh-server), benches the
int8 and fp32 TFLite files both ways, alternating, and compares medians.
"""
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from _common import ROOT, cli, report

sys.path.insert(0, str(ROOT / "tests"))
from sshd import Sshd  # noqa: E402

REPEATS, RUNS = 5, 200


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {"MOBILEDEPLOY_HOME": str(tmp / "home"), "MOBILEDEPLOY_WEIGHTS_URL": "http://127.0.0.1:9/"}
        proc, _ = cli("export", "--alpha", "0.5", "--res", "128", "--int8", "--formats", "tflite", "--weights",
                      "none", "--out", tmp / "models", "--json", env=env)
        art = json.loads(proc.stdout)["artifact"]
        (tmp / "sshd").mkdir()
        server = Sshd(tmp / "sshd").start()
        try:
            cli("devices", "add", "board", "--ssh", f"root@127.0.0.1:{server.port}", "--key", server.client_key,
                "--known-hosts", server.known_hosts, "--python", sys.executable, env=env)
            medians = {(d, f): [] for d in ("local", "board") for f in ("model_int8.tflite", "model_fp32.tflite")}
            for _ in range(REPEATS):
                for (device, file) in medians:
                    out, _ = cli("bench", art, "--device", device, "--file", file, "--runs", RUNS, "--json", env=env)
                    medians[(device, file)].append(json.loads(out.stdout)["results"][0]["measurement"]["median"]["ms"])
        finally:
            server.stop()
    rows = []
    for file in ("model_int8.tflite", "model_fp32.tflite"):
        local, board = np.median(medians[("local", file)]), np.median(medians[("board", file)])
        rows.append({"file": file, "local_ms": float(local), "ssh_ms": float(board),
                     "difference": float(board / local - 1), "within_10_percent": bool(abs(board / local - 1) <= 0.10),
                     "local_medians_ms": medians[("local", file)], "ssh_medians_ms": medians[("board", file)]})
    report("ssh_vs_local", {"repeats": REPEATS, "runs": RUNS, "results": rows},
           ", ".join(f"{r['file']} ssh {r['ssh_ms']:.3f} ms vs local {r['local_ms']:.3f} ms ({100 * r['difference']:+.1f}%)"
                     for r in rows))


if __name__ == "__main__":
    main()
