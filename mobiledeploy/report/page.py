"""The results page as one self-contained HTML file: plotly inlined, styles inside, the data as JSON inside.

Nothing on the page asks for anything outside it: its Content-Security-Policy allows no source but the file's
own inline scripts and styles. Every text from the store (device names, labels, paths, reasons) is escaped into
the HTML (html.escape), into plotly's fields (figures.esc) and into the embedded JSON (no "<", ">" or "&" left
raw); the page's script writes store texts with textContent only.
"""
from __future__ import annotations

import functools
import html
import json
from pathlib import Path

from ..bench.measurement import Estimate
from ..model.families import family
from . import budgets, figures
from .data import DevicePage, Page

#: the page may run its own inline script and style and nothing else; no request leaves it
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
       "font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'")


@functools.lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly.js itself, from the installed plotly package (no CDN); safe inside a <script> element."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().replace("</script", "<\\/script")


def e(text) -> str:
    """Store text as HTML text."""
    return html.escape("" if text is None else str(text), quote=True)


def json_for_script(obj) -> str:
    """JSON that cannot end its <script> element or open a comment: "<", ">" and "&" as \\u escapes."""
    text = json.dumps(obj, allow_nan=False, default=str)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _ms(est: Estimate | None) -> str:
    if est is None:
        return "-"
    return f"{est.value:.2f}" + (f" <span class=ci>[{est.low:.2f}, {est.high:.2f}]</span>" if est.interval else "")


def _top1(row) -> str:
    if row.top1 is None:
        return "<span class=muted>unknown</span>"
    if row.top1_source == "measured":
        return f"{row.top1:.1%} <span class=src>measured (n={row.top1_n})</span>"
    return f"{row.top1:.1%} <span class=src>published</span>"


def _quiet(noise: str | None) -> str:
    return f"<span class=warn title=\"{e(noise)}\">not quiet: {e(noise)}</span>" if noise else "quiet"


def _rows_table(d: DevicePage) -> str:
    head = ("<tr><th>variant</th><th>family</th><th>thr</th><th>file</th><th>MB</th><th>M mult-adds</th>"
            "<th>median ms</th><th>p90 ms</th><th>top-1</th><th>verdict</th><th>quietness</th><th>runtime</th>"
            "<th>measured</th><th>front</th></tr>")
    body = []
    for r in sorted(d.rows, key=lambda r: (r.threads, r.p90_ms)):
        rec = d.records.get(budgets.row_key(r))
        facts = rec.device_facts if rec else None
        verdict = rec.measurement.verdict if rec else None
        runtime = " ".join(str(x) for x in (facts.runtime, facts.runtime_version) if x) if facts else ""
        body.append(
            f"<tr class=\"{'noisy' if r.noise else ''}\"><td class=label>{e(r.label)}"
            f"{' <span class=muted>(random w.)</span>' if r.weights == 'random' else ''}</td>"
            f"<td>{e(family(r.arch).title)}</td><td class=n>{r.threads}</td>"
            f"<td title=\"{e(r.artifact)}\">{e(Path(r.artifact or '').name)}/{e(r.file)}</td>"
            f"<td class=n>{f'{r.size / 1e6:.2f}' if r.size else '-'}</td>"
            f"<td class=n>{f'{r.macs / 1e6:.1f}' if r.macs else '-'}</td>"
            f"<td class=n>{_ms(r.median)}</td><td class=n>{_ms(r.p90)}</td><td>{_top1(r)}</td>"
            f"<td title=\"{e(verdict.reason if verdict else '')}\">{e(verdict.word if verdict else '-')}</td>"
            f"<td>{_quiet(r.noise)}</td><td>{e(runtime or '-')}</td><td>{e(r.time)}</td>"
            f"<td>{'yes' if r.on_front else '-' if r.on_front is None else 'no'}</td></tr>")
    return f"<table class=rows>{head}{''.join(body)}</table>"


