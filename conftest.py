"""Root pytest configuration: skip collecting modules whose optional extra is missing.

``--doctest-modules`` imports every module under ``src``; the modules behind an extra
(FastAPI, pydantic, hypothesis, psycopg, SQLAlchemy, OpenTelemetry) would fail to import
where that extra is not installed. Their own tests skip with a reason in that case.
"""

from __future__ import annotations

import importlib.util

_OPTIONAL = {
    "src/mikoshi_progression/fastapi.py": "fastapi",
    "src/mikoshi_progression/_fastapi_request.py": "fastapi",
    "src/mikoshi_progression/_fastapi_models.py": "pydantic",
    "src/mikoshi_progression/pydantic.py": "pydantic",
    "src/mikoshi_progression/testing/strategies.py": "hypothesis",
    "src/mikoshi_progression/testing/machine.py": "hypothesis",
    "src/mikoshi_progression/testing/store_contract": "hypothesis",
    "src/mikoshi_progression/stores/postgres.py": "psycopg",
    "src/mikoshi_progression/stores/postgres_async.py": "psycopg",
    "src/mikoshi_progression/stores/_postgres_common.py": "psycopg",
    "src/mikoshi_progression/stores/_postgres_sql.py": "psycopg",
    "src/mikoshi_progression/stores/_postgres_driver.py": "psycopg",
    "src/mikoshi_progression/sqlalchemy": "sqlalchemy",
    "src/mikoshi_progression/sqlalchemy/migrations": "alembic",
    "src/mikoshi_progression/stores/_postgres_io.py": "psycopg",
    "src/mikoshi_progression/stores/_postgres_io_async.py": "psycopg",
    "src/mikoshi_progression/otel.py": "opentelemetry",
    "src/mikoshi_progression/simulation/_compare.py": "numpy",
    "src/mikoshi_progression/__main__.py": "",
}

collect_ignore = [
    path
    for path, module in _OPTIONAL.items()
    if not module or importlib.util.find_spec(module) is None
]

# The code blocks of README.md and docs/*.md are tests too: tests/doc_examples.py says how
# each kind of block runs. pyproject.toml puts both in ``testpaths`` (so the plain
# ``pytest`` collects them) and ``tests`` on ``pythonpath``; this hook collects exactly
# those documents, so no other Markdown file (in .venv, say) is ever parsed.
from doc_examples import DOCUMENTS, SYBIL  # noqa: E402

_collect_document = SYBIL.pytest()


def pytest_collect_file(file_path, parent):
    if file_path in DOCUMENTS:
        return _collect_document(file_path, parent)
    return None
