"""What every command shares: the command record, errors and exit codes, output
helpers (tables, JSON) and the reading of arguments (configs, numbers, dates,
files of JSON records).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any

from ..core.config import DEFAULT_CONFIG, ProgressionConfig, load_config
from ..errors import ConfigError, ConfigFileError

__all__ = [
    "DEFAULT_WORD",
    "PROG",
    "CliError",
    "Command",
    "ExitCode",
    "add_config_argument",
    "cell",
    "config_file_message",
    "config_source",
    "format_table",
    "iso_date",
    "load_config_argument",
    "moment",
    "output_options",
    "percent",
    "positive_int",
    "print_json",
    "read_json_records",
    "read_text",
]

PROG = "mikoshi-progression"
DEFAULT_WORD = "default"
"""A CONFIG argument naming the built-in rules instead of a file."""


class ExitCode(IntEnum):
    """The tool's exit statuses."""

    OK = 0
    INVALID = 1
    """An invalid config or archetype file; ``validate`` found problems (or warnings,
    with ``--strict``); a replayed ledger does not match; ``schema check`` found
    something missing; the operator did not confirm an ``adjust``."""
    USAGE = 2
    """Bad usage or bad input (argparse uses 2 too)."""
    MISSING_EXTRA = 3
    """An optional dependency is not installed."""
    STORE = 4
    """The store failed: unreachable, a broken connection, an SQL error, no tables."""
    INTERRUPTED = 130


class CliError(Exception):
    """A user error: printed as one line on stderr, and the tool exits with ``code``."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Command:
    """One sub-command of the tool.

    Attributes:
        name: What the user types (``levels``).
        help: One line for the command list.
        configure: Adds the command's arguments to its parser.
        run: Runs the command and returns the exit code; ``None`` for a command
            whose ``configure`` adds sub-commands that set their own ``run``.
        description: Longer text for ``<command> --help`` (defaults to ``help``).
        json_output: Whether the command's parser gets ``--json`` (a command with
            sub-commands gives it to each sub-command instead).
    """

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int] | None
    description: str = ""
    json_output: bool = True


# --- output ----------------------------------------------------------------------------


def output_options() -> argparse.ArgumentParser:
    """A parent parser with the options every command takes (``--json``)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document on stdout instead of tables",
    )
    return parent


def print_json(document: Any) -> None:
    """Write ``document`` to stdout as indented JSON with a final newline."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]], align: str = "") -> str:
    """Rows as an aligned text table under ``headers``.

    ``align`` has one letter per column, ``l`` or ``r`` (default: numbers right,
    text left). ``None`` shows as ``-``.

    >>> print(format_table(["Level", "Name"], [[1, "Newbie"], [10, "Master"]]))
    Level  Name
    -----  ------
        1  Newbie
       10  Master
    """
    body = [list(row) for row in rows]
    if not align:
        align = "".join(
            "r" if body and all(isinstance(r[i], int | float) for r in body) else "l"
            for i in range(len(headers))
        )
    cells = [[cell(value) for value in row] for row in body]
    widths = [
        max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(width) if side == "r" else value.ljust(width)
            for value, width, side in zip(values, widths, align, strict=True)
        ]
        return "  ".join(parts).rstrip()

    header_line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([header_line, rule, *(line(row) for row in cells)])


def cell(value: object) -> str:
    """One value as a table shows it: ``-`` for ``None``, yes/no, thousands separators.

    >>> cell(None), cell(True), cell(12345), cell(2.5), cell("x")
    ('-', 'yes', '12,345', '2.5', 'x')
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def percent(fraction: float) -> str:
    """A fraction as a percentage with one decimal (``0.25`` -> ``25.0%``)."""
    return f"{fraction * 100:.1f}%"


# --- configs ---------------------------------------------------------------------------


def config_file_message(exc: ConfigError) -> str:
    """One line for a config file that could not be used at all (missing, malformed...)."""
    detail = "; ".join(p.removeprefix("file:").strip() for p in exc.problems)
    return f"{exc.source}: {detail}" if exc.source else detail


def load_config_argument(value: str | None) -> tuple[ProgressionConfig, str]:
    """The config a CONFIG argument names, and a label for it.

    ``None`` or ``"default"`` gives the built-in rules. A file that cannot be
    read or parsed raises :class:`CliError` (exit 2); a file describing an
    invalid config raises :class:`~mikoshi_progression.ConfigError` (exit 1).
    """
    if value is None or value == DEFAULT_WORD:
        return DEFAULT_CONFIG, "built-in default"
    try:
        return load_config(value), value
    except ConfigFileError as exc:
        raise CliError(config_file_message(exc)) from exc


def config_source(label: str, config: ProgressionConfig) -> dict[str, str]:
    """The ``"config"`` member of a JSON document: where the rules came from."""
    return {"source": label, "fingerprint": config.fingerprint}


def add_config_argument(
    parser: argparse.ArgumentParser, *, optional: bool = True, option: bool = False
) -> None:
    """Add the CONFIG argument: positional (optional or not), or ``--config`` if ``option``."""
    if option:
        parser.add_argument(
            "--config",
            metavar="CONFIG",
            help="the rules: a .toml or .json config file, or 'default' (default: the built-in "
            "rules)",
        )
    elif optional:
        parser.add_argument(
            "config",
            nargs="?",
            metavar="CONFIG",
            help="a .toml or .json config file, or 'default' (default: the built-in rules)",
        )
    else:
        parser.add_argument(
            "config", metavar="CONFIG", help="a .toml or .json config file, or 'default'"
        )


# --- arguments ---------------------------------------------------------------------------


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return whole_number


positive_int = int_at_least(1)
"""An argparse type: a whole number of at least 1."""


def iso_date(text: str) -> date:
    """An argparse type: a date ``YYYY-MM-DD``."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def moment(text: str, option: str) -> datetime:
    """An ISO 8601 timestamp with a time zone, given as ``option``."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(
            f"{option}: {text!r} is not an ISO 8601 timestamp (e.g. 2026-01-01T12:00:00Z)"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise CliError(
            f"{option}: {text!r} has no time zone; add one (e.g. {text}Z or {text}+09:00)"
        )
    return value


def read_text(path: str, what: str) -> str:
    """The UTF-8 text of ``path``; a :class:`CliError` naming ``what`` if it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{what} {path}: cannot read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise CliError(f"{what} {path}: not UTF-8 text ({exc.reason})") from exc


def read_json_records(path: str, option: str) -> list[tuple[str, object]]:
    """The records of a JSON array or JSON-lines file, each with its location.

    The location is ``"item N"`` (from 0) in an array or ``"line N"`` (from 1)
    in JSON lines, where blank lines are skipped. Malformed JSON raises
    :class:`CliError` naming ``option``, the file and the line.
    """
    text = read_text(path, option)
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CliError(f"{option} {path}: malformed JSON: {exc}") from exc
        return [(f"item {i}", item) for i, item in enumerate(data)]
    records: list[tuple[str, object]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append((f"line {number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            raise CliError(f"{option} {path}: line {number}: malformed JSON: {exc}") from exc
    return records
