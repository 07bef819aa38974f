"""The page's plotly figures as plain dicts ({"data": [...], "layout": {...}}) for Plotly.newPlot.

plotly reads trace names, hover text and titles as a small HTML dialect; every text from the store goes through
`esc` (html.escape), which plotly shows back as the literal characters: a device called <b>x</b> is shown so.
Each trace carries `meta.role`: "variant" (one point per measured variant), "front", "not-quiet", "chosen",
"history", "device".
"""
from __future__ import annotations

import html

from ..bench.measurement import confidences_text
from ..model.families import family
from ..sweep.cells import Row
from ..sweep.published import SOURCE, V2_SOURCE

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f")
NOT_QUIET = "#e8a000"
FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12}


def esc(text) -> str:
    """A store text for plotly's text fields: shown as written, never read as markup."""
    return html.escape(str(text), quote=True)


def _mb(size) -> str:
    return f"{size / 1e6:.2f} MB" if size else "size unknown"


def hover(row: Row, record) -> str:
    """What a point says on hover: variant, family, precision, file, size, mult-adds, latency with its interval,
    top-1 and its source, verdict, quietness, runtime and versions."""
    m = record.measurement if record is not None else None
    facts = record.device_facts if record is not None else None
    top1 = ("top-1 unknown (no measured or published number)" if row.top1 is None else
            f"top-1 {row.top1:.1%} {'measured here' if row.top1_source == 'measured' else 'published'}"
            + (f" (n={row.top1_n})" if row.top1_n else ""))
    lines = [f"<b>{esc(row.label)}</b> ({esc(family(row.arch).title)}, {esc(row.precision)}, {row.threads} thr)",
             f"file {esc(row.file)} in {esc(row.artifact)}",
             f"{_mb(row.size)}, {row.macs / 1e6:.1f} M mult-adds" if row.macs else _mb(row.size),
             esc(row.p90.text("p90")), esc(row.median.text("median")), esc(top1)]
    if row.weights == "random":
        lines.append("random weights: real latency, classifies nothing")
    if m is not None:
        lines.append(f"verdict {esc(m.verdict.word)}: {esc(m.verdict.reason)}")
        lines.append(f"measured {m.processes} processes, {m.samples} samples")
    lines.append(f"NOT QUIET: {esc(row.noise)}" if row.noise else "measured quietly")
    if facts is not None:
        runtime = " ".join(str(x) for x in (facts.runtime, facts.runtime_version) if x) or "runtime unknown"
        lines.append(f"runtime {esc(runtime)}" + (", XNNPACK" if facts.xnnpack else "")
                     + (f", mobiledeploy {esc(record.version)}" if record.version else ""))
    lines.append(f"measured {esc(row.time)}")
    return "<br>".join(lines)


def _error(values, lows, highs) -> dict:
    return {"type": "data", "symmetric": False, "array": [h - v for v, h in zip(values, highs)],
            "arrayminus": [v - lo for v, lo in zip(values, lows)], "thickness": 1.2, "width": 3}


