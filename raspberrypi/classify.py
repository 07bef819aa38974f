#!/usr/bin/env python3
"""Raspberry Pi live-camera classifier: `python3 raspberrypi/classify.py --help`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    from mdpi.main import main  # noqa: E402
except ImportError as exc:  # this python has no mobiledeploy (or no numpy): one line, as every error here
    if exc.name and exc.name.split(".")[0] in ("mobiledeploy", "numpy", "PIL"):
        print(f"error: this python ({sys.executable}) has no {exc.name.split('.')[0]}: run raspberrypi/install.sh, "
              "or pip install 'mobiledeploy[runtime,pi]', or use the python that has it", file=sys.stderr)
        sys.exit(2)
    raise

if __name__ == "__main__":
    sys.exit(main())
