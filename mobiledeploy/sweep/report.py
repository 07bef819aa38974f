"""The sweep report: a table, the predictor's honest error, and a plot of top-1 against p90 latency."""
from __future__ import annotations

from pathlib import Path

from ..bench.measurement import confidences_text
from .paired import CONFIDENCE as ACCURACY_CONFIDENCE
from ..errors import MobiledeployError
from . import front as front_mod
from .cells import Row
from .published import SOURCE, V2_SOURCE
from .rows import Report


def _top1_cell(r: Row) -> str:
    if r.top1 is None:
        return "-"
    if r.top1_source == "measured":
        return f"{r.top1:.1%} measured (n={r.top1_n})"
    return f"{r.top1:.1%} published"


def _drop_cell(r: Row) -> str:
    d = r.int8_drop
    return "-" if d is None else f"{100 * d.drop:+.1f} [{100 * d.low:+.1f}, {100 * d.high:+.1f}]"


def _marker(arch: str, precision: str) -> str:
    """The plot marker of a family's fp32 or int8 variants (the family record owns it)."""
    from ..model.families import family

    return family(arch).markers[precision == "int8"]


def _families(rows) -> str:
    from ..model.families import family

    return " and ".join(family(a).title for a in sorted({r.arch for r in rows}))


def _title(arch: str) -> str:
    from ..model.families import family

    return family(arch).title


def _marker_legend(ax, rows) -> None:
    """One legend entry per family and precision drawn, named by the family's title (grey: not a device)."""
    for arch, precision in sorted({(r.arch, r.precision) for r in rows}):
        ax.scatter([], [], marker=_marker(arch, precision), s=36, facecolors="none", edgecolors="grey",
                   label=f"{_title(arch)} {precision}")


def table(doc: Report, title: str) -> None:
    """Print the rows and the predictor's leave-one-out error with rich."""
    from rich.table import Table

    from ..progress import out

    t = Table(title=title)
    c = confidences_text(r.p90 for r in doc.rows if r.measured)
    p90_col = f"p90 ms [{c} CI]" if c else "p90 ms"
    drops = any(r.int8_drop is not None for r in doc.rows)
    cols = ["device", "thr", "variant", "MMACs", "Mparams", "MB", "median ms", p90_col, "top-1"] + \
        ([f"int8 drop (pts, {100 * ACCURACY_CONFIDENCE:.0f}% CI)"] if drops else []) + ["front"]
    for col in cols:
        t.add_column(col, justify="right" if col not in ("device", "variant", "top-1") else "left", no_wrap=True)
    for r in doc.rows:
        ms = (lambda v: f"~{v:.2f} pred") if not r.measured else (lambda v: f"{v:.2f}")
        weights = " (random w.)" if r.weights == "random" else ""
        t.add_row(r.device, str(r.threads), r.label + weights, f"{r.macs / 1e6:.0f}" if r.macs else "-",
                  f"{r.params / 1e6:.2f}" if r.params else "-", f"{r.size / 1e6:.2f}" if r.size else "-",
                  ms(r.median_ms), ms(r.p90_ms) + (f" [{r.p90.low:.2f}, {r.p90.high:.2f}]" if r.p90.interval else "")
                  + (" busy" if r.noise else ""),
                  _top1_cell(r), *([_drop_cell(r)] if drops else []), {True: "yes", False: "no", None: "-"}[r.on_front])
    out.print(t)
    if any(r.top1_source == "published" for r in doc.rows):
        out.print(f"published top-1: Google's checkpoints, not these files ({SOURCE}; int8 rows: the "
                  "quantization-aware quant checkpoint)"
                  + (f"; v2: {V2_SOURCE}, float only" if any(r.arch == "mobilenet_v2" and r.top1_source == "published"
                                                             for r in doc.rows) else ""))
    busy = [r for r in doc.rows if r.noise]
    if busy:
        out.print(f"busy: not measured quietly ({busy[0].noise} while measuring {busy[0].label}; {len(busy)} rows): "
                  "those latencies are not the device's alone; measure again when it is quiet (--strict refuses a "
                  "busy device)")
    for d in doc.drift.values():
        out.print(f"{d.text()}: where another run may land is in --json (median_rerun_ms, p90_rerun_ms)")
    if any(r.weights == "random" for r in doc.rows):
        out.print("random w.: no real weights for that variant (--weights-dir): its latency is real, its files "
                  "classify nothing")
    for m in doc.predictor:
        if m["loo_median_abs_pct"] is None:
            out.print(f"predictor {m['device']} {m.get('arch', '')} {m['precision']} {m['threads']} thr: {m['measured']} measured, "
                      "too few for a leave-one-out error")
        else:
            out.print(f"predictor {m['device']} {m.get('arch', '')} {m['precision']} {m['threads']} thr ({m['form']}, "
                      f"{m['measured']} measured): leave-one-out p90 error median {m['loo_median_abs_pct']:.1f}%, "
                      f"max {m['loo_max_abs_pct']:.1f}%, {m['loo_within_10pct']:.0%} within +-10%"
                      + (f"; measurement noise floor +-{m['noise_floor_pct']:.1f}% (median half-width of the "
                         "measured p90 intervals)" if m.get("noise_floor_pct") is not None else ""))