def _history_table(d: DevicePage) -> str:
    head = ("<tr><th>variant</th><th>thr</th><th>artifact</th><th>measured</th><th>median ms</th><th>p90 ms</th>"
            "<th>median vs the run before</th><th>verdict</th><th>quietness</th></tr>")
    body = []
    for h in d.histories:
        for i, r in enumerate(h.runs):
            if r.change is None:
                change = "<span class=muted>first run</span>"
            else:
                change = f"{100 * r.change:+.1f}%" + (
                    " <span class=warn>beyond its interval and the drift</span>" if r.beyond
                    else " <span class=muted>within</span>" if r.beyond is False else "")
            body.append(f"<tr class=\"{'noisy' if r.noise else ''}{' first' if i == 0 else ''}\">"
                        f"<td class=label>{e(h.label) if i == 0 else ''}</td><td class=n>{h.threads if i == 0 else ''}</td>"
                        f"<td title=\"{e(h.artifact)}\">{e(Path(h.artifact).name + '/' + h.file) if i == 0 else ''}</td>"
                        f"<td>{e(r.time)}</td><td class=n>{_ms(r.median)}</td><td class=n>{_ms(r.p90)}</td>"
                        f"<td>{change}</td><td title=\"{e(r.reason)}\">{e(r.verdict)}</td><td>{_quiet(r.noise)}</td></tr>")
    return f"<table class=history>{head}{''.join(body)}</table>"


def _steps_table(d: DevicePage) -> str:
    body = []
    for i, s in enumerate(d.steps):
        upto = d.steps[i + 1].from_ms if i + 1 < len(d.steps) else None
        span = f"{s.from_ms:.4g} to {upto:.4g} ms" if upto is not None else f"{s.from_ms:.4g} ms and more"
        chosen = e(s.chosen["label"]) + f" ({s.chosen['threads']} thr)" if s.chosen else "nothing fits"
        body.append(f"<tr><td class=n>{span}</td><td class=label>{chosen}</td>"
                    f"<td>{'decided' if s.decided else '<span class=warn>undecided</span>'}</td></tr>")
    return ("<table class=steps><tr><th>budget</th><th>pick's answer</th><th></th></tr>"
            f"{''.join(body)}</table>")


def _facts(d: DevicePage) -> str:
    f = d.facts
    parts = [f.get("cpu_model"), f.get("machine"), f"{f['cores']} cores" if f.get("cores") else None,
             f"governor {f['governor']}" if f.get("governor") else None,
             " ".join(str(x) for x in (f.get("runtime"), f.get("runtime_version")) if x) or None,
             "XNNPACK" if f.get("xnnpack") else None,
             f"mobiledeploy {f['mobiledeploy']}" if f.get("mobiledeploy") else None]
    return e(", ".join(str(p) for p in parts if p)) or "<span class=muted>no device facts stored</span>"


def _device(i: int, d: DevicePage) -> str:
    drift = (e(d.drift.text()) if d.drift else
             "drift between runs: not known yet (it needs 3 or more files measured in two runs: sweep --again)")
    noisy = (f"<p class=warn>{len(d.not_quiet)} of {len(d.rows)} measured variants were not measured quietly "
             "(ringed on the chart): their latency is not the device's alone; measure them again when it is quiet.</p>"
             if d.not_quiet else "")
    if not d.rows:
        return (f"<section class=device id=dev-{i}><h2>{e(d.device)}</h2><p class=facts>{_facts(d)}</p>"
                f"<p class=muted>{d.results} stored results, none of a TFLite file with its model facts: nothing to "
                "place on the front.</p>"
                f"<h3>History</h3><div class=plot id=history-{i}></div>{_history_table(d)}</section>")
    return f"""<section class=device id=dev-{i}>
<h2>{e(d.device)}</h2>
<p class=facts>{_facts(d)}</p>
<p class=drift>{drift}</p>
{noisy}
<h3>Measured front: top-1 against p90</h3>
<div class=plot id=front-{i}></div>
<div class=pick>
  <h3>pick for a budget</h3>
  <label>budget <input type=number id=budget-{i} min=0 step=any> ms</label>
  <input type=range id=budget-range-{i} min=0 max=1000 step=1 aria-label="budget (log scale)">
  <div class=answer>
    <p><b id=pick-label-{i}></b> <span id=pick-line-{i}></span></p>
    <p id=pick-state-{i}></p>
    <p class=why id=pick-why-{i}></p>
    <ul id=pick-more-{i}></ul>
    <p class=muted id=pick-range-{i}></p>
  </div>
  <details><summary>every budget where the answer changes</summary>{_steps_table(d)}</details>
  <p class=muted>The answer is <code>mobiledeploy pick --device {e(d.device)} --budget-ms B</code>'s (the one Python
  pick, precomputed at every budget where its answer changes; threads, precision and accuracy as pick's
  defaults). Whether the chosen artifact is still on disk is checked by pick itself, not here.</p>
</div>
<h3>Measured variants</h3>
{_rows_table(d)}
<h3>History of each file</h3>
<div class=plot id=history-{i}></div>
{_history_table(d)}
</section>"""


