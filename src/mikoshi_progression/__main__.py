"""``python -m mikoshi_progression``: the command-line tool (see :mod:`mikoshi_progression.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":  # not when imported, e.g. by a worker process or a doctest run
    sys.exit(main())
