#!/usr/bin/env python
"""Django's command-line utility for Carefront."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# The Django project package `carefront` lives in platform/; see platform/carefront/__init__.py.
sys.path.insert(0, str(ROOT / "platform"))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carefront.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