def front(page, row_keys) -> dict:
    """Top-1 against p90 (log scale) with the p90 interval as error bars: one point per measured variant,
    filled when top-1 was measured here, hollow when published; each thread count's front as a line; variants
    without any top-1 in a strip below; not-quiet measurements ringed."""
    rows = page.rows
    threads = sorted({r.threads for r in rows})
    data = []
    with_top1 = [r for r in rows if r.top1 is not None]
    without = [r for r in rows if r.top1 is None]
    for i, t in enumerate(threads):
        colour = COLOURS[i % len(COLOURS)]
        for source, symbol, name in (("measured", "circle", "top-1 measured here"),
                                     ("published", "circle-open", "top-1 published")):
            mine = [r for r in with_top1 if r.threads == t and r.top1_source == source]
            if not mine:
                continue
            ys = [100 * r.top1 for r in mine]
            ci = [r.top1_interval() for r in mine]
            trace = {"type": "scatter", "mode": "markers", "name": f"{t} thr: {name}",
                     "x": [r.p90_ms for r in mine], "y": ys, "error_x": _error([r.p90_ms for r in mine],
                                                                                [r.p90_low for r in mine],
                                                                                [r.p90_high for r in mine]),
                     "marker": {"symbol": symbol, "size": 10, "color": colour, "line": {"width": 2, "color": colour}},
                     "text": [hover(r, page.records.get(k)) for r, k in ((r, row_keys(r)) for r in mine)],
                     "hoverinfo": "text", "customdata": [row_keys(r) for r in mine],
                     "meta": {"role": "variant"}}
            if any(ci):
                trace["error_y"] = _error(ys, [100 * c[0] if c else y for c, y in zip(ci, ys)],
                                          [100 * c[1] if c else y for c, y in zip(ci, ys)])
            data.append(trace)
        fr = sorted((r for r in page.front if r.threads == t), key=lambda r: r.p90_ms)   # along the line
        if len(fr) > 1:
            data.append({"type": "scatter", "mode": "lines", "name": f"{t} thr: front", "x": [r.p90_ms for r in fr],
                         "y": [100 * r.top1 for r in fr], "line": {"shape": "hv", "color": colour, "width": 1.5},
                         "hoverinfo": "skip", "meta": {"role": "front"}})
    if without:
        for i, t in enumerate(threads):
            mine = [r for r in without if r.threads == t]
            if mine:
                data.append({"type": "scatter", "mode": "markers", "name": f"{t} thr: top-1 unknown",
                             "x": [r.p90_ms for r in mine], "y": ["top-1 unknown"] * len(mine), "yaxis": "y2",
                             "error_x": _error([r.p90_ms for r in mine], [r.p90_low for r in mine],
                                               [r.p90_high for r in mine]),
                             "marker": {"symbol": "diamond-open", "size": 10, "color": COLOURS[i % len(COLOURS)]},
                             "text": [hover(r, page.records.get(row_keys(r))) for r in mine], "hoverinfo": "text",
                             "customdata": [row_keys(r) for r in mine], "meta": {"role": "variant"}})
    shown = False
    for mine, axis in (([r for r in page.not_quiet if r.top1 is not None], "y"),
                       ([r for r in page.not_quiet if r.top1 is None], "y2")):
        if mine:   # a ring around each point measured while other work used the device (one legend entry)
            data.append({"type": "scatter", "mode": "markers", "name": "not measured quietly", "yaxis": axis,
                         "x": [r.p90_ms for r in mine],
                         "y": [100 * r.top1 if axis == "y" else "top-1 unknown" for r in mine],
                         "marker": {"symbol": "circle-open", "size": 20, "color": NOT_QUIET, "line": {"width": 3}},
                         "text": [f"NOT QUIET: {esc(r.noise)}" for r in mine], "hoverinfo": "text",
                         "showlegend": not shown, "meta": {"role": "not-quiet"}})
            shown = True
    data.append({"type": "scatter", "mode": "markers", "name": "pick's answer", "x": [], "y": [],
                 "marker": {"symbol": "star", "size": 18, "color": "#111", "line": {"width": 1, "color": "#fff"}},
                 "hoverinfo": "skip", "meta": {"role": "chosen"}})
    conf = confidences_text(r.p90 for r in rows)
    layout = {"font": FONT, "height": 460 if without else 420, "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
              "hovermode": "closest", "hoverlabel": {"align": "left"},
              "legend": {"orientation": "h", "y": -0.18},
              "xaxis": {"type": "log", "title": {"text": "measured p90 latency (ms, log scale"
                                                 + (f"; bars: {conf} interval)" if conf else ")")},
                        "anchor": "y2" if without else "y"},
              "yaxis": {"title": {"text": "top-1 (%)"}, "domain": [0.2, 1] if without else [0, 1]},
              "shapes": [], "showlegend": True}
    if without:
        layout["yaxis2"] = {"domain": [0, 0.1] if with_top1 else [0, 1], "type": "category", "fixedrange": True}
    if not with_top1:   # nothing to place on a top-1 axis: the strip is the chart
        layout["yaxis"] = {"visible": False, "domain": [0, 0]}
        layout["height"] = 280
    return {"data": data, "layout": layout}


