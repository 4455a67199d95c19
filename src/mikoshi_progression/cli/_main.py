"""The command table, the parser built from it, and the entry point that turns
errors into one line on stderr and an exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import ConfigError, ConfigFileError, StoreError, UnsupportedStoreError
from ._common import PROG, CliError, Command, ExitCode, config_file_message, output_options
from .adjust import ADJUST
from .config_commands import LEVELS, VALIDATE
from .demo import DEMO
from .diff import DIFF
from .explain import EXPLAIN
from .ledger import LEDGER
from .replay import REPLAY
from .schema import SCHEMA
from .simulate import SIMULATE

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: list[Command] = [
    VALIDATE,
    LEVELS,
    EXPLAIN,
    DIFF,
    SIMULATE,
    DEMO,
    SCHEMA,
    LEDGER,
    REPLAY,
    ADJUST,
]
"""The sub-commands, in the order ``--help`` lists them. Append to add one."""


def build_parser(commands: Sequence[Command] | None = None) -> argparse.ArgumentParser:
    """The tool's argument parser with ``commands`` (default: :data:`COMMANDS`)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="EXP, levels, daily limits and caps: check, explain and simulate configs; "
        "set up, inspect and replay stores; adjust a user's progression by hand.",
        epilog="exit codes: 0 ok, 1 invalid config (or a failed check or replay; a declined "
        "adjust), 2 usage or bad input, 3 optional extra missing, 4 store failure, "
        "130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS if commands is None else commands:
        child = sub.add_parser(
            command.name,
            help=command.help,
            description=command.description or command.help,
            parents=[output_options()] if command.json_output else [],
        )
        command.configure(child)
        if command.run is not None:
            child.set_defaults(run=command.run)
    return parser


def _error(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {message}\n")


def _one_line(text: str) -> str:
    """``text`` with its line breaks and runs of spaces collapsed (driver messages have them)."""
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    """Run the tool with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else ExitCode.USAGE
    try:
        return int(args.run(args))
    except CliError as exc:
        _error(str(exc))
        return exc.code
    except ConfigFileError as exc:
        _error(config_file_message(exc))
        return ExitCode.USAGE
    except ConfigError as exc:
        count = len(exc.problems)
        where = f" in {exc.source}" if exc.source else ""
        _error(f"invalid configuration: {count} problem{'s' if count != 1 else ''}{where}")
        for problem in exc.problems:
            sys.stderr.write(f"  {problem}\n")
        return ExitCode.INVALID
    except UnsupportedStoreError as exc:
        _error(_one_line(str(exc)))
        return ExitCode.USAGE
    except StoreError as exc:
        _error(_one_line(str(exc)) or type(exc).__name__)
        return ExitCode.STORE
    except KeyboardInterrupt:
        _error("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as other tools do.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return ExitCode.OK
