"""``demo [--db PATH]``: the guided tour of :mod:`mikoshi_progression.demo`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..demo import run_demo
from ._common import CliError, Command

__all__ = ["DEMO"]


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="keep the demo's SQLite database in PATH, a new file (default: a temporary "
        "database, deleted afterwards)",
    )


def _run(args: argparse.Namespace) -> int:
    path: str | None = args.db
    if path is not None:
        target = Path(path)
        if target.exists() and (not target.is_file() or target.stat().st_size > 0):
            raise CliError(
                f"--db {path}: already exists; the tour needs a new database (delete it or "
                "choose another path)"
            )
        if not target.parent.is_dir():
            raise CliError(f"--db {path}: no such directory: {target.parent}")
    code = run_demo(sys.stdout, db_path=path)
    if path is not None:
        url = "sqlite:///" + path
        print(
            f"\nThe database is kept in {path}. Look inside with:\n"
            f"  mikoshi-progression ledger --store {url} --user alice\n"
            f"  mikoshi-progression replay --store {url} --user alice --user bob --user carol"
        )
    return code


DEMO = Command(
    "demo",
    "run a guided tour of every rule on SQLite",
    _configure,
    _run,
    "A day in the life of three users on the default config and the embedded SQLite store, "
    "with every rule showing once: action limits, the daily cap, a partial award, a level-up, "
    "an idempotent retry, a revoked like, a midnight reset, and the ledger replayed.",
    json_output=False,
)
