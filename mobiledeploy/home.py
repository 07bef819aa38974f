"""Where mobiledeploy keeps things: its home (device config, results; MOBILEDEPLOY_HOME overrides) and
Keras's model cache (official weights, the ImageNet class index; KERAS_HOME overrides)."""
from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """MOBILEDEPLOY_HOME, else the user's config dir (e.g. ~/.config/mobiledeploy)."""
    env = os.environ.get("MOBILEDEPLOY_HOME")
    if env:
        path = Path(env)
        if path.exists() and not path.is_dir():
            from .errors import MobiledeployError

            raise MobiledeployError(f"MOBILEDEPLOY_HOME {path} is not a folder: point it at a folder (it is created "
                                    "when missing)")
        return path
    from platformdirs import user_config_dir

    return Path(user_config_dir("mobiledeploy"))


def keras_cache_dir() -> Path:
    """Keras's model cache (KERAS_HOME/models, default ~/.keras/models)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
