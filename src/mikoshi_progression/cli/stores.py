"""Reaching a store from the command line: ``--store URL`` and its options.

The commands that work on a database (``schema init|check``, ``ledger``,
``replay --store``) take the same options, added by :func:`add_store_options`,
and open the store with :func:`opened_store`, which turns every way opening can
fail into a one-line :class:`CliError` with the right exit code: a URL no store
handles or a missing SQLite file (2), a missing ``[postgres]`` extra (3). The
commands that only read (``schema check``, ``ledger``, ``replay --store``) open a
SQLite file read-only, so they work on a file they cannot write and never change
it. A
:class:`~mikoshi_progression.StoreError` raised later (the server is down, a
connection broke) is left to ``main``, which prints it and exits 4.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import UnsupportedStoreError
from ..stores import ProgressStore, SchemaStore, open_store
from ._common import CliError, ExitCode

__all__ = ["add_store_options", "display_url", "opened_store", "store_scheme"]

_POSTGRES = ("postgresql", "postgres")


def add_store_options(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """Add ``--store URL`` and the PostgreSQL table options to ``parser``."""
    parser.add_argument(
        "--store",
        metavar="URL",
        required=required,
        help="the store: sqlite:///path.db, sqlite:////abs/path.db, postgresql://user@host/db "
        "or memory://",
    )
    group = parser.add_argument_group("PostgreSQL tables")
    group.add_argument(
        "--pg-schema",
        metavar="NAME",
        help="the PostgreSQL schema holding the store's tables (default: the search path)",
    )
    group.add_argument(
        "--users-table",
        metavar="NAME",
        help="keep progression in place in the platform's users table (PostgreSQL only)",
    )
    group.add_argument(
        "--id-column",
        metavar="COL",
        help="the users table's id column (with --users-table; default: id)",
    )
    group.add_argument(
        "--version-token",
        choices=("xmin", "counter"),
        help="what the version check compares (default: xmin; counter on Citus, whose "
        "distributed tables refuse xmin)",
    )


def store_scheme(url: str) -> str:
    """The lower-case scheme of a store URL (``""`` if it has none).

    >>> store_scheme("SQLite:///x.db"), store_scheme("x.db")
    ('sqlite', '')
    """
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep else ""


def display_url(url: str) -> str:
    """The URL with any password masked, fit to print.

    >>> display_url("postgresql://app:s3cret@db.example/prod")
    'postgresql://app:***@db.example/prod'
    >>> display_url("sqlite:///progress.db")
    'sqlite:///progress.db'
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _sqlite_file(url: str) -> str | None:
    """The file a ``sqlite://`` URL names, as ``open_store`` reads it (``None`` in memory)."""
    rest = url.partition("://")[2]
    path = rest[1:] if rest.startswith("/") else rest
    return None if path in ("", ":memory:") else path


def _options(args: argparse.Namespace, scheme: str, *, read_only: bool) -> dict[str, Any]:
    """The store's keyword options: never create tables on opening (``schema init`` does
    that explicitly, to report what it created); a SQLite file opened read-only if asked."""
    given = {
        "--pg-schema": getattr(args, "pg_schema", None),
        "--users-table": getattr(args, "users_table", None),
        "--id-column": getattr(args, "id_column", None),
        "--version-token": getattr(args, "version_token", None),
    }
    if scheme not in _POSTGRES:
        for option, value in given.items():
            if value is not None:
                raise CliError(f"{option} is only for postgresql:// stores")
        if scheme == "memory":
            return {}
        return {"create": False, "read_only": True} if read_only else {"create": False}
    if given["--id-column"] is not None and given["--users-table"] is None:
        raise CliError("--id-column needs --users-table")
    options: dict[str, Any] = {"create": False}
    if given["--pg-schema"] is not None:
        options["schema"] = given["--pg-schema"]
    if given["--users-table"] is not None:
        options["users_table"] = given["--users-table"]
    if given["--id-column"] is not None:
        options["id_column"] = given["--id-column"]
    if given["--version-token"] is not None:
        options["version_token"] = given["--version-token"]
    return options


@contextmanager
def opened_store(
    args: argparse.Namespace,
    *,
    must_exist: bool = True,
    needs_tables: bool = True,
    read_only: bool = False,
) -> Iterator[ProgressStore]:
    """The store ``args.store`` names, closed when the block exits.

    Args:
        args: Parsed options of :func:`add_store_options`.
        must_exist: Refuse a SQLite file that does not exist (exit 2) rather than
            create an empty one.
        needs_tables: Refuse a store whose tables are missing (exit 4, with a hint
            to run ``schema init``) rather than fail on the first query.
        read_only: The command only reads: open a SQLite file read-only (other
            stores, and an in-memory SQLite database, as usual).
    """
    url: str = args.store
    scheme = store_scheme(url)
    path = _sqlite_file(url) if scheme == "sqlite" else None
    options = _options(args, scheme, read_only=read_only and path is not None)
    if path is not None:
        if must_exist and not Path(path).is_file():
            raise CliError(f"--store {url}: no such database file: {path}")
        if not Path(path).parent.is_dir():
            raise CliError(f"--store {url}: no such directory: {Path(path).parent}")
    try:
        store = open_store(url, **options)
    except UnsupportedStoreError as exc:
        raise CliError(f"--store: {exc}") from exc
    except ImportError as exc:
        raise CliError(
            f"--store {display_url(url)}: PostgreSQL stores need psycopg, which is not "
            "installed: install the [postgres] extra (pip install -e '.[postgres]' from a clone)",
            ExitCode.MISSING_EXTRA,
        ) from exc
    except (ValueError, TypeError) as exc:
        raise CliError(f"--store {display_url(url)}: {exc}") from exc
    try:
        if needs_tables and isinstance(store, SchemaStore):
            missing = store.check_schema().missing_tables
            if missing:
                raise CliError(
                    f"{display_url(url)} lacks the store's tables ({', '.join(missing)}): "
                    f"create them with: mikoshi-progression schema init --store {display_url(url)}",
                    ExitCode.STORE,
                )
        yield store
    finally:
        store.close()
