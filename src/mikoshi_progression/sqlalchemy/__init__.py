"""mikoshi-progression on SQLAlchemy and Alembic (the ``[sqlalchemy]`` extra).

:mod:`mikoshi_progression.sqlalchemy.migrations` holds the Alembic revisions of the
library's PostgreSQL tables, for a team to add to its own Alembic history.
"""
