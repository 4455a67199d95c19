"""mikoshi-progression on SQLAlchemy 2 and Alembic (the ``[sqlalchemy]`` extra).

- :func:`progression_tables` / :func:`progression_metadata`: the library's tables as
  SQLAlchemy ``MetaData``, for ``create_all`` and Alembic's autogenerate;
- :class:`SQLAlchemyStore`: a store on an ``Engine`` that also runs an award inside the
  caller's own transaction (``join``, what ``award(..., within=session)`` uses);
- :mod:`mikoshi_progression.sqlalchemy.migrations`: the Alembic revisions of the
  library's PostgreSQL tables, for a team to add to its own Alembic history.
"""

from __future__ import annotations

try:
    import sqlalchemy  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "mikoshi_progression.sqlalchemy needs SQLAlchemy 2: "
        "install the [sqlalchemy] extra (pip install -e '.[sqlalchemy]' from a clone)",
        name=exc.name,
    ) from exc

from .async_store import AsyncSQLAlchemyStore
from .schema import LEDGER_KINDS, Tables, progression_metadata, progression_tables
from .store import SQLAlchemyStore

__all__ = [
    "LEDGER_KINDS",
    "AsyncSQLAlchemyStore",
    "SQLAlchemyStore",
    "Tables",
    "progression_metadata",
    "progression_tables",
]
