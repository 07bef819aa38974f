"""The `mobiledeploy` command group."""
from __future__ import annotations

import click

from .. import __version__
from ..errors import MobiledeployError
from ..fsutil import disk_error
from ..signals import Terminated, received
from .common import fail, setup_logging, signal_exit
from .bench import bench, devices
from .export import export
from .info import info
from .quant import quant_report
from .run import evaluate, predict, testvectors
from .sweep import pick, sweep


EPILOG = """\b
Every command: --help explains it; --json prints one JSON object on stdout (its keys are in the
command's --help), progress and warnings go to stderr.
\b
Settings: option defaults per command from ./mobiledeploy.toml (or [tool.mobiledeploy] in
./pyproject.toml), e.g. [export] alpha = 0.5, res = 128; the command line wins.
\b
Exit codes: 0 ok, 1 unexpected failure (a bug: report it), 2 user error (one "error:" line says what
to fix), 3 no variant fits (pick), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 129 hung up
(SIGHUP). Interrupted work leaves nothing half-written.
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}, epilog=EPILOG)
@click.version_option(__version__, prog_name="mobiledeploy")
@click.option("-v", "--verbose", is_flag=True, help="Show TensorFlow's own log lines and full tracebacks.")
@click.pass_context
def cli(ctx, verbose):
    """MobileNet v1 from Keras definition to verified TFLite/ONNX artifacts and measured latency.

    \b
    Typical flow:
      mobiledeploy info --alpha 0.5 --res 128              # cost before you build
      mobiledeploy export --alpha 0.5 --res 128 --int8     # artifact in models/
      mobiledeploy predict models/mobilenet_v1_0.5_128 photo.jpg
      mobiledeploy eval models/mobilenet_v1_0.5_128 --data DIR
      mobiledeploy bench models/mobilenet_v1_0.5_128 --device local   # or a board / phone
      mobiledeploy sweep --device local                    # every alpha x res x precision: the front
      mobiledeploy pick --device local --budget-ms 20      # the best variant that fits the budget
    """
    setup_logging(verbose)
    from .config import default_map, settings_file

    found = settings_file()
    if found:
        ctx.default_map = default_map(cli, *found)


cli.add_command(info)
cli.add_command(export)
cli.add_command(predict)
cli.add_command(evaluate)
cli.add_command(bench)
cli.add_command(devices)
cli.add_command(testvectors)
cli.add_command(quant_report)
cli.add_command(sweep)
cli.add_command(pick)


def main():
    """Console-script entry point: click's usage errors become one line too."""
    import sys

    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Terminated as exc:
        signal_exit(exc.signum)
    except MobiledeployError as exc:
        fail(exc)
    except click.ClickException as exc:
        hint = f" (see {exc.ctx.command_path} --help)" if getattr(exc, "ctx", None) else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug, not a user mistake: still one line unless --verbose
        from ..quiet import verbose

        if verbose():
            raise
        if received() is not None:  # a library turned the signal's exception into its own
            signal_exit(received())
        if isinstance(exc, OSError) and disk_error(exc, "") is not None:  # full disk, read-only, ...
            fail(disk_error(exc, ""))
        first = (str(exc).strip().splitlines() or [""])[0]
        click.echo(f"error: unexpected {type(exc).__name__}: {first} (run with --verbose for the traceback "
                   "and report it)", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
