"""``schema export|init|check|migrate``: the two schemas the library has.

- ``export`` writes the JSON Schema of config files (the ``[pydantic]`` extra), which
  editors use to check a designer's ``levels.toml``/``.json`` as they type.
- ``init`` creates a SQL store's tables if they are missing (safe to run twice) and
  ``check`` reports what of them is missing, the migration guide's checks, and whether
  the tables are behind this release's schema version.
- ``migrate`` brings an existing database up to this release's schema (``--dry-run``:
  prints the SQL without running it), keeping every row.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from ..stores import SCHEMA_VERSION, MigratingStore, SchemaReport, SchemaStore
from ._common import CliError, Command, ExitCode, output_options, print_json
from .stores import add_store_options, display_url, opened_store, store_scheme

__all__ = ["SCHEMA"]

_PYDANTIC_MISSING = (
    "schema export needs pydantic, which is not installed: "
    "install the [pydantic] extra (pip install -e '.[pydantic]' from a clone)"
)


def _configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="schema_command", metavar="SUBCOMMAND", required=True)
    export = sub.add_parser(
        "export",
        help="write the JSON Schema of config files",
        description="Write the JSON Schema (draft 2020-12) of config files, for editors. "
        "Needs the [pydantic] extra.",
        parents=[output_options()],
    )
    export.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the schema to FILE (default: stdout)",
    )
    export.set_defaults(run=_run_export)
    init = sub.add_parser(
        "init",
        help="create a store's tables if they are missing",
        description="Create the store's tables and indexes if they are missing; safe to run "
        "any number of times. Prints what it created.",
        parents=[output_options()],
    )
    add_store_options(init)
    init.add_argument(
        "--distributed",
        action="store_true",
        help="on Citus: distribute the store's own tables (state and ledger by user_id, "
        "co-located); implies --version-token counter",
    )
    init.set_defaults(run=_run_init)
    check = sub.add_parser(
        "check",
        help="report a store's missing tables, columns and unique indexes",
        description="Report the tables, columns and unique indexes the store needs that the "
        "database lacks; exits 1 if anything is missing.",
        parents=[output_options()],
    )
    add_store_options(check)
    check.set_defaults(run=_run_check)
    migrate = sub.add_parser(
        "migrate",
        help="bring a store's tables up to this release's schema",
        description="Bring an existing database up to this release's schema version, keeping "
        "every row: create what is missing, add the columns of later releases (in place, "
        "the columns the store needs that the users table lacks, and no other), record the "
        "version. Prints the SQL it ran; idempotent (a second run prints none).",
        parents=[output_options()],
    )
    add_store_options(migrate)
    migrate.add_argument(
        "--dry-run",
        action="store_true",
        help="print the SQL that would run, and change nothing",
    )
    migrate.set_defaults(run=_run_migrate)


# --- export ------------------------------------------------------------------------------


def _run_export(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("pydantic") is None:
        raise CliError(_PYDANTIC_MISSING, ExitCode.MISSING_EXTRA)
    try:
        from ..pydantic import config_json_schema
    except ImportError as exc:
        raise CliError(_PYDANTIC_MISSING, ExitCode.MISSING_EXTRA) from exc
    text = json.dumps(config_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.output is None or args.output == "-":
        sys.stdout.write(text)
        return ExitCode.OK
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"-o {args.output}: cannot write ({exc.strerror or exc})") from exc
    if args.json:
        print_json({"output": args.output})
    else:
        print(f"Wrote the JSON Schema of config files to {args.output}")
    return ExitCode.OK


# --- init and check ----------------------------------------------------------------------


def _report_doc(report: SchemaReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "missing_tables": list(report.missing_tables),
        "missing_columns": list(report.missing_columns),
        "missing_indexes": list(report.missing_indexes),
        "schema_version": report.schema_version,
        "behind": report.behind,
        "not_distributed": list(report.not_distributed),
        "not_colocated": list(report.not_colocated),
    }


def _migrate_hint(url: str, report: SchemaReport) -> list[str]:
    if not report.behind:
        return []
    return [
        f"{url}: the tables are at schema version {report.schema_version}; this release "
        f"needs {SCHEMA_VERSION}. Bring them up to date (every row is kept) with: "
        f"mikoshi-progression schema migrate --store {url}"
    ]


def _missing_lines(report: SchemaReport) -> list[str]:
    return (
        [f"  missing table: {t}" for t in report.missing_tables]
        + [f"  missing column: {c}" for c in report.missing_columns]
        + [f"  missing unique index: {i}" for i in report.missing_indexes]
        + [f"  not distributed: {t}" for t in report.not_distributed]
        + [f"  not co-located: {t}" for t in report.not_colocated]
    )


def _run_init(args: argparse.Namespace) -> int:
    url = display_url(args.store)
    distributed = bool(getattr(args, "distributed", False))
    if distributed:
        if store_scheme(args.store) not in ("postgresql", "postgres"):
            raise CliError("--distributed is only for postgresql:// stores (on Citus)")
        if args.version_token == "xmin":
            raise CliError("--distributed needs --version-token counter (or none)")
        args.version_token = "counter"
    with opened_store(args, must_exist=False, needs_tables=False) as store:
        before = store.check_schema() if isinstance(store, SchemaStore) else None
        if distributed:
            store.create_schema(distributed=True)  # type: ignore[call-arg]
        else:
            store.create_schema()
        after = store.check_schema() if isinstance(store, SchemaStore) else None
    if before is None or after is None:
        if args.json:
            print_json({"store": url, "checked": False, "created_tables": [], "ok": True})
        else:
            print(f"{url}: this store keeps no tables; nothing to create")
        return ExitCode.OK
    created = [t for t in before.missing_tables if t not in after.missing_tables]
    if args.json:
        print_json({"store": url, "checked": True, "created_tables": created, **_report_doc(after)})
    else:
        if created:
            print(f"{url}: created {', '.join(created)}")
        elif after.ok:
            print(f"{url}: the schema is already in place; nothing to do")
        if not after.ok:
            print(f"{url}: still incomplete (the store does not alter existing tables):")
            print("\n".join(_missing_lines(after) + _migrate_hint(url, after)))
    return ExitCode.OK if after.ok else ExitCode.INVALID


def _run_check(args: argparse.Namespace) -> int:
    url = display_url(args.store)
    with opened_store(args, needs_tables=False, read_only=True) as store:
        report = store.check_schema() if isinstance(store, SchemaStore) else None
    if report is None:
        if args.json:
            print_json({"store": url, "checked": False, "ok": True})
        else:
            print(f"{url}: this store keeps no tables; nothing to check")
        return ExitCode.OK
    if args.json:
        print_json({"store": url, "checked": True, **_report_doc(report)})
    elif report.ok:
        print(f"OK: {url} has every table and column the store needs")
    else:
        print(f"{url}: the schema is incomplete")
        print("\n".join(_missing_lines(report) + _migrate_hint(url, report)))
        if report.missing_tables and not report.behind:
            print(f"Create the missing tables with: mikoshi-progression schema init --store {url}")
        if report.not_distributed:
            print(
                "Distribute the tables Citus holds locally with: mikoshi-progression schema "
                f"init --distributed --store {url} (alter_distributed_table mends the others)"
            )
    return ExitCode.OK if report.ok else ExitCode.INVALID


def _run_migrate(args: argparse.Namespace) -> int:
    url = display_url(args.store)
    dry_run = bool(args.dry_run)
    with opened_store(args, needs_tables=False, read_only=dry_run) as store:
        if not isinstance(store, MigratingStore) or not isinstance(store, SchemaStore):
            if args.json:
                print_json({"store": url, "migrated": False, "statements": [], "ok": True})
            else:
                print(f"{url}: this store keeps no tables; nothing to migrate")
            return ExitCode.OK
        before = store.check_schema().schema_version
        statements = store.migrate(dry_run=dry_run)
        after = store.check_schema()
    if args.json:
        print_json(
            {
                "store": url,
                "migrated": True,
                "dry_run": dry_run,
                "version_before": before,
                "statements": statements,
                **_report_doc(after),
            }
        )
        return ExitCode.OK if dry_run or after.ok else ExitCode.INVALID
    if not statements:
        print(f"-- {url}: at schema version {before}; nothing to do")
    else:
        reached = SCHEMA_VERSION if dry_run else after.schema_version
        did = "would run" if dry_run else "ran"
        count = f"{len(statements)} statement{'s' if len(statements) != 1 else ''}"
        print(f"-- {url}: schema version {before} -> {reached}: {did} {count}")
        print("\n".join(f"{statement};" for statement in statements))
        if dry_run:
            print("-- dry run: nothing was changed")
    if not dry_run and not after.ok:
        print(f"-- {url}: still incomplete:")
        print("\n".join(f"--{line}" for line in _missing_lines(after)))
    return ExitCode.OK if dry_run or after.ok else ExitCode.INVALID


SCHEMA = Command(
    "schema",
    "export the config JSON Schema; create, check or migrate a store's tables",
    _configure,
    None,
    "export: the JSON Schema of config files. init: create a SQL store's tables if they are "
    "missing (idempotent). check: report the tables and columns a store lacks. migrate: "
    "bring an existing database up to this release's schema (--dry-run prints the SQL).",
    json_output=False,
)
