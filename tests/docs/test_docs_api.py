"""docs/api.md's table of functions is the API as it is: every public function of mobiledeploy.api is listed, with
every parameter it takes and no parameter it does not (issue 30: the page had lost `arch`, `again`, `refine`)."""
import inspect
import re

import mobiledeploy.api as api
from docs_pages import ROOT

PAGE = ROOT / "docs" / "api.md"


def listed() -> dict[str, set[str]]:
    """function name -> the parameter names the page's table shows for it (a row may show several functions)."""
    out = {}
    for row in PAGE.read_text().splitlines():
        if not row.startswith("| `"):
            continue
        for name, params in re.findall(r"`(\w+)\(([^`]*)\)`", row.split(" | ")[0]):
            out[name] = {p.split("=")[0].strip() for p in params.split(",") if p.strip() and p.strip() != "*"}
    return out


def test_api_md_lists_every_function_with_its_parameters():
    shown = listed()
    public = [n for n in api.__all__ if callable(getattr(api, n)) and not inspect.isclass(getattr(api, n))]
    missing = [n for n in public if n not in shown]
    assert not missing, f"docs/api.md does not list {missing}"
    for name in public:
        real = set(inspect.signature(getattr(api, name)).parameters)
        assert shown[name] == real, (f"docs/api.md's {name}(): missing {sorted(real - shown[name])}, "
                                     f"not taken {sorted(shown[name] - real)}")
