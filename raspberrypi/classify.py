#!/usr/bin/env python3
"""Raspberry Pi live-camera classifier: `python3 raspberrypi/classify.py --help`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mdpi.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
