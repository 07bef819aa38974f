"""The analytic cost model against the paper's tables (Howard et al. 2017, Tables 2, 6, 7)."""
import json

import pytest

from mobiledeploy.model.cost import summary
from conftest import assert_one_line_error, mobiledeploy

# (alpha, resolution, mult-adds in millions, params in millions or None), as printed in the paper
PAPER = [
    (1.0, 224, 569, 4.2), (0.75, 224, 325, 2.6), (0.5, 224, 149, 1.3), (0.25, 224, 41, 0.5),
    (1.0, 192, 418, None), (1.0, 160, 290, None), (1.0, 128, 186, None), (0.5, 160, 76, 1.32),
]


def matches_paper(value: float, printed: float) -> bool:
    """Within 1% of the printed number, or equal to it at the precision the paper prints it."""
    decimals = len(str(printed).split(".")[1]) if "." in str(printed) else 0
    return abs(value - printed) <= 0.01 * printed or round(value, decimals) == printed


@pytest.mark.parametrize("alpha,res,macs,params", PAPER)
def test_info_json_reproduces_paper(alpha, res, macs, params):
    proc = mobiledeploy("info", "--alpha", alpha, "--res", res, "--json", check=True)
    doc = json.loads(proc.stdout)
    assert isinstance(doc["macs"], int) and isinstance(doc["params"], int)
    assert abs(doc["macs"] / 1e6 - macs) <= 0.01 * macs, doc["macs"]
    if params is not None:
        assert matches_paper(doc["params"] / 1e6, params), doc["params"]


def test_pointwise_share_as_paper_table2():
    s = summary(1.0, 224)
    assert 0.94 <= s["pointwise_macs_share"] <= 0.96       # paper: 94.86%
    assert 0.73 <= s["pointwise_params_share"] <= 0.77     # paper: 74.95%


def test_cost_scales_with_alpha_squared_and_rho_squared():
    base = summary(1.0, 224)["macs"]
    assert summary(0.5, 224)["macs"] / base == pytest.approx(0.25, rel=0.08)
    # rho^2 holds exactly when both sides are multiples of 32 (the classifier is a constant)
    assert summary(1.0, 128)["macs"] / summary(1.0, 256)["macs"] == pytest.approx(0.25, rel=0.01)


def test_odd_resolution_uses_same_padding_sizes():
    rows = summary(1.0, 100)["layers"]
    assert rows[0]["output"] == "50x50x32"
    assert rows[-2]["output"] == "4x4x1024"   # 100 -> 50 -> 25 -> 13 -> 7 -> 4


def test_info_table_prints_totals():
    out = mobiledeploy("info", "--alpha", "0.5", "--res", "128", check=True).stdout
    assert "conv_pw_13" in out and "49,160,192" in out


@pytest.mark.parametrize("args,fragment", [
    (["--alpha", "0"], "alpha"), (["--alpha", "-1"], "alpha"), (["--alpha", "abc"], "alpha"),
    (["--res", "16"], "32"), (["--res", "12.5"], "resolution"),
])
def test_bad_arguments_one_line(args, fragment):
    assert_one_line_error(mobiledeploy("info", *args), fragment)


def test_alpha_above_one_warns():
    proc = mobiledeploy("info", "--alpha", "1.5", "--json", check=True)
    assert "warning" in proc.stderr and json.loads(proc.stdout)["macs"] > summary(1.0, 224)["macs"]
