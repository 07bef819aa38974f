"""mobiledeploy: MobileNet from Keras definition to measured artifacts on phones and boards.

The library's functions (`export`, `load`, `predict`, `bench`, `history`, `sweep`, `pick`, `evaluate`)
live in mobiledeploy.api and are loaded on first use, so `import mobiledeploy` stays light.
"""

__version__ = "0.1.0"

_API = ("export", "load", "predict", "bench", "history", "sweep", "pick", "evaluate")


def __getattr__(name):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'mobiledeploy' has no attribute {name!r}")
