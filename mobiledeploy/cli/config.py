"""Option defaults from a settings file: ./mobiledeploy.toml, else [tool.mobiledeploy] in ./pyproject.toml.

One table per command, keys spelled as the options are (`res`, `calib-method`, ...); the command line
always wins. Example:

    [export]
    alpha = 0.5
    res = 128
    int8 = true

    [bench]
    device = "rpi4"
    threads = 4
"""
from __future__ import annotations

from pathlib import Path

import click

from ..choices import did_you_mean
from ..errors import MobiledeployError
from ..readers import read_toml

FILE = "mobiledeploy.toml"
MAX_BYTES = 1 << 20   # a hand-written settings file is a few hundred bytes


def settings_file(folder: Path = Path(".")) -> tuple[Path, dict] | None:
    """(path, settings) from the first settings file found in `folder`, or None."""
    own, project = folder / FILE, folder / "pyproject.toml"
    found = _read(own, missing_ok=True)
    if found is not None:
        return own, found
    doc = _read(project, missing_ok=True)
    if doc is not None:
        tool = doc.get("tool", {})
        if isinstance(tool, dict) and isinstance(tool.get("mobiledeploy"), dict):
            return project, tool["mobiledeploy"]
    return None


def _read(path: Path, missing_ok: bool = False) -> dict | None:
    return read_toml(path, "settings file", MAX_BYTES, "fix it or remove it", missing_ok)


def default_map(group: click.Group, path: Path, settings: dict) -> dict:
    """click's default_map for the group: option spellings checked and turned into parameter names."""
    out = {}
    for command_name, table in settings.items():
        command = group.commands.get(command_name)
        if command is None:
            raise MobiledeployError(f"{path}: [{command_name}] is not a mobiledeploy command with options "
                                    f"(commands: {', '.join(sorted(group.commands))}){did_you_mean(command_name, group.commands)}")
        if not isinstance(table, dict):
            raise MobiledeployError(f"{path}: {command_name} = {str(table)[:40]} is not a table: write the options of "
                                    f"{command_name} under [{command_name}], e.g. [{command_name}] then key = value lines")
        by_option = {opt.lstrip("-"): p.name for p in command.params if isinstance(p, click.Option)
                     and not p.hidden for opt in p.opts if opt.startswith("--")}
        mapped = {}
        for key, value in table.items():
            if key not in by_option:
                options = f"options: {', '.join(sorted(by_option))}" if by_option else "it takes no options"
                raise MobiledeployError(f"{path}: [{command_name}] has no option {str(key)[:60]!r} "
                                        f"({options}){did_you_mean(key, by_option)}")
            mapped[by_option[key]] = value
        out[command_name] = mapped
    return out
