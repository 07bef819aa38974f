"""The `mobiledeploy` command group."""
from __future__ import annotations

import click

from .. import outcome
from ..version import __version__
from ..outcome import EXIT_CODES_HELP
from .common import setup_logging
from .bench import bench
from .devices import devices
from .export import export
from .info import info
from .quant import quant_report
from .evaluate import evaluate
from .predict import predict
from .testvectors import testvectors
from .results import results
from .sweep import pick, sweep
from .weights import weights
from .report import report, serve
from .lab import lab


EPILOG = f"""\b
Every command: --help explains it; --json prints one JSON object on stdout (its keys are in the
command's --help), progress and warnings go to stderr.
\b
Settings: option defaults per command from ./mobiledeploy.toml (or [tool.mobiledeploy] in
./pyproject.toml), e.g. [export] alpha = 0.5, res = 128; the command line wins.
\b
{EXIT_CODES_HELP}
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}, epilog=EPILOG)
@click.version_option(__version__, prog_name="mobiledeploy")
@click.option("-v", "--verbose", is_flag=True, help="Show TensorFlow's own log lines and full tracebacks.")
@click.option("--store", "store_url", metavar="URL", envvar=None,
              help="The results store for this command: sqlite:///PATH or postgresql://USER@HOST/DB (password the "
                   "libpq way: ~/.pgpass or PGPASSWORD). Default: MOBILEDEPLOY_STORE, else [store] url in "
                   "mobiledeploy.toml, else results.db in MOBILEDEPLOY_HOME.")
@click.pass_context
def cli(ctx, verbose, store_url):
    """MobileNet v1 and V2 from Keras definition to verified TFLite/ONNX artifacts, measured latency, and the
    variant that fits a device's budget.

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
    from ..bench import store
    from .config import default_map, settings_file, store_url as configured

    found = settings_file()
    if found:
        ctx.default_map = default_map(cli, *found)
    store.use(store_url, configured(*found) if found else None)


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
cli.add_command(results)
cli.add_command(weights)
cli.add_command(report)
cli.add_command(serve)
cli.add_command(lab)


def _click_outcome(exc: BaseException):
    """click's own endings: a usage error is one line naming --help; Ctrl-C inside click is an interrupt."""
    if isinstance(exc, click.exceptions.Abort):
        return outcome.resolve(exc.__context__ if isinstance(exc.__context__, KeyboardInterrupt)
                               else KeyboardInterrupt())
    if isinstance(exc, click.ClickException):
        hint = f" (see {exc.ctx.command_path} --help)" if getattr(exc, "ctx", None) else ""
        return outcome.Outcome(f"error: {exc.format_message()}{hint}", exc.exit_code)
    return None


def main():
    """Console-script entry point: every ending goes through mobiledeploy.outcome."""
    import sys

    from ..quiet import verbose

    sys.exit(outcome.run(lambda: cli.main(standalone_mode=False), verbose, _click_outcome))
