"""Every `mobiledeploy ...` command shown in README.md, docs/*.md, raspberrypi/README.md and android_demo/README.md
is a command line the CLI accepts: its command exists, and every option and value it gives parses (types,
ranges, choices), so a page cannot show a flag the tool no longer has. tests/docs/test_docs_run.py runs them
(against fresh artifacts and loopback devices) and checks the output each page shows; the few it cannot run are
listed there with the reason, and this parse is all they get.
"""
import re
import shlex
from pathlib import Path

import click
import pytest

from mobiledeploy.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "raspberrypi" / "README.md",
         ROOT / "android_demo" / "README.md"]


def commands(page: Path) -> list[tuple[int, str]]:
    """(line number, command) of each `mobiledeploy` line in the page's sh code blocks (continuations joined)."""
    out, block, pending = [], False, None
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        if line.startswith("```"):
            block = not block and line.strip() in ("```sh", "```bash", "```console", "```")
            continue
        if not block:
            continue
        text = line.strip()
        if pending is not None:
            pending = (pending[0], pending[1] + " " + text.rstrip("\\").strip())
            if not text.endswith("\\"):
                out.append(pending)
                pending = None
            continue
        text = re.sub(r"^\$ ", "", text)
        if not text.startswith("mobiledeploy "):
            continue
        text = re.split(r"\s+#\s", text)[0].split(";")[0].split(" | ")[0].split(" && ")[0].strip()
        if text.endswith("\\"):
            pending = (number, text.rstrip("\\").strip())
        else:
            out.append((number, text))
    return out


CASES = [(page, number, command) for page in PAGES for number, command in commands(page)
         if not re.search(r"\$[A-Za-z{(]", command)]   # shell variables stand for values the page leaves open


def test_the_pages_show_commands():
    assert len(CASES) > 40, "the pages' commands were not found: has the extractor broken?"


@pytest.mark.parametrize("page,number,command", CASES, ids=[f"{p.relative_to(ROOT)}:{n}" for p, n, _ in CASES])
def test_a_command_shown_in_the_docs_parses(page, number, command):
    args = shlex.split(re.sub(r"\[(--[^\]]*)\]", r"\1", command))[1:]   # [--opt V]: an optional part, shown
    group_ctx = click.Context(cli, info_name="mobiledeploy")
    cmd = cli
    parent = group_ctx
    while isinstance(cmd, click.Group):
        assert args, f"{page.name}:{number}: `{command}` names no command"
        name, args = args[0], args[1:]
        sub = cmd.get_command(parent, name)
        assert sub is not None, f"{page.name}:{number}: `{command}`: no command {name!r}"
        cmd, parent = sub, click.Context(sub, info_name=name, parent=parent)
    try:
        cmd.make_context(cmd.name, list(args), parent=parent.parent)
    except click.exceptions.Exit:
        pass
    except click.ClickException as exc:
        pytest.fail(f"{page.relative_to(ROOT)}:{number}: `{command}`: {exc.format_message()}")
