"""Run the code blocks of README.md and docs/*.md as tests (with Sybil).

Every fenced block of a document is either run or visibly marked as not run:

- A block right after a paragraph ``*Not run by the test suite: <reason>.*`` (italic on
  GitHub) is skipped. It is the only way to skip one.
- A data block (not ``python``, ``console`` or ``sh``) right after a line ending in
  ```name.ext`:`` is the file ``name.ext``: it is written to the document's directory
  (a TOML or JSON config is also checked) and a later block must use it.
- A block right after a line ``Output:`` is what the previous ``python`` block printed,
  exactly.
- ``python``: run in the document's namespace (one per document, blocks in order);
  ``test_*`` functions it defines are then called. A block with an
  ``if __name__ == "__main__":`` guard is a script: it runs in a subprocess.
- ``console``: each ``$ mikoshi-progression ...`` line is run and its output (stdout,
  then stderr) must be what the block shows; ``$ echo $?`` and a number checks the exit
  code, which is otherwise 0. ``$ cat FILE`` shows a file.
- ``sh``: each ``mikoshi-progression ...`` line is run and must exit 0 (or the code a
  following ``echo $?  # N`` names); ``> FILE`` redirects its output.
- ``mikoshi-progression`` runs in-process, with stdin not a terminal, and ``adjust``
  makes its changes at :data:`DOC_NOW` (a fixed clock, as the demo's), so its output is
  the same on every run.
- ``toml`` and ``json``: a config must load (``config_problems`` empty) and match the
  JSON Schema; an archetype file must load and suit the default config.
- ``sql``: ``CREATE TABLE`` statements for a store's own tables must make a schema the
  store accepts, with the columns and unique indexes it creates itself.

Any other block fails, asking for a runner or the marker. Each document runs in a fresh
temporary directory holding a copy of the repository's ``examples/`` and ``schemas/``,
so paths such as ``examples/mikoshi.toml`` work as they do in a clone.

When a ``console`` block's output differs, the failure shows a diff and the whole block as
the tool prints it today, ready to paste over the old one.
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
import io
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import tomllib
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from sybil import Document, Example, Region, Sybil
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
"""The documents whose blocks are tests."""

COPIED = ("examples", "schemas")
"""Directories of the repository copied into each document's directory."""

MARKER = re.compile(r"^\*Not run by the test suite: (?P<reason>\S.*)\*$")
OUTPUT_CAPTION = "Output:"
FILE_CAPTION = re.compile(r"`(?P<name>[\w./-]+\.\w+)`:$")
COMMAND_LANGUAGES = ("python", "console", "sh")
"""Blocks of these languages are run, never written to a file."""
MAIN_GUARD = re.compile(r"^if __name__ == [\"']__main__[\"']:", re.MULTILINE)
STATE = "__doc_state__"
PG_DSN = os.environ.get("MIKOSHI_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
DOC_NOW = datetime(2026, 3, 15, 10, 30, tzinfo=UTC)
"""When ``adjust`` makes its changes in the documents (the morning after the demo's first day)."""


def _doc_clock() -> datetime:
    return DOC_NOW


_LEXER = RawFencedCodeBlockLexer(
    info_pattern=re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE),
)


class DocExampleError(AssertionError):
    """A block did not do what the document says."""


@dataclass
class Block:
    """A fenced block and the paragraph before it."""

    language: str
    source: str
    paragraph: str  # the paragraph right before the block, its lines joined by spaces
    caption: str  # the last line of that paragraph
    line: int

    @property
    def marker(self) -> str | None:
        match = MARKER.match(self.paragraph)
        return match["reason"] if match else None


@dataclass
class DocState:
    """What the blocks of one document share besides the Python namespace."""

    workdir: Path
    last_output: str | None = None
    restore: list[Callable[[], None]] = field(default_factory=list)


def blocks(document: Document) -> Iterator[tuple[Region, Block]]:
    """Each fenced block of ``document`` with the paragraph before it."""
    for region in _LEXER(document):
        before = document.text[: region.start].rstrip().rsplit("\n\n", 1)[-1]
        lines = [line.strip() for line in before.splitlines()] or [""]
        info = region.lexemes["info"].strip()
        language = info.split()[0] if info else ""
        line = document.text.count("\n", 0, region.start) + 1
        source = str(region.lexemes["source"])
        yield region, Block(language, source, " ".join(lines), lines[-1], line)


# --- running commands ------------------------------------------------------------------------


