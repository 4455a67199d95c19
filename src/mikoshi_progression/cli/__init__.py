"""The ``mikoshi-progression`` command-line tool, for game designers and integrators.

Commands::

    validate CONFIG                      check a config file, listing every problem
    levels [CONFIG]                      the level table
    explain [CONFIG] --action A          one award, step by step
    diff OLD NEW [--states|--ledger F]   what a retune changes, and for which users
    simulate [CONFIG]                    the balance simulator
    demo [--db PATH]                     a guided tour of every rule on SQLite
    schema export [-o FILE]              the JSON Schema of config files
    schema init|check --store URL        create or check a SQL store's tables
    ledger --store URL --user ID         show or export (--json) a user's ledger
    replay --ledger FILE | --store URL   rebuild states from the ledger and check them
    adjust USER --store URL ...          an operator's grant, deduction, set balance or
                                         manual daily reset (--dry-run, or confirmed)

Every command prints aligned tables by default and one JSON document on stdout
with ``--json`` (``ledger --json`` writes JSON lines, the export format). A
CONFIG is a ``.toml`` or ``.json`` file, or the word ``default`` for the
built-in rules; where it may be omitted, the built-in rules are used.

Exit codes (:class:`ExitCode`):

    0    success
    1    an invalid config or archetype file (every problem is printed),
         ``validate`` found problems, ``schema check`` found something missing,
         or ``replay`` found a state its ledger does not explain, or the
         operator did not confirm an ``adjust``
    2    usage error or bad input: an unknown option, a missing or unreadable
         file, malformed TOML or JSON, a bad timestamp, an unknown action, an
         invalid state or ledger entry, an unsupported store URL, an
         adjustment the library refuses (EXP below 0, an empty reason, an
         idempotency key used for another request), or ``adjust`` without
         ``--yes`` when stdin is not a terminal
    3    a feature needs an optional extra that is not installed (``--plot``
         needs ``[plot]``, ``schema export`` ``[pydantic]``, PostgreSQL ``[postgres]``)
    4    the store failed: unreachable, a broken connection, an SQL error, or
         its tables are missing
    130  interrupted (Ctrl-C)

Errors are one line on stderr (an invalid config adds one line per problem);
a user error never prints a traceback.

The package holds one idea per module: ``_common`` (what every command shares),
``_main`` (the command table, the parser and :func:`main`), ``stores`` (reaching
a store from ``--store URL``), and one module per command or family of commands.

Adding a command: write a ``configure(parser)`` function that adds its
arguments and a ``run(args) -> int`` function, and append a :class:`Command` to
:data:`COMMANDS`. A command with sub-commands (``schema export|init|check``)
adds its own sub-parsers in ``configure``, passing ``parents=[output_options()]``
to each and setting ``run`` on each with ``set_defaults(run=...)``; its
:class:`Command` then has ``run=None`` and ``json_output=False``. Raise
:class:`CliError` for bad input; use :func:`load_config_argument`,
:func:`print_json` and :func:`format_table`.
"""

from __future__ import annotations

from ._common import (
    CliError,
    Command,
    ExitCode,
    format_table,
    load_config_argument,
    output_options,
    print_json,
)
from ._main import COMMANDS, build_parser, main

__all__ = [
    "COMMANDS",
    "CliError",
    "Command",
    "ExitCode",
    "build_parser",
    "format_table",
    "load_config_argument",
    "main",
    "output_options",
    "print_json",
]
