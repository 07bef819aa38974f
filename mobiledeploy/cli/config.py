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

    [store]
    url = "postgresql://me@dbhost/mobiledeploy"   # the results store (not a command: see store_url)
"""
from __future__ import annotations

from pathlib import Path

import click

from ..choices import did_you_mean
from ..errors import MobiledeployError
from ..readers import read_toml

FILE = "mobiledeploy.toml"
STORE = "store"   # [store] url: where results live (every command), not a command's options
LAB = "lab"       # [lab] scheduler, certs: the defaults of sweep --lab/--lab-certs and lab's ADDRESS/--certs
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
        if command_name in (STORE, LAB):
            continue
        command = group.commands.get(command_name)
        if command is None:
            raise MobiledeployError(f"{path}: [{command_name}] is not a mobiledeploy command with options "
                                    f"(commands: {', '.join(sorted(group.commands))}){did_you_mean(command_name, group.commands)}")
        if not isinstance(table, dict):
            raise MobiledeployError(f"{path}: {command_name} = {str(table)[:40]} is not a table: write the options of "
                                    f"{command_name} under [{command_name}], e.g. [{command_name}] then key = value lines")
        params = {opt.lstrip("-"): p for p in command.params if isinstance(p, click.Option)
                  and not p.hidden for opt in p.opts if opt.startswith("--")}
        mapped = {}
        for key, value in table.items():
            if key not in params:
                options = f"options: {', '.join(sorted(params))}" if params else "it takes no options"
                raise MobiledeployError(f"{path}: [{command_name}] has no option {str(key)[:60]!r} "
                                        f"({options}){did_you_mean(key, params)}")
            _check_value(path, command_name, key, params[key], value)
            mapped[params[key].name] = value
        out[command_name] = mapped
    if LAB in settings:   # after the commands' own tables, which win ([sweep] lab = ... over [lab] scheduler)
        from .lab import settings_defaults

        for command_name, values in settings_defaults(path, settings[LAB]).items():
            for key, value in values.items():
                out.setdefault(command_name, {}).setdefault(key, value)
    return out


def _check_value(path: Path, command: str, key: str, param: click.Option, value) -> None:
    """A settings file's value is checked here, where the file can be named (click would blame the command
    line), and a whole-number option refuses a fraction (click would cut 2.9 to 2)."""
    where = f"{path}: [{command}] {key} = {str(value)[:40]!r}"
    if isinstance(param.type, click.types.IntParamType) and isinstance(value, float) and not value.is_integer():
        raise MobiledeployError(f"{where} is not a whole number: fix it in {path.name}")
    try:
        param.type_cast_value(click.Context(click.Command(command)), value)
    except click.BadParameter as exc:
        raise MobiledeployError(f"{where}: {exc.format_message()} (fix it in {path.name})") from None


def store_url(path: Path, settings: dict) -> str | None:
    """The settings file's [store] url, checked (a text, the only key of its table)."""
    table = settings.get(STORE)
    if table is None:
        return None
    if not isinstance(table, dict) or set(table) - {"url"}:
        raise MobiledeployError(f"{path}: [store] takes one key, url = \"sqlite:///PATH\" or \"postgresql://USER@HOST/DB\""
                                " (the results store)")
    value = table.get("url")
    if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 2000):
        raise MobiledeployError(f"{path}: [store] url is not a database URL: give \"sqlite:///PATH\" or "
                                "\"postgresql://USER@HOST/DB\" (passwords go in ~/.pgpass, not here)")
    return value
