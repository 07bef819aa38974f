"""Per-device latency model: predicts an unmeasured variant's latency from the cost model.

Features come from mobiledeploy/model/cost.py, per layer type: multiply-adds of the full 3x3
convolution, the depthwise and the pointwise (1x1) layers and the classifier, plus the bytes of
activations written (4 per value in fp32, 1 in int8). A few linear forms are tried and the one with
the smallest leave-one-out error on the measured variants is kept, per device x precision x threads:
the form is chosen by measuring, not by assumption. Fits minimise relative error (each row is divided
by its latency) because the error that matters to a latency budget is a percentage.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.cost import VALUE_BYTES, layer_costs

#: name -> features used (besides the constant): candidate forms, simplest first.
FORMS = {
    "macs": ("macs",),
    "macs+act": ("macs", "act_bytes"),
    "dense+dw": ("dense_macs", "dw_macs"),
    "dense+dw+act": ("dense_macs", "dw_macs", "act_bytes"),
}

#: forms measured but not tried by `fit` (benchmarks/predictor_families.py compares them across families)
EXTRA_FORMS = {
    "mac": ("mac_bytes",),
    "macs+mac": ("macs", "mac_bytes"),
}


def features(alpha: float, resolution: int, precision: str, family=None) -> dict:
    """Per-layer-type multiply-adds (millions), activation megabytes and memory access cost (megabytes at the
    precision: every layer's inputs, outputs and weights, ShuffleNet V2's MAC) of one variant (default: v1)."""
    kw = {"precision": precision} if precision in VALUE_BYTES else {}
    rows = layer_costs(alpha, resolution, family=family, **kw) if family is not None \
        else layer_costs(alpha, resolution, **kw)
    by = {k: sum(r.macs for r in rows if r.kind == k) for k in ("conv", "dw", "pw", "fc")}
    width = 1 if precision == "int8" else 4
    act = sum(np.prod([int(v) for v in r.output.split("x")]) for r in rows) * width
    return {"macs": sum(by.values()) / 1e6, "dw_macs": by["dw"] / 1e6,
            "dense_macs": (by["conv"] + by["pw"] + by["fc"]) / 1e6, "act_bytes": float(act) / 1e6,
            "mac_bytes": sum(r.mac for r in rows) / 1e6}


def _design(rows: list[dict], names: tuple) -> np.ndarray:
    return np.array([[1.0, *(r[n] for n in names)] for r in rows])


def _fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    coef, *_ = np.linalg.lstsq(x / y[:, None], np.ones_like(y), rcond=None)
    return coef


def loo_errors(rows: list[dict], y: list[float], names: tuple) -> list[float]:
    """Absolute percent error of each point predicted by a fit on all the others."""
    x, y = _design(rows, names), np.asarray(y, float)
    errs = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        coef = _fit(x[keep], y[keep])
        errs.append(float(abs(x[i] @ coef - y[i]) / y[i] * 100))
    return errs


@dataclass
class Model:
    """A fitted form for one device x precision x threads; `predict` takes a features dict."""

    form: str
    coef: list[float]
    n: int
    loo_median_pct: float | None
    loo_max_pct: float | None
    loo_within_10: float | None = None   # share of held-out points predicted within +-10%

    def predict(self, feats: dict) -> float:
        """Predicted latency (ms) for one variant's features."""
        return float((_design([feats], {**FORMS, **EXTRA_FORMS}[self.form]) @ np.asarray(self.coef))[0])


def fit_form(rows: list[dict], y: list[float], form: str) -> Model:
    """One named form (a key of FORMS or of EXTRA_FORMS) fitted on all the points, no leave-one-out."""
    names = {**FORMS, **EXTRA_FORMS}[form]
    coef = _fit(_design(rows, names), np.asarray(y, float))
    return Model(form, [float(c) for c in coef], len(y), None, None)


def fit(rows: list[dict], y: list[float]) -> Model | None:
    """The form with the smallest leave-one-out median error that the points can support, fitted on all."""
    n = len(y)
    if n < 2:
        return None
    best = None
    for form, names in FORMS.items():
        if n < len(names) + 2:  # leave-one-out needs at least one point more than the parameters
            continue
        errs = loo_errors(rows, y, names)
        score = (float(np.median(errs)), float(np.max(errs)))
        if best is None or score < best[1]:
            best = (form, score, errs)
    if best is None:  # two points: a line through the origin's offset is all they support
        form, score, within = "macs", (None, None), None
    else:
        form, score, within = best[0], best[1], float(np.mean(np.asarray(best[2]) <= 10))
    coef = _fit(_design(rows, FORMS[form]), np.asarray(y, float))
    return Model(form, [float(c) for c in coef], n, score[0], score[1], within)


def noise_floor(values: list[float], intervals: list) -> float | None:
    """Median half-width (percent of the value) of the measured intervals: how closely the measurements
    themselves pin each latency down; a predictor's error below it cannot be told from noise."""
    widths = [(hi - lo) / 2 / v * 100 for v, ci in zip(values, intervals) if ci for lo, hi in [ci]]
    return float(np.median(widths)) if widths else None


def holdout_errors(model: Model, rows: list[dict], y: list[float]) -> list[float]:
    """Absolute percent errors of a fitted model on points it did not see."""
    return [abs(model.predict(r) - t) / t * 100 for r, t in zip(rows, y)]
