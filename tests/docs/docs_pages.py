"""The commands the pages show, and the output they show for them, read from the Markdown.

A command is a `mobiledeploy ...` line in a fenced block (```sh, ```bash, ```console or a plain ```), `\\`
continuations joined, a leading `$ ` dropped. In a plain block, `$ mobiledeploy ...` starts a shown command and
the lines up to the next `$ ` line are the output the page shows for it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "raspberrypi" / "README.md",
         ROOT / "android_demo" / "README.md"]


@dataclass
class Shown:
    """One command as a page shows it: where, the whole shell line, the mobiledeploy command, the output shown."""

    page: Path
    line: int
    raw: str                       # the shell line as shown: pipes, `; echo $?`, a comment
    command: str                   # the mobiledeploy command alone
    output: list[str] | None = field(default=None)   # the lines shown after a `$ ` command, None in a sh block

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _command(text: str) -> str:
    """The mobiledeploy command of a shell line: up to a comment, `;`, `|` or `&&`."""
    return re.split(r"\s+#\s", text)[0].split(";")[0].split(" | ")[0].split(" && ")[0].strip()


def shown(page: Path) -> list[Shown]:
    """Every mobiledeploy command of the page, in page order, with the output shown after it (if any)."""
    out: list[Shown] = []
    block, plain, pending, current = False, False, None, None
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        if line.startswith("```"):
            if block:
                block, current = False, None
            else:
                block = line.strip() in ("```sh", "```bash", "```console", "```")
                plain = line.strip() in ("```", "```console")
            continue
        if not block:
            continue
        text = line.strip()
        if pending is not None:
            pending[1] += " " + text.rstrip("\\").strip()
            if not text.endswith("\\"):
                out.append(Shown(page, pending[0], pending[1], _command(pending[1])))
                current = out[-1] if pending[2] else None
                if current is not None:
                    current.output = []
                pending = None
            continue
        dollar = text.startswith("$ ")
        if dollar:
            current = None
            text = text[2:]
        if text.startswith("mobiledeploy "):
            if text.endswith("\\"):
                pending = [number, text.rstrip("\\").strip(), dollar and plain]
                continue
            out.append(Shown(page, number, text, _command(text)))
            if dollar and plain:
                current = out[-1]
                current.output = []
            continue
        if current is not None and not dollar:
            current.output.append(line)
    return out


def all_shown() -> list[Shown]:
    return [s for page in PAGES for s in shown(page)]