def history(page) -> dict:
    """Each file's p90 over its runs, with its interval; not-quiet runs ringed."""
    data = []
    for i, h in enumerate(page.histories):
        runs = h.runs
        data.append({"type": "scatter", "mode": "lines+markers", "name": esc(f"{h.label} {h.threads} thr "
                                                                              f"({h.artifact.rsplit('/', 1)[-1]})"),
                     "x": [r.time for r in runs], "y": [r.p90.value for r in runs],
                     "error_y": _error([r.p90.value for r in runs], [r.p90.lower for r in runs],
                                       [r.p90.upper for r in runs]),
                     "marker": {"color": COLOURS[i % len(COLOURS)], "size": 7},
                     "line": {"color": COLOURS[i % len(COLOURS)], "width": 1},
                     "text": [esc(f"{h.label}, {h.threads} thr, {r.time}: {r.p90.text('p90')}, {r.verdict}")
                              + (f"<br>{100 * r.change:+.1f}% median against the run before"
                                 + (" (beyond its interval and the drift)" if r.beyond else "")
                                 if r.change is not None else "")
                              + (f"<br>NOT QUIET: {esc(r.noise)}" if r.noise else "") for r in runs],
                     "hoverinfo": "text", "meta": {"role": "history"}})
    noisy = [(r.time, r.p90.value, r.noise) for h in page.histories for r in h.runs if r.noise]
    if noisy:
        data.append({"type": "scatter", "mode": "markers", "name": "not measured quietly",
                     "x": [t for t, _, _ in noisy], "y": [v for _, v, _ in noisy],
                     "marker": {"symbol": "circle-open", "size": 16, "color": NOT_QUIET, "line": {"width": 3}},
                     "text": [f"NOT QUIET: {esc(n)}" for _, _, n in noisy], "hoverinfo": "text",
                     "meta": {"role": "not-quiet"}})
    layout = {"font": FONT, "height": 360, "margin": {"l": 60, "r": 20, "t": 20, "b": 50}, "hovermode": "closest",
              "xaxis": {"type": "date", "title": {"text": "measured at (UTC)"}},
              "yaxis": {"type": "log", "title": {"text": "p90 (ms, log scale)"}},
              "legend": {"font": {"size": 10}}}
    return {"data": data, "layout": layout}


def side_by_side(page) -> dict | None:
    """The p90 of each variant measured on several devices, one bar per device, with intervals."""
    table = page.side_by_side()
    if not table:
        return None
    devices = sorted({d for s in table for d in s["devices"]})
    data = []
    for i, device in enumerate(devices):
        xs, ys, lows, highs, texts = [], [], [], [], []
        for s in table:
            for r in s["devices"].get(device, []):
                xs.append(esc(f"{s['label']} {s['threads']} thr"))
                ys.append(r.p90_ms)
                lows.append(r.p90_low)
                highs.append(r.p90_high)
                texts.append(esc(f"{device}: {r.label} {r.threads} thr, {r.p90.text('p90')}")
                             + (f"<br>NOT QUIET: {esc(r.noise)}" if r.noise else ""))
        data.append({"type": "bar", "name": esc(device), "x": xs, "y": ys, "error_y": _error(ys, lows, highs),
                     "marker": {"color": COLOURS[i % len(COLOURS)]}, "hovertext": texts, "hoverinfo": "text",
                     "meta": {"role": "device"}})
    layout = {"font": FONT, "height": 380, "barmode": "group", "margin": {"l": 60, "r": 20, "t": 20, "b": 90},
              "yaxis": {"type": "log", "title": {"text": "p90 (ms, log scale)"}},
              "xaxis": {"title": {"text": "variant"}}, "hovermode": "closest"}
    return {"data": data, "layout": layout}


def published_note(rows) -> str:
    """Where the published top-1 numbers on the page come from ("" when none is shown)."""
    used = {r.arch for r in rows if r.top1_source == "published"}
    if not used:
        return ""
    sources = [s for arch, s in (("mobilenet_v1", SOURCE), ("mobilenet_v2", V2_SOURCE)) if arch in used]
    return ("published top-1: Google's checkpoints, not these files (" + "; ".join(sources) + "; v1 int8: the "
            "quantization-aware quant checkpoint)")
