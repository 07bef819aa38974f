"""What every plot shares: matplotlib without a display, and a file that appears whole or not at all."""
from __future__ import annotations

import io
from pathlib import Path

from .errors import MobiledeployError
from .fsutil import atomic_write, check_output


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed); a one-line error when it is not installed."""
    _writable_config_dir()
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MobiledeployError("plots need matplotlib: pip install matplotlib") from None
    return plt


def check_target(path) -> str:
    """The image format a plot path asks for (its suffix, png when none); refuses a folder, a FIFO, a device
    or anything else that is not a regular file (call it before the work: `save` checks again)."""
    path = Path(path)
    if path.is_dir():
        raise MobiledeployError(f"plot {path} is a folder: give a file name such as {path / 'plot.png'}")
    check_output(path, "plot")
    return path.suffix[1:].lower() or "png"


def save(fig, path) -> Path:
    """Draw `fig` into `path` atomically (format from the suffix) and close it."""
    plt = pyplot()
    try:
        fmt = check_target(path)
        if fmt not in fig.canvas.get_supported_filetypes():
            raise MobiledeployError(f"plot {path}: cannot draw .{fmt} files; use .png, .svg or .pdf")
        image = io.BytesIO()
        fig.savefig(image, format=fmt)
    finally:
        plt.close(fig)
    return atomic_write(Path(path), image.getvalue(), what="plot")


def _writable_config_dir() -> None:
    """matplotlib caches fonts under ~/.config/matplotlib and prints lines when it cannot (a read-only HOME):
    give it a private temporary folder then."""
    import os
    import tempfile

    if os.environ.get("MPLCONFIGDIR"):
        return
    folder = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "matplotlib"
    probe = folder if folder.exists() else folder.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        os.environ["MPLCONFIGDIR"] = tempfile.mkdtemp(prefix="mobiledeploy-mpl-")
