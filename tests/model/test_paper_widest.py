"""The "wider than the paper" warning is the family's: its record says the widest model its paper published
(MobileNet v1 1.0, MobileNetV2 1.4, ShuffleNet V1 2x at g=3 (Table 5) but 1x at the other g, ShuffleNet V2 2x)."""
import json

import pytest

from conftest import mobiledeploy
from mobiledeploy.model.families import FAMILIES

WARNING = "widens the network beyond the paper's models"


@pytest.mark.parametrize("arch,alpha,warns", [
    ("shufflenet_v2", "1.5", False), ("shufflenet_v2", "2.0", False),       # Table 5's 1.5x and 2x
    ("shufflenet_v1", "1.5", False), ("shufflenet_v1", "2.0", False),       # Table 5's 1.5x and 2x (g=3)
    ("shufflenet_v1_g8", "1.5", True),                                      # Table 2 stops at 1x for g=8
    ("mobilenet_v2", "1.4", False), ("mobilenet_v2", "1.5", True),
    ("mobilenet_v1", "1.0", False), ("mobilenet_v1", "1.5", True),
])
def test_info_warns_only_past_the_papers_widest(arch, alpha, warns):
    proc = mobiledeploy("info", "--arch", arch, "--alpha", alpha, "--res", "224", "--json", check=True)
    lines = [line for line in proc.stderr.splitlines() if WARNING in line]
    assert len(lines) == int(warns), proc.stderr
    if warns:  # one line naming the paper's widest and the paper
        widest = FAMILIES[arch].paper_widest
        assert lines[0].startswith(f"warning: alpha {float(alpha)} > {widest:g} ") and FAMILIES[arch].paper in lines[0]
    assert json.loads(proc.stdout)["architecture"] == arch


def test_export_warns_once(tmp_path):
    """The alpha passes the option, the builder, the cost table and the exporter: one line, not one per check."""
    proc = mobiledeploy("export", "--alpha", "1.5", "--res", "32", "--formats", "tflite", "--weights", "none",
                        "--out", tmp_path, check=True)
    assert sum(WARNING in line for line in proc.stderr.splitlines()) == 1, proc.stderr


def test_every_family_has_a_widest_at_least_one():
    for f in FAMILIES.values():
        assert f.paper_widest >= 1.0 and f.check_alpha(f.paper_widest) == f.paper_widest
