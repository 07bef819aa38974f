"""What every command shares: quiet TensorFlow, warnings and log records as single lines, JSON output."""
from __future__ import annotations

import json
import logging
import os
import sys
import warnings

import click

from .. import signals
from ..quiet import VERBOSE_ENV, quiet_environment


def emit_json(obj) -> None:
    """Print one JSON document on stdout (typed records print their `to_dict()`)."""
    click.echo(json.dumps(obj, indent=2, default=_plain))


def emit_csv(rows: list[dict]) -> None:
    """Print rows as CSV on stdout, one header line. A nested object is flattened one level (`int8_drop` ->
    `int8_drop_drop`, `int8_drop_low`, ...), an interval [low, high] into `KEY_low` and `KEY_high`, so every
    cell is one value; a row without one of them leaves its cells empty."""
    import csv
    import io

    nested = {k for row in rows for k, v in row.items() if isinstance(v, dict)}
    pairs = {k for row in rows for k, v in row.items() if isinstance(v, (list, tuple)) and len(v) == 2
             and all(isinstance(x, (int, float)) for x in v)}
    subkeys = {k: list(dict.fromkeys(sk for row in rows if isinstance(row.get(k), dict) for sk in row[k]))
               for k in nested}
    flat = []
    for row in rows:
        out = {}
        for key, value in row.items():
            if key in nested:
                out.update({f"{key}_{sk}": (value or {}).get(sk) for sk in subkeys[key]})
            elif key in pairs:
                low, high = value if isinstance(value, (list, tuple)) and len(value) == 2 else (None, None)
                out.update({f"{key}_low": low, f"{key}_high": high})
            elif isinstance(value, (list, tuple)):
                out[key] = " ".join(str(v) for v in value)
            else:
                out[key] = value
        flat.append(out)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(dict.fromkeys(k for row in flat for k in row)),
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    click.echo(buffer.getvalue(), nl=False)


def _plain(value):
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


def _warning_line(message, category, filename, lineno, file=None, line=None):
    click.echo(f"warning: {message}", err=True)


def setup_logging(verbose: bool) -> None:
    """Warnings and log records as one short line each on stderr; SIGTERM/SIGHUP unwind like Ctrl-C."""
    signals.install()
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    quiet_environment()
    warnings.showwarning = _warning_line
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log = logging.getLogger("mobiledeploy")
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False
    if not verbose:
        for name in ("tensorflow", "absl", "h5py", "PIL"):
            logging.getLogger(name).setLevel(logging.ERROR)