def plot(doc: Report, path: Path) -> Path:
    """Top-1 against p90 latency: one marker per variant, one colour per device, each device's front drawn."""
    from ..plotting import pyplot, save

    plt = pyplot()
    rows = [r for r in doc.rows if r.top1 is not None]
    if not rows:
        return latency_plot(doc, path)
    fig, ax = plt.subplots(figsize=(9, 6), dpi=110)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, device in enumerate(sorted({(r.device, r.threads) for r in rows})):
        colour = colours[i % len(colours)]
        mine = [r for r in rows if (r.device, r.threads) == device]
        for r in mine:
            marker = _marker(r.arch, r.precision)
            filled = r.top1_source == "measured"
            ax.scatter(r.p90_ms, 100 * r.top1, marker=marker, s=36, color=colour,
                       facecolors=colour if filled else "none", alpha=1 if r.measured else 0.5)
            ci = r.top1_interval()
            if r.p90.interval or ci:  # the intervals: p90 (measured here) and top-1 (measured on n images)
                xerr = [[r.p90_ms - r.p90.low], [r.p90.high - r.p90_ms]] if r.p90.interval else None
                yerr = [[100 * (r.top1 - ci[0])], [100 * (ci[1] - r.top1)]] if ci else None
                ax.errorbar(r.p90_ms, 100 * r.top1, xerr=xerr, yerr=yerr, fmt="none", ecolor=colour, alpha=0.6,
                            capsize=2, linewidth=1)
            ax.annotate(r.label + ("" if r.measured else " (pred.)"), (r.p90_ms, 100 * r.top1),
                        textcoords="offset points", xytext=(4, 3), fontsize=6, color=colour)
        fr = front_mod.pareto([r for r in mine if r.measured])
        ax.step([r.p90_ms for r in fr], [100 * r.top1 for r in fr], where="post", color=colour,
                label=f"{device[0]} ({device[1]} thr): front", linewidth=1.5)
    ax.set_xscale("log")
    from matplotlib.ticker import FormatStrFormatter

    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.tick_params(axis="x", which="minor", labelsize=7)
    c = confidences_text(r.p90 for r in rows if r.measured)
    ax.set_xlabel("measured p90 latency (ms, log scale" + (f"; bars: {c} CI" if c else "") + ")")
    ax.set_ylabel("top-1 (%): measured here (filled) or published (hollow): not one scale")
    ax.set_title(f"{_families(rows)}: accuracy against measured latency\n"
                 "markers: family and precision (legend); filled = top-1 measured here, hollow = published "
                 "(the papers' checkpoints)", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    _marker_legend(ax, rows)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return save(fig, path)


def latency_plot(doc: Report, path: Path) -> Path:
    """p90 latency against multiply-adds, when no variant has any top-1 (e.g. resolutions outside the
    published table with random weights): what was measured is still shown."""
    from ..plotting import pyplot, save

    rows = [r for r in doc.rows if r.macs]
    if not rows:
        raise MobiledeployError("nothing to plot: no row has a known cost")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 6), dpi=110)
    for key in sorted({(r.device, r.threads, r.precision, r.arch) for r in rows}):
        mine = sorted((r for r in rows if (r.device, r.threads, r.precision, r.arch) == key), key=lambda r: r.macs)
        line, = ax.plot([r.macs / 1e6 for r in mine], [r.p90_ms for r in mine],
                        marker=_marker(key[3], key[2]), linestyle="-",
                        label=f"{key[0]} ({key[1]} thr) {_title(key[3])} {key[2]}")
        for r in mine:
            ax.annotate(r.label + ("" if r.measured else " (pred.)"), (r.macs / 1e6, r.p90_ms), textcoords="offset points",
                        xytext=(4, 3), fontsize=6, color=line.get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("multiply-adds (millions, log scale)")
    ax.set_ylabel("p90 latency (ms, log scale)")
    ax.set_title(f"{_families(rows)}: latency against cost (no top-1 is known for these variants: measure it with "
                 "--weights-dir and --data)", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)
