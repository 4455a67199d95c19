"""The library's Alembic revisions, branch ``mikoshi_progression``.

Add this directory to your ``version_locations`` (see
:mod:`mikoshi_progression.sqlalchemy.migrations`). Alembic loads the files by path and
skips this one.
"""
