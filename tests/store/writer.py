"""A process that stores N copies of one real record (another file name and time each) through the store, as
bench and sweep do; the tests run several at once, kill one, or stop the server under one.
usage: writer.py RECORDS.jsonl TAG N SLEEP_S"""
import json
import sys
import time

from mobiledeploy.bench import store
from mobiledeploy.bench.record import BenchRecord

source, tag, n, pause = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
with open(source) as f:
    base = json.loads(f.readline())
for i in range(n):
    doc = dict(base, file=f"w{tag}-{i}.tflite", time=f"2026-12-06T{tag % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}+00:00")
    if len(sys.argv) > 5:                        # big records: a write that takes a while (SIGKILL lands inside)
        doc["latencies_ms"] = [1.0 + (j % 97) / 100 for j in range(int(sys.argv[5]))]
    store.append(BenchRecord.from_dict(doc))
    print(i, flush=True)
    time.sleep(pause)
