"""The `mobiledeploy` command group."""
from __future__ import annotations

import click

from .. import __version__
from .common import setup_logging
from .export import export
from .info import info


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mobiledeploy")
@click.option("-v", "--verbose", is_flag=True, help="Show TensorFlow's own log lines and full tracebacks.")
def cli(verbose):
    """MobileNet v1 from Keras definition to verified TFLite/ONNX artifacts and measured latency.

    \b
    Typical flow:
      mobiledeploy info --alpha 0.5 --res 128              # cost before you build
      mobiledeploy export --alpha 0.5 --res 128 --int8     # artifact in models/
      mobiledeploy predict models/mobilenet_v1_0.50_128 photo.jpg
      mobiledeploy eval models/mobilenet_v1_0.50_128 --data DIR
    """
    setup_logging(verbose)


cli.add_command(info)
cli.add_command(export)


def main():
    """Console-script entry point: click's usage errors become one line too."""
    import sys

    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        hint = f" (see {exc.ctx.command_path} --help)" if getattr(exc, "ctx", None) else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
