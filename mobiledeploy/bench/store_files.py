"""The results store to and from files: `results export` (csv, jsonl, json) and `results import` (a teammate's
export, or the results.jsonl of any earlier version). An imported file is untrusted: every record is checked by
`BenchRecord.from_dict` and one that is not a record is skipped and counted, never stored."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..errors import MobiledeployError
from ..fsutil import atomic_write, check_output
from ..readers import read_bytes
from . import record_lines, store
from .record import BadRecord, BenchRecord

FORMATS = ("csv", "jsonl", "json")
EXPORT_FORMAT = 1           # the json export's own version ("mobiledeploy_results")
MAX_IMPORT_BYTES = 1 << 30
CSV_COLUMNS = ("time", "device", "host", "artifact", "file", "family", "alpha", "resolution", "precision", "threads",
               "median_ms", "p90_ms", "p90_low_ms", "p90_high_ms", "confidence", "verdict", "quiet", "sha256",
               "size", "run", "mobiledeploy")


def csv_row(r: BenchRecord) -> dict:
    """One record as plain CSV cells (a spreadsheet's view; not read back)."""
    p90 = r.p90
    return {"time": r.time, "device": r.device, "host": getattr(r.device_facts, "host", None) or "",
            "artifact": r.artifact, "file": r.file, "family": r.model.architecture if r.model else "",
            "alpha": r.model.alpha if r.model else "", "resolution": r.model.resolution if r.model else "",
            "precision": r.precision, "threads": r.threads, "median_ms": f"{r.median_ms:.6g}",
            "p90_ms": f"{p90.value:.6g}", "p90_low_ms": "" if p90.low is None else f"{p90.low:.6g}",
            "p90_high_ms": "" if p90.high is None else f"{p90.high:.6g}",
            "confidence": "" if p90.confidence is None else p90.confidence,
            "verdict": "stable" if r.measurement.verdict.stable else "unstable",
            "quiet": "yes" if r.noise is None else "no", "sha256": r.sha256 or "", "size": r.size or "",
            "run": r.run or "", "mobiledeploy": r.version or ""}


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula (text from records is untrusted)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def export(out: Path, fmt: str, where: store.Filter) -> int:
    """Write the results `where` selects to `out` in `fmt`; how many."""
    if fmt not in FORMATS:
        raise MobiledeployError(f"--format {fmt} is not one of {', '.join(FORMATS)}")
    check_output(out, "--out")
    records = store.history(latencies=fmt != "csv", where=where)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, CSV_COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in records:
            w.writerow({k: _cell(v) for k, v in csv_row(r).items()})
        data = buf.getvalue()
    elif fmt == "jsonl":
        data = "".join(json.dumps(r.to_dict(), allow_nan=False, default=str) + "\n" for r in records)
    else:
        data = json.dumps({"mobiledeploy_results": EXPORT_FORMAT, "results": [r.to_dict() for r in records],
                           "accuracy": store.accuracy_docs()}, allow_nan=False, default=str, indent=1) + "\n"
    atomic_write(out, data, what="--out")
    return len(records)


def import_file(path: Path) -> dict:
    """Store every record of an export or an old results.jsonl: {"read", "added", "known", "skipped",
    "accuracy_added"}; records already stored are not stored twice."""
    data = read_bytes(path, "results file", MAX_IMPORT_BYTES, "give a file written by `mobiledeploy results "
                      "export` or a results.jsonl")
    head = data.lstrip()[:200]
    records, skipped, accuracy = [], 0, []
    doc = None
    if head.startswith(b"{") and b'"mobiledeploy_results"' in data[:4096]:
        try:
            doc = json.loads(data.decode("utf-8"), parse_constant=lambda name: None)
        except (UnicodeDecodeError, ValueError, RecursionError):
            doc = None
    if isinstance(doc, dict) and "mobiledeploy_results" in doc:
        version = doc["mobiledeploy_results"]
        if type(version) is not int or version > EXPORT_FORMAT:
            raise MobiledeployError(f"{path} is a results export of format {str(version)[:20]!r}, newer than this "
                                    f"mobiledeploy reads ({EXPORT_FORMAT}): upgrade mobiledeploy")
        items = doc.get("results")
        if not isinstance(items, list):
            raise MobiledeployError(f"{path} has no list of results: not a results export")
        for item in items:
            try:
                records.append(BenchRecord.from_dict(item))
            except BadRecord:
                skipped += 1
            except (ValueError, TypeError, OverflowError, RecursionError, KeyError, AttributeError):
                skipped += 1
        accuracy = [a for a in doc.get("accuracy") or [] if isinstance(a, dict)] \
            if isinstance(doc.get("accuracy") or [], list) else []
    else:
        lines = [x for x in data.splitlines() if x.strip()]
        records = record_lines.read(path)           # checks each line; warns once about the others
        skipped = len(lines) - len(records)
    if not records and not accuracy:
        raise MobiledeployError(f"{path} holds no bench record ({skipped} line{'s' if skipped != 1 else ''} that "
                                "are not): give a file written by `mobiledeploy results export` or a results.jsonl")
    added = store.insert(records)
    acc_added = 0
    for a in accuracy:
        try:
            store.add_accuracy(a)
            acc_added += 1
        except MobiledeployError:
            skipped += 1
    return {"read": len(records), "added": added, "known": len(records) - added, "skipped": skipped,
            "accuracy_added": acc_added}
