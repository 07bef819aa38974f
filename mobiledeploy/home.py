"""The mobiledeploy home folder: device config and results store (MOBILEDEPLOY_HOME overrides)."""
from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """MOBILEDEPLOY_HOME, else the user's config dir (e.g. ~/.config/mobiledeploy)."""
    env = os.environ.get("MOBILEDEPLOY_HOME")
    if env:
        return Path(env)
    from platformdirs import user_config_dir

    return Path(user_config_dir("mobiledeploy"))