def run_command(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run one command of a doc in ``cwd``: its exit code, stdout and stderr."""
    if argv[0] == "mikoshi-progression":
        from mikoshi_progression.cli import adjust, main

        out, err = io.StringIO(), io.StringIO()
        with (
            contextlib.chdir(cwd),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            mock.patch.object(sys, "stdin", io.StringIO()),  # never a terminal, even with -s
            mock.patch.object(adjust, "clock", _doc_clock),
        ):
            code = main(argv[1:])
        return code, out.getvalue(), err.getvalue()
    if argv[:3] in (
        ["python", "-m", "mikoshi_progression"],
        ["python3", "-m", "mikoshi_progression"],
    ):
        done = subprocess.run(
            [sys.executable, *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=120
        )
        return done.returncode, done.stdout, done.stderr
    if argv[0] == "cat" and len(argv) == 2:
        return 0, (cwd / argv[1]).read_text(encoding="utf-8"), ""
    raise DocExampleError(
        f"cannot run {shlex.join(argv)!r} in the test suite: run only mikoshi-progression, "
        "or mark the block with a line '*Not run by the test suite: <reason>.*' before it"
    )


@dataclass
class Command:
    """One ``$`` command of a console block, with what the block shows after it."""

    text: list[str]  # the lines as written, continuation lines included
    blank_after: int  # blank lines between its output and the next command

    @property
    def argv(self) -> list[str]:
        joined = " ".join(line.removesuffix("\\").strip() for line in self.text)
        return shlex.split(joined.removeprefix("$ "), comments=True)


def parse_console(source: str) -> list[Command]:
    """The commands of a console block (the output lines are only compared as a whole)."""
    commands: list[Command] = []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise DocExampleError(f"console block: expected a '$ ' command line, got {lines[i]!r}")
        text = [lines[i]]
        while text[-1].endswith("\\") and i + 1 < len(lines):
            i += 1
            text.append(lines[i])
        i += 1
        output: list[str] = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        blank = 0
        while blank < len(output) and not output[-1 - blank].strip():
            blank += 1
        commands.append(Command(text, blank))
    return commands


def _output_lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def evaluate_console(example: Example) -> None:
    state = _state(example)
    commands = parse_console(example.parsed)
    printed: list[str] = []  # the block as it would be with the tool's real output
    code = 0
    for number, command in enumerate(commands):
        printed.extend(command.text)
        argv = command.argv
        if argv == ["echo", "$?"]:
            printed.append(str(code))
        else:
            code, out, err = run_command(argv, state.workdir)
            printed.extend(_output_lines(out + err))
            following = commands[number + 1].argv if number + 1 < len(commands) else None
            if code != 0 and following != ["echo", "$?"]:
                printed.extend(["$ echo $?", str(code)])
        printed.extend([""] * command.blank_after)
    while printed and not printed[-1]:
        printed.pop()
    shown = [line.rstrip() for line in example.parsed.splitlines()]
    while shown and not shown[-1]:
        shown.pop()
    if printed != shown:
        raise DocExampleError(_differs(shown, printed) + _update(example, printed))


def _differs(shown: list[str], printed: list[str]) -> str:
    diff = "\n".join(
        difflib.unified_diff(
            shown, printed, "shown in the document", "printed by the tool", lineterm=""
        )
    )
    return (
        f"the output differs from what the tool prints.\n\n{diff}\n\n"
        "The block as the tool prints it now, to paste over the old one:\n\n"
        "```console\n" + "\n".join(printed) + "\n```\n"
    )


def _update(example: Example, printed: list[str]) -> str:
    """With ``MIKOSHI_DOCS_UPDATE=1``, put ``printed`` in place of the block in its file."""
    if not os.environ.get("MIKOSHI_DOCS_UPDATE"):
        return "(Or run the tests with MIKOSHI_DOCS_UPDATE=1 to rewrite the block in place.)\n"
    path = Path(example.path)
    text = path.read_text(encoding="utf-8")
    # Earlier blocks may have been rewritten already: find this one by its text.
    fence = "```" + example.region.lexemes["language"] + "\n"
    old = fence + example.parsed
    starts = [m.start() for m in re.finditer(re.escape(old), text)]
    if not starts:
        return f"(Not rewritten: the block is no longer in {path.name} as it was.)\n"
    start = min(starts, key=lambda at: abs(at - example.start))
    new = fence + "\n".join(printed) + "\n"
    path.write_text(text[:start] + new + text[start + len(old) :], encoding="utf-8")
    return f"Rewritten in {path.name} (MIKOSHI_DOCS_UPDATE is set): review it with git diff.\n"


def _sh_commands(source: str) -> Iterator[tuple[list[str], int]]:
    """Each command of a sh block with the exit code it must end with."""
    lines = source.replace("\\\n", " ").splitlines()
    commands: list[list[str]] = []
    expected: list[int] = []
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        argv = shlex.split(line, comments=True)
        if argv == ["echo", "$?"]:
            match = re.search(r"#\s*(\d+)\s*$", line)
            if not commands or match is None:
                raise DocExampleError(f"sh block: 'echo $?' needs a command and '# N': {line!r}")
            expected[-1] = int(match[1])
            continue
        commands.append(argv)
        expected.append(0)
    yield from zip(commands, expected, strict=True)


def evaluate_sh(example: Example) -> None:
    state = _state(example)
    for argv, expected in _sh_commands(example.parsed):
        target = None
        if len(argv) > 2 and argv[-2] == ">":
            argv, target = argv[:-2], argv[-1]
        code, out, err = run_command(argv, state.workdir)
        if code != expected:
            raise DocExampleError(
                f"{shlex.join(argv)} exited {code}, not {expected}\nstdout:\n{out}\nstderr:\n{err}"
            )
        if target is not None:
            (state.workdir / target).write_text(out, encoding="utf-8")


# --- Python ----------------------------------------------------------------------------------


def evaluate_python(example: Example) -> None:
    state = _state(example)
    namespace = example.namespace
    before = dict(namespace)
    source = "\n" * example.line + example.parsed
    code = compile(source, example.path, "exec", dont_inherit=True)
    out = io.StringIO()
    with contextlib.chdir(state.workdir), contextlib.redirect_stdout(out):
        exec(code, namespace)
        for name, value in list(namespace.items()):
            if name.startswith("test_") and callable(value) and before.get(name) is not value:
                _call_test(value, state)
    namespace.pop("__builtins__", None)
    state.last_output = out.getvalue()
    sys.stdout.write(state.last_output)


def _call_test(function: Callable[..., Any], state: DocState) -> None:
    """Call a test function a block defined, as pytest would (only ``tmp_path`` is provided)."""
    arguments: dict[str, Any] = {}
    for name in inspect.signature(function).parameters:
        if name != "tmp_path":
            raise DocExampleError(f"{function.__name__}: cannot provide the fixture {name!r}")
        arguments[name] = Path(tempfile.mkdtemp(prefix=f"{function.__name__}-", dir=state.workdir))
    function(**arguments)


def evaluate_script(example: Example) -> None:
    """A block with a ``__main__`` guard, run as a script file in a subprocess."""
    state = _state(example)
    script = state.workdir / f"{Path(example.path).stem}_line_{example.line}.py"
    script.write_text(example.parsed, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, script.name],
        cwd=state.workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise DocExampleError(f"the script exited {done.returncode}:\n{done.stderr}")
    state.last_output = done.stdout


def evaluate_output(example: Example) -> None:
    state = _state(example)
    if state.last_output is None:
        raise DocExampleError("an 'Output:' block must follow a python block")
    shown = _output_lines(example.parsed)
    printed = _output_lines(state.last_output)
    if shown != printed:
        diff = "\n".join(difflib.unified_diff(shown, printed, "shown", "printed", lineterm=""))
        raise DocExampleError(
            f"the output differs.\n\n{diff}\n\nWhat the code prints:\n\n"
            + "\n".join(printed)
            + "\n\n"
            + _update(example, printed)
        )
    state.last_output = None


# --- files and configs -----------------------------------------------------------------------


def _parse_data(language: str, source: str) -> Any:
    return tomllib.loads(source) if language == "toml" else json.loads(source)


def check_data(language: str, source: str) -> list[str]:
    """The problems of a config or archetype file (TOML or JSON); empty if it is valid."""
    from mikoshi_progression import config_problems

    data = _parse_data(language, source)
    if "archetype" in data:
        from mikoshi_progression.simulation import archetype_problems, archetypes_from_dict

        return archetype_problems(archetypes_from_dict(data))
    problems = config_problems(data)
    if not problems:
        import jsonschema

        schema = json.loads((ROOT / "schemas" / "mikoshi-progression.schema.json").read_text())
        # As an editor's TOML plugin (taplo) sees it: a TOML date-time is its ISO 8601 text.
        as_json = json.loads(json.dumps(data, default=lambda value: value.isoformat()))
        errors = jsonschema.Draft202012Validator(schema).iter_errors(as_json)
        problems = [f"JSON Schema: {error.message}" for error in errors]
    return problems


def evaluate_data(example: Example) -> None:
    problems = check_data(example.region.lexemes["language"], example.parsed)
    if problems:
        raise DocExampleError("the config is invalid:\n" + "\n".join(problems))


def evaluate_file(example: Example) -> None:
    """Write the block to the file its caption names; check a config; it must be used later."""
    state = _state(example)
    name = FILE_CAPTION.search(example.region.lexemes["caption"])["name"]  # type: ignore[index]
    (state.workdir / name).parent.mkdir(parents=True, exist_ok=True)
    (state.workdir / name).write_text(example.parsed, encoding="utf-8")
    rest = example.document.text[example.end :]
    if name not in rest:
        raise DocExampleError(f"{name} is written but no later block uses it")
    language = example.region.lexemes["language"]
    if language in ("toml", "json"):
        problems = check_data(language, example.parsed)
        for problem in problems:  # an invalid config must be shown with its problems
            if problem not in rest:
                raise DocExampleError(f"{name}: the problem {problem!r} is not shown later")


# --- SQL schemas -----------------------------------------------------------------------------


def evaluate_sql(example: Example) -> None:
    """A store's own tables made by hand from the document: the store must accept them."""
    source = example.parsed
    if "CREATE TABLE mikoshi_" in source:
        _check_sqlite_schema(example, source)
    else:
        _check_postgres_schema(example, source)


def _compare_schemas(report: Any, shown: list[str], real: list[str], hint: str = "") -> None:
    """Fail unless the store accepts the schema shown and it has the store's own shape."""
    if report.ok and shown == real:
        return
    diff = "\n".join(
        difflib.unified_diff(shown, real, "made from the document", "made by the store", "", "", 0)
    )
    raise DocExampleError(
        f"the schema shown is not the store's.\ncheck_schema() on it: {report}\n{diff}\n{hint}"
    )


def _sqlite_shape(path: Path) -> list[str]:
    """One line per column and per index of the SQLite database at ``path``."""
    shape: list[str] = []
    with contextlib.closing(sqlite3.connect(path)) as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY 1"):
            for _, name, type_, notnull, default, pk in db.execute(f"PRAGMA table_info({table})"):
                shape.append(f"{table}.{name} {type_} notnull={notnull} default={default} pk={pk}")
            for _, index, unique, _, partial in db.execute(f"PRAGMA index_list({table})"):
                columns = [row[2] for row in db.execute(f"PRAGMA index_info({index})")]
                shape.append(
                    f"index {index} on {table} {columns} unique={unique} partial={partial}"
                )
    return sorted(shape)


def _check_sqlite_schema(example: Example, source: str) -> None:
    from mikoshi_progression.stores.sqlite import SQLiteStore

    directory = Path(tempfile.mkdtemp(prefix="sql-", dir=_state(example).workdir))
    by_hand, by_store = directory / "by-hand.db", directory / "by-store.db"
    with contextlib.closing(sqlite3.connect(by_hand)) as db:
        db.executescript(source)
    with SQLiteStore(by_hand, create=False) as store:
        report = store.check_schema()
    with SQLiteStore(by_store):
        pass
    with contextlib.closing(sqlite3.connect(by_store)) as db:
        ddl = [row[0] + ";" for row in db.execute("SELECT sql FROM sqlite_master") if row[0]]
    hint = "The store's own statements:\n" + "\n".join(ddl)
    _compare_schemas(report, _sqlite_shape(by_hand), _sqlite_shape(by_store), hint)


def _postgres_shape(connection: Any, schema: str) -> list[str]:
    """One line per column and per index of the PostgreSQL ``schema``."""
    columns = connection.execute(
        "SELECT table_name, column_name, data_type, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_schema = %s",
        (schema,),
    ).fetchall()
    indexes = connection.execute(
        "SELECT tablename, regexp_replace(indexdef, ' ON \\S+ ', ' ON ') FROM pg_indexes "
        "WHERE schemaname = %s",
        (schema,),
    ).fetchall()
    shape = [f"{t}.{c} {type_} nullable={n} default={d}" for t, c, type_, n, d in columns]
    return sorted(shape + [f"{table}: {index}" for table, index in indexes])


def _check_postgres_schema(example: Example, source: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    from mikoshi_progression.stores.postgres import PostgresStore

    try:
        connection = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable at {PG_DSN}: {exc}")
    by_hand, by_store = (f"docs_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("hand", "store"))
    try:
        connection.execute(f"CREATE SCHEMA {by_hand}")
        connection.execute(f"SET search_path TO {by_hand}")
        connection.execute(source)
        with PostgresStore(PG_DSN, schema=by_hand, create=False, max_size=1) as store:
            report = store.check_schema()
        with PostgresStore(PG_DSN, schema=by_store, max_size=1):
            pass
        shown, real = _postgres_shape(connection, by_hand), _postgres_shape(connection, by_store)
        _compare_schemas(report, shown, real)
    finally:
        for schema in (by_hand, by_store):
            connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.close()


# --- the parser ------------------------------------------------------------------------------


def fail_unrunnable(example: Example) -> None:
    raise DocExampleError(
        f"a ```{example.region.lexemes['language']} block that the test suite cannot run. "
        "Give it a runner in tests/doc_examples.py, or put a line "
        "'*Not run by the test suite: <reason>.*' right before it."
    )


def evaluator_for(block: Block) -> Callable[[Example], None] | None:
    """What runs ``block``; ``None`` for a block visibly marked as not run."""
    if block.marker is not None:
        return None
    if FILE_CAPTION.search(block.caption) and block.language not in COMMAND_LANGUAGES:
        return evaluate_file
    if block.caption == OUTPUT_CAPTION:
        return evaluate_output
    if block.language == "python":
        return evaluate_script if MAIN_GUARD.search(block.source) else evaluate_python
    if block.language == "console":
        return evaluate_console
    if block.language == "sh":
        return evaluate_sh
    if block.language in ("toml", "json"):
        return evaluate_data
    if block.language == "sql" and "CREATE TABLE" in block.source:
        return evaluate_sql
    return fail_unrunnable


def _reported(evaluator: Callable[[Example], None]) -> Callable[[Example], str | None]:
    """``evaluator`` returning what went wrong as text, which Sybil reports as it is.

    A :class:`DocExampleError` is its message; any other exception (an example's own
    error) is its traceback, formatted here: Sybil's traceback filter fails on chained
    exceptions (IndexError in ``_traceback_filter``), which pytest then reports as an
    internal error instead of a failure.
    """

    def evaluate(example: Example) -> str | None:
        try:
            evaluator(example)
        except DocExampleError as exc:
            return str(exc)
        except Exception as exc:
            return "".join(traceback.format_exception(exc))
        return None

    return evaluate


def parse_document(document: Document) -> Iterator[Region]:
    """The Sybil parser: one region per fenced block that is not marked as not run."""
    for region, block in blocks(document):
        evaluator = evaluator_for(block)
        if evaluator is None:
            continue
        region.parsed = block.source
        region.evaluator = _reported(evaluator)
        region.lexemes["language"] = block.language
        region.lexemes["caption"] = block.caption
        yield region


# --- per-document setup ----------------------------------------------------------------------


def _state(example: Example) -> DocState:
    return example.namespace[STATE]  # type: ignore[no-any-return]


def setup(namespace: dict[str, Any]) -> None:
    """A fresh directory with the repository's examples/ and schemas/, and a way back
    from the global changes examples make (a CLI command appended, a hypothesis profile
    loaded)."""
    from hypothesis import settings

    from mikoshi_progression.cli import COMMANDS

    workdir = Path(tempfile.mkdtemp(prefix="mikoshi-docs-"))
    for name in COPIED:
        shutil.copytree(ROOT / name, workdir / name, ignore=shutil.ignore_patterns("__pycache__"))
    state = DocState(workdir)
    commands = list(COMMANDS)
    profile = settings.get_current_profile_name()
    profile_settings = settings.get_profile(profile)

    def restore() -> None:
        COMMANDS[:] = commands
        settings.register_profile(profile, profile_settings)
        settings.load_profile(profile)

    state.restore.append(restore)
    namespace[STATE] = state
    namespace["__name__"] = "doc_example"


def teardown(namespace: dict[str, Any]) -> None:
    """Close the stores the examples left open, undo their global changes, remove the
    directory."""
    from mikoshi_progression.service import ProgressionService

    for value in list(namespace.values()):
        store = value.store if isinstance(value, ProgressionService) else value
        close = getattr(store, "close", None)
        if type(store).__module__.startswith("mikoshi_progression.stores") and callable(close):
            close()  # safe to call twice
    state: DocState = namespace[STATE]
    for restore in state.restore:
        restore()
    shutil.rmtree(state.workdir, ignore_errors=True)
    namespace.clear()


SYBIL = Sybil(
    parsers=[parse_document], path=str(ROOT), patterns=["*.md"], setup=setup, teardown=teardown
)