def _side(page: Page) -> str:
    table = page.side_by_side()
    if not table:
        return ("<section id=side><h2>Devices side by side</h2><p class=muted>No variant was measured on two "
                "devices or more" + (" (one device in this page)" if len(page.devices) < 2 else "") + ".</p></section>")
    devices = sorted({d for s in table for d in s["devices"]})
    head = "<tr><th>variant</th><th>thr</th>" + "".join(f"<th>{e(d)} p90 ms</th>" for d in devices) + "</tr>"
    body = []
    for s in table:
        cells = []
        for d in devices:
            rows = s["devices"].get(d, [])
            cells.append("<td class=n>" + "<br>".join(
                _ms(r.p90) + (f" <span class=warn title=\"{e(r.noise)}\">not quiet</span>" if r.noise else "")
                for r in rows) + ("-" if not rows else "") + "</td>")
        body.append(f"<tr><td class=label>{e(s['label'])}</td><td class=n>{s['threads']}</td>{''.join(cells)}</tr>")
    return (f"<section id=side><h2>Devices side by side</h2><div class=plot id=side-plot></div>"
            f"<table class=side>{head}{''.join(body)}</table></section>")


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d2126;background:#f6f7f9}
header,section,footer,nav{max-width:1200px;margin:0 auto;padding:8px 24px}
header{padding-top:18px} h1{font-size:22px;margin:0 0 4px} h2{font-size:19px;margin:8px 0 2px}
h3{font-size:15px;margin:18px 0 6px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:8px;margin:14px auto;padding:10px 24px 18px}
nav a{margin-right:14px} .muted{color:#6a737d} .src{color:#6a737d;font-size:12px} .ci{color:#6a737d;font-size:12px}
.warn{color:#9a5b00;background:#fff4d6;border-radius:4px;padding:0 4px}
table{border-collapse:collapse;width:100%;font-size:12.5px;margin:4px 0}
th,td{border-bottom:1px solid #eaecef;padding:3px 6px;text-align:left;vertical-align:top;white-space:nowrap}
td.label{font-weight:600} td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.noisy td{background:#fffaf0} tr.first td{border-top:1px solid #c8ccd1}
.facts,.drift{margin:2px 0;color:#444} .plot{width:100%}
.pick{border:1px solid #d0d7de;border-radius:8px;padding:6px 14px;background:#fbfcfd;margin-top:8px}
.pick input[type=number]{width:90px;font-size:14px} .pick input[type=range]{width:320px;vertical-align:middle}
.answer b{font-size:16px} .why{white-space:normal;color:#333} details{margin:6px 0}
.rows,.history,.side{display:block;overflow-x:auto}
"""

SCRIPT = r"""
(function () {
  'use strict';
  const page = JSON.parse(document.getElementById('page-data').textContent);
  const MARK = page.budget_mark;
  const config = {displaylogo: false, responsive: true};
  const g = x => String(parseFloat(x.toPrecision(6)));   // Python's {:g}
  const pct = x => (100 * x).toFixed(1) + '%';
  const text = (id, value) => { document.getElementById(id).textContent = value; };
  function top1(c) {
    if (c.top1 === null) return 'unknown (no real weights, no published number)';
    return pct(c.top1) + ' ' + c.top1_source;
  }
  function step(steps, budget) {
    let found = null;
    for (const s of steps) if (s.from_ms <= budget) found = s;
    return found;
  }
  function pointOf(gd, key) {
    for (const t of gd.data) {
      if (!t.meta || t.meta.role !== 'variant') continue;
      const i = (t.customdata || []).indexOf(key);
      if (i >= 0) return {x: t.x[i], y: t.y[i], yaxis: t.yaxis || 'y'};
    }
    return null;
  }
  function show(i, budget) {
    const d = page.devices[i];
    const gd = document.getElementById('front-' + i);
    const more = document.getElementById('pick-more-' + i);
    more.replaceChildren();
    if (!(budget > 0) || !isFinite(budget)) {
      text('pick-label-' + i, '');
      text('pick-line-' + i, 'enter a budget: a positive number of milliseconds');
      for (const k of ['state', 'why', 'range']) text('pick-' + k + '-' + i, '');
      return;
    }
    const s = step(d.budgets, budget);
    const c = s.chosen;
    text('pick-label-' + i, c ? c.label : 'nothing fits');
    text('pick-line-' + i, c ? '(' + c.family + ', ' + c.threads + ' thr): ' + c.p90 + ' <= ' + g(budget) +
         ' ms, top-1 ' + top1(c) : '(pick exits with code 3)');
    text('pick-state-' + i, s.decided ? 'decided' : 'undecided: see why');
    document.getElementById('pick-state-' + i).className = s.decided ? '' : 'warn';
    text('pick-why-' + i, 'why: ' + s.why.split(MARK).join(g(budget)));
    const item = line => { const li = document.createElement('li'); li.textContent = line; more.appendChild(li); };
    for (const r of s.contenders) item('undecided against ' + r.label + ': ' + r.p90 + ' holds the budget, top-1 ' + top1(r));
    for (const r of s.noisy) item('not measured quietly: ' + r.label + ' (' + r.noise + ')');
    if (s.faster) item('faster on the front: ' + s.faster.label + ' ' + s.faster.p90 + ', top-1 ' + top1(s.faster));
    if (s.more_accurate) item('more accurate on the front: ' + s.more_accurate.label + ' ' + s.more_accurate.p90 +
                              ', top-1 ' + top1(s.more_accurate));
    if (c) item('artifact: ' + c.artifact + ' (' + c.file + ')');
    const k = d.budgets.indexOf(s);
    const upto = k + 1 < d.budgets.length ? d.budgets[k + 1].from_ms : null;
    const short = x => String(parseFloat(x.toPrecision(4)));
    text('pick-range-' + i, 'the same answer for every budget from ' + short(s.from_ms) + ' ms' +
         (upto === null ? ' up' : ' to below ' + short(upto) + ' ms'));
    if (gd && gd.data) {
      const at = c ? pointOf(gd, c.key) : null;
      const idx = gd.data.findIndex(t => t.meta && t.meta.role === 'chosen');
      if (idx >= 0) Plotly.restyle(gd, {x: [at ? [at.x] : []], y: [at ? [at.y] : []], yaxis: [at ? at.yaxis : 'y']}, [idx]);
      Plotly.relayout(gd, {shapes: [{type: 'line', xref: 'x', yref: 'paper', x0: budget, x1: budget, y0: 0, y1: 1,
                                     line: {color: '#111', width: 1.5, dash: 'dash'}}]});
    }
  }
  function budgetControl(i) {
    const d = page.devices[i];
    const box = document.getElementById('budget-' + i);
    const slider = document.getElementById('budget-range-' + i);
    if (!box || !d.budgets.length) return;
    const lo = Math.log(d.budget_range[0]), hi = Math.log(d.budget_range[1]);
    const toSlider = b => Math.round(1000 * (Math.log(b) - lo) / (hi - lo));
    const fromSlider = v => Math.exp(lo + (hi - lo) * v / 1000);
    box.addEventListener('input', () => { const b = parseFloat(box.value); if (b > 0) slider.value = toSlider(b); show(i, b); });
    slider.addEventListener('input', () => { const b = parseFloat(g(fromSlider(+slider.value))); box.value = b; show(i, b); });
    box.value = d.budget_default;
    slider.value = toSlider(d.budget_default);
    show(i, d.budget_default);
  }
  page.devices.forEach((d, i) => {
    if (d.front) Plotly.newPlot('front-' + i, d.front.data, d.front.layout, config);
    if (d.history) Plotly.newPlot('history-' + i, d.history.data, d.history.layout, config);
    budgetControl(i);
  });
  if (page.side) Plotly.newPlot('side-plot', page.side.data, page.side.layout, config);
  window.mobiledeployReport = {show: show, ready: true};
})();
"""


def _script_data(page: Page) -> dict:
    devices = []
    for d in page.devices:
        points = budgets.break_points(d.rows)
        default = (points[0] * points[-1]) ** 0.5 if points else None
        devices.append({"device": d.device,
                        "front": figures.front(d, budgets.row_key) if d.rows else None,
                        "history": figures.history(d) if d.histories else None,
                        "budgets": [s.to_dict() for s in d.steps],
                        "budget_default": float(f"{default:.3g}") if default else None,
                        "budget_range": [points[0] / 2, points[-1] * 2] if points else None})
    return {"budget_mark": budgets.BUDGET_MARK, "devices": devices, "side": figures.side_by_side(page)}


def render(page: Page, title: str = "mobiledeploy results") -> str:
    """The whole page as one HTML text."""
    nav = " ".join(f"<a href=\"#dev-{i}\">{e(d.device)}</a>" for i, d in enumerate(page.devices))
    filters = page.filters.text()
    body = "".join(_device(i, d) for i, d in enumerate(page.devices)) if page.devices else (
        "<section><p>The results store holds no result" + (" that passes the filters" if filters else "")
        + ": measure with <code>mobiledeploy bench</code> or <code>mobiledeploy sweep</code>.</p></section>")
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8>
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name=viewport content="width=device-width, initial-scale=1">
<meta name=referrer content=no-referrer>
<link rel=icon href="data:,">
<title>{e(title)}</title>
<style>{STYLE}</style>
</head><body>
<header><h1>{e(title)}</h1>
<p class=muted>{page.records} stored results on {len(page.devices)} device(s){', filtered: ' + e(filters) if filters else ''};
p90 intervals at {e(page.confidence or 'no')} confidence; made {e(page.generated)} by mobiledeploy {e(page.version)}.
Latencies are p90s with their intervals (error bars); a point is hollow when its top-1 is a published number
(Google's checkpoint), filled when measured here: the two are not one scale. Ringed points were not measured quietly.</p>
</header>
<nav>{nav}{' <a href="#side">devices side by side</a>' if page.devices else ''}</nav>
{body}
{_side(page) if page.devices else ''}
<footer class=muted><p>{e(figures.published_note([r for d in page.devices for r in d.rows]))}</p>
<p>This file holds its scripts, styles and data: it works offline and asks for nothing outside itself.</p></footer>
<script type="application/json" id=page-data>{json_for_script(_script_data(page))}</script>
<script>{plotly_js()}</script>
<script>{SCRIPT}</script>
</body></html>
"""


def write(page: Page, out) -> Path:
    """Write the page to `out` through a temporary file and a rename (no half-written page); creates the folder."""
    from ..fsutil import atomic_write, check_output, disk_error, make_dirs, remove_dirs

    out = Path(out)
    check_output(out, "--out")
    try:
        created = make_dirs(out.parent) if not out.parent.exists() else []
    except OSError as exc:
        raise (disk_error(exc, "cannot create the folder of", out) or exc) from None
    try:
        return atomic_write(out, render(page).encode("utf-8", "replace"), what="--out")
    except BaseException:
        remove_dirs(created)
        raise
