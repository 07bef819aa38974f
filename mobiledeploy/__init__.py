"""mobiledeploy: MobileNet from Keras definition to measured artifacts on phones and boards.

    import mobiledeploy as md
    result = md.export(alpha=0.5, resolution=128, int8=True)
    choice = md.pick("local", budget_ms=5)

The functions are those of `mobiledeploy.api` (md.export, md.load, md.predict, md.bench, md.history, md.sweep,
md.pick, md.evaluate), loaded on first use so that the command line starts fast. Three of their names are also
names of subpackages (mobiledeploy.export, .bench, .sweep): on this package the name means the function, so
import a module of those subpackages with `from mobiledeploy.bench import store`, not `import
mobiledeploy.bench.store as store`.
"""
import os
import sys
import types

from .version import __version__

# onnxruntime's telemetry (1DS, on Linux since 1.2x) writes a .ses file in $TMPDIR and a database in
# ~/.cache/Microsoft when it is imported: off for every command and the Pi (set it to 0 to allow it).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

API = ("export", "load", "predict", "bench", "history", "sweep", "pick", "evaluate", "quant_report",
       "add_device", "list_devices", "check_device", "remove_device", "weights_list", "weights_fetch", "weights_add",
       "use_store", "results", "results_export", "results_import", "results_prune", "results_send", "results_init",
       "report")
__all__ = ["__version__", *API]


class _Face(types.ModuleType):
    """This package as seen from outside: the API's functions by name, whatever subpackage shares the name."""

    def __getattribute__(self, name):
        if name in API:
            from importlib import import_module

            return getattr(import_module(f"{__name__}.api"), name)
        return super().__getattribute__(name)


sys.modules[__name__].__class__ = _Face
