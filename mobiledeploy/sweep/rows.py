"""The sweep's table rows, from stored results: measured latency, measured / published / no accuracy,
predicted latency for cells not measured, and which rows are on each device's front.

Facts come from each result's `model` block (written by the bench from the manifest), never from
folder names; results without one (older mobiledeploy) are left out.
"""
from __future__ import annotations

from . import front, predictor, published


def latest(records: list[dict], devices=None, threads=None, precisions=None, cells=None) -> list[dict]:
    """The newest TFLite result per (device, alpha, resolution, precision, threads) that passes the filters."""
    out = {}
    for r in records:
        m = r.get("model")
        if not m or r.get("format") != "tflite" or m.get("alpha") is None:
            continue
        thr = (r.get("settings") or {}).get("threads", 1)
        cell = (float(m["alpha"]), int(m["resolution"]))
        if (devices and r["device"] not in devices) or (threads and thr != threads) \
                or (precisions and r["precision"] not in precisions) or (cells and cell not in cells):
            continue
        out[(r["device"], *cell, r["precision"], thr)] = r
    return list(out.values())


def _top1(alpha, res, precision, sha, acc) -> tuple[float | None, str | None, int | None]:
    hit = acc.get(sha) if sha else None
    if hit:
        return hit["top1"], "measured", hit.get("n")
    pub = published.top1(alpha, res, precision)
    return (pub, "published", None) if pub is not None else (None, None, None)


def measured_row(r: dict, acc: dict) -> dict:
    """A table row for one stored result."""
    m = r["model"]
    alpha, res, prec = float(m["alpha"]), int(m["resolution"]), r["precision"]
    top1, source, n = _top1(alpha, res, prec, r.get("sha256"), acc)
    return {"device": r["device"], "alpha": alpha, "resolution": res, "precision": prec,
            "threads": (r.get("settings") or {}).get("threads", 1), "label": f"a{alpha:g}-{res}-{prec}",
            "macs": m.get("macs"), "params": m.get("params"), "size": r.get("size"),
            "weights": (m.get("weights") or {}).get("kind"), "median_ms": r["median_ms"], "p90_ms": r["p90_ms"],
            "latency": "measured", "top1": top1, "top1_source": source, "top1_n": n,
            "artifact": r.get("artifact"), "file": r.get("file"), "time": r.get("time"), "unstable": r.get("unstable")}


def build(records: list[dict], acc: dict, devices=None, threads=None, precisions=None, cells=None) -> dict:
    """{"rows", "predictor"}: measured rows, predicted rows for the grid's unmeasured cells, fronts marked."""
    from ..model.cost import summary

    rows = [measured_row(r, acc) for r in latest(records, devices, threads, precisions, cells)]
    models = []
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["device"], row["precision"], row["threads"]), []).append(row)
    for (device, prec, thr), members in sorted(groups.items()):
        feats = [predictor.features(r["alpha"], r["resolution"], prec) for r in members]
        fits = {k: predictor.fit(feats, [r[k] for r in members]) for k in ("median_ms", "p90_ms")}
        p90 = fits["p90_ms"]
        models.append({"device": device, "precision": prec, "threads": thr, "measured": len(members),
                       "form": p90.form if p90 else None, "loo_median_abs_pct": p90.loo_median_pct if p90 else None,
                       "loo_max_abs_pct": p90.loo_max_pct if p90 else None})
        if not cells or not all(fits.values()):
            continue
        have = {(r["alpha"], r["resolution"]) for r in members}
        for alpha, res in sorted(set(cells) - have):
            f = predictor.features(alpha, res, prec)
            cost = summary(alpha, res)
            top1, source, _ = _top1(alpha, res, prec, None, acc)
            rows.append({"device": device, "alpha": alpha, "resolution": res, "precision": prec, "threads": thr,
                         "label": f"a{alpha:g}-{res}-{prec}", "macs": cost["macs"], "params": cost["params"],
                         "size": None, "weights": None, "median_ms": fits["median_ms"].predict(f),
                         "p90_ms": fits["p90_ms"].predict(f), "latency": "predicted", "top1": top1,
                         "top1_source": source, "top1_n": None, "artifact": None, "file": None})
    for row in rows:
        row["on_front"] = None if row["latency"] == "predicted" or row["top1"] is None else False
    for key in sorted({(r["device"], r["threads"]) for r in rows}):  # one front per device and thread count
        measured = [r for r in rows if (r["device"], r["threads"]) == key and r["latency"] == "measured"]
        for r in front.pareto(measured):
            r["on_front"] = True
    rows.sort(key=lambda r: (r["device"], r["threads"], r["precision"], r["macs"] or 0))
    return {"rows": rows, "predictor": models}

