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

import sys
from pathlib import Path

import click

from ..errors import MobiledeployError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FILE = "mobiledeploy.toml"


def settings_file(folder: Path = Path(".")) -> tuple[Path, dict] | None:
    """(path, settings) from the first settings file found in `folder`, or None."""
    own, project = folder / FILE, folder / "pyproject.toml"
    if own.is_file():
        return own, _read(own)
    if project.is_file():
        tool = _read(project).get("tool", {})
        if isinstance(tool, dict) and isinstance(tool.get("mobiledeploy"), dict):
            return project, tool["mobiledeploy"]
    return None


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MobiledeployError(f"{path} is not valid TOML ({exc}): fix it or remove it") from None
    except OSError as exc:
        raise MobiledeployError(f"cannot read {path}: {exc.strerror or exc}") from None


def default_map(group: click.Group, path: Path, settings: dict) -> dict:
    """click's default_map for the group: option spellings checked and turned into parameter names."""
    out = {}
    for command_name, table in settings.items():
        command = group.commands.get(command_name)
        if command is None or not isinstance(table, dict):
            raise MobiledeployError(f"{path}: [{command_name}] is not a mobiledeploy command with options "
                                    f"(commands: {', '.join(sorted(group.commands))})")
        by_option = {opt.lstrip("-"): p.name for p in command.params if isinstance(p, click.Option)
                     and not p.hidden for opt in p.opts if opt.startswith("--")}
        mapped = {}
        for key, value in table.items():
            if key not in by_option:
                raise MobiledeployError(f"{path}: [{command_name}] has no option {key!r} "
                                        f"(options: {', '.join(sorted(by_option))})")
            mapped[by_option[key]] = value
        out[command_name] = mapped
    return out
