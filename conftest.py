"""Root pytest configuration: skip collecting modules whose optional extra is missing.

``--doctest-modules`` imports every module under ``src``; the modules behind an extra
(FastAPI, pydantic, hypothesis, psycopg) would fail to import where that extra is not
installed. Their own tests skip with a reason in that case.
"""

from __future__ import annotations

import importlib.util

_OPTIONAL = {
    "src/mikoshi_progression/fastapi.py": "fastapi",
    "src/mikoshi_progression/pydantic.py": "pydantic",
    "src/mikoshi_progression/testing/strategies.py": "hypothesis",
    "src/mikoshi_progression/testing/machine.py": "hypothesis",
    "src/mikoshi_progression/stores/postgres.py": "psycopg",
    "src/mikoshi_progression/__main__.py": "",
}

collect_ignore = [
    path
    for path, module in _OPTIONAL.items()
    if not module or importlib.util.find_spec(module) is None
]
