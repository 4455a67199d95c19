#!/usr/bin/env python3
"""Generate the synchronous PostgreSQL store from its asyncio source.

The asyncio modules are the source: ``stores/postgres_async.py`` (``AsyncPostgresStore``)
and ``stores/_postgres_io_async.py`` (the pool and the connections it lends). This script
writes their synchronous twins, ``stores/postgres.py`` (``PostgresStore``) and
``stores/_postgres_io.py``, so that the two stores are one piece of code, never two copies
kept in step by hand (psycopg builds its own sync classes from its async ones the same
way)::

    python tools/async_to_sync.py          # rewrite every generated module
    python tools/async_to_sync.py --check  # change nothing; exit 1 with a diff if one is stale

``tests/test_generated_code.py`` fails while a generated module differs from what this
script makes of its source. Run it with the project's environment: it needs ruff.

The transformation works on tokens (:mod:`tokenize`), so comments, docstrings and the
layout of the source survive:

1. Marker comments, for the few lines that must differ:

   - ``code  # sync: other code``: the sync module has ``other code`` instead of the
     statement (or block header) that ends on this line, however many lines it spans;
   - ``code  # async-only``: only the async module has that statement;
   - ``# sync: code`` alone on a line: a line ``code`` only the sync module has (lines
     of a multi-line statement take one marker each).

   The comment lines above the source's module docstring are replaced by a header saying
   that the output is generated, and from what.
2. The keywords ``async`` and ``await`` are dropped.
3. Names are renamed after :data:`RENAMES` (``AsyncConnectionPool`` to ``ConnectionPool``,
   ``__aenter__`` to ``__enter__``, ``asyncio.Lock`` to ``threading.Lock``...): in code,
   and as whole words in strings and comments, where ``await`` and the ``async`` of
   ``async with``, ``async for`` and ``async def`` are dropped too, so that a docstring or
   an error message reads right in both modules.
4. The output must compile and hold no ``async``, ``await`` or ``Async...`` name that the
   table does not map; its imports are then sorted (ruff's isort rules, since a renamed
   name may sort elsewhere), it is formatted with ``ruff format``, and it must pass
   ``ruff check`` (a rule may fire on the sync twin only: an ``if``/``else`` that has
   become a ternary's job once ``await`` is gone, say).
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import io
import re
import shutil
import subprocess
import sys
import tokenize
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = [
    "RENAMES",
    "TARGETS",
    "GenerationError",
    "format_code",
    "generate",
    "header",
    "main",
    "transform",
]

ROOT = Path(__file__).resolve().parent.parent
"""The repository; the paths of :data:`TARGETS` are relative to it."""

_STORES = Path("src/mikoshi_progression/stores")
TARGETS: tuple[tuple[Path, Path], ...] = (
    (_STORES / "_postgres_io_async.py", _STORES / "_postgres_io.py"),
    (_STORES / "_postgres_batch_async.py", _STORES / "_postgres_batch.py"),
    (_STORES / "_postgres_tx_async.py", _STORES / "_postgres_tx.py"),
    (_STORES / "postgres_async.py", _STORES / "postgres.py"),
)
"""Each asyncio source and the synchronous module generated from it."""

RENAMES: dict[str, str] = {
    # The standard library.
    "AbstractAsyncContextManager": "AbstractContextManager",
    "asynccontextmanager": "contextmanager",
    "AsyncIterator": "Iterator",
    "AsyncIterable": "Iterable",
    "AsyncGenerator": "Generator",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
    "aclose": "close",
    "asyncio.Lock": "threading.Lock",
    "asyncio.Event": "threading.Event",
    "asyncio.sleep": "time.sleep",
    # psycopg and psycopg_pool.
    "AsyncConnection": "Connection",
    "AsyncCursor": "Cursor",
    "AsyncConnectionPool": "ConnectionPool",
    # The library's own protocols and modules.
    "async_base": "base",
    "AsyncProgressStore": "ProgressStore",
    "AsyncStoreTransaction": "StoreTransaction",
    "AsyncSchemaStore": "SchemaStore",
    "AsyncStateReader": "StateReader",
    "AsyncCanonicalIdStore": "CanonicalIdStore",
    "AsyncRequestKeyStore": "RequestKeyStore",
    "AsyncMonitoringStore": "MonitoringStore",
    "AsyncPostgresStore": "PostgresStore",
    "AsyncPostgresBatch": "PostgresBatch",
    "AsyncBatchTransaction": "BatchTransaction",
    "AsyncBatchStore": "BatchStore",
    "_postgres_batch_async": "_postgres_batch",
    "AsyncPostgresTransaction": "PostgresTransaction",
    "AsyncOneUserBatch": "OneUserBatch",
    "_postgres_tx_async": "_postgres_tx",
    "postgres_async": "postgres",
    "_postgres_io_async": "_postgres_io",
}
"""What each async name is called in the synchronous module (a dotted key is matched as
a whole: ``asyncio.Lock``, not every ``asyncio``)."""

_SYNC = "# sync:"
_ASYNC_ONLY = "# async-only"
_MARKER_LIKE = re.compile(r"#\s*(sync\b|async[-_ ]?only\b)", re.IGNORECASE)
_UNMAPPED = re.compile(r"^_*Async[A-Z_]|^__a(enter|exit|iter|next)__$|^async_|_async$")
_KEYWORDS = re.compile(r"\bawait\s+|\basync\s+(?=(?:def|with|for)\b)")
_WORDS = re.compile(
    r"(?<!\w)(?:"
    + "|".join(re.escape(name) for name in sorted(RENAMES, key=len, reverse=True))
    + r")(?!\w)"
)


class GenerationError(Exception):
    """The source cannot be turned into a synchronous module (a misplaced marker...)."""


def header(source_name: str) -> str:
    """The comment that opens a generated module."""
    return (
        f"# Generated from {source_name} by tools/async_to_sync.py: do not edit.\n"
        f"# Change {source_name}, then run `python tools/async_to_sync.py`\n"
        "# (tests/test_generated_code.py fails while this file is not what it generates).\n"
    )


def transform(source: str, *, source_name: str = "<source>") -> str:
    """The synchronous twin of ``source`` (not yet import-sorted or formatted)."""
    lines = _apply_markers(source, source_name)
    text = _apply_tokens("".join(lines), source_name)
    _check_output(text, source_name)
    return text


def generate(source_path: Path, target_path: Path, *, root: Path | None = None) -> str:
    """The text of ``target_path`` generated from ``source_path`` (paths under ``root``,
    by default :data:`ROOT`)."""
    root = ROOT if root is None else root
    source = (root / source_path).read_text(encoding="utf-8")
    text = header(source_path.name) + transform(source, source_name=source_path.name)
    return format_code(text, target_path, root=root)


def format_code(text: str, path: Path, *, root: Path | None = None) -> str:
    """``text`` with its imports sorted and formatted by ruff, as ``path`` under ``root``
    (by default :data:`ROOT`, so that the project's ruff settings apply); then linted, so
    that a source whose sync twin breaks a lint rule is refused at once.
    """
    text = _ruff_stdin(["check", "--select", "I", "--fix-only", "--quiet"], text, path, root)
    text = _ruff_stdin(["format", "--quiet"], text, path, root)
    problems = _ruff_stdin(
        ["check", "--quiet", "--output-format", "concise"], text, path, root, check=False
    )
    if problems.strip():
        raise GenerationError(
            f"the generated {path} does not pass ruff check (change its source so that both "
            f"modules pass):\n{problems}"
        )
    return text


def _ruff_stdin(
    command: list[str], text: str, path: Path, root: Path | None, *, check: bool = True
) -> str:
    """What ruff ``command`` prints for ``text`` given as the file ``path``."""
    done = subprocess.run(
        [*_ruff(), *command, "--stdin-filename", str(path), "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT if root is None else root,
        check=False,
    )
    if check and done.returncode != 0:
        raise GenerationError(f"ruff {command[0]} failed on {path}:\n{done.stderr}")
    return done.stdout


# --- the steps ---------------------------------------------------------------------------


def _tokens(text: str, source_name: str) -> list[tokenize.TokenInfo]:
    try:
        return list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise GenerationError(f"{source_name}: cannot tokenize: {exc}") from exc


def _statements(tokens: Sequence[tokenize.TokenInfo]) -> dict[int, int]:
    """The row each logical line (a statement or a block's header) starts on, by the row
    it ends on."""
    starts: dict[int, int] = {}
    start: int | None = None
    skipped = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
    for token in tokens:
        if token.type == tokenize.NEWLINE:
            if start is not None:
                starts[token.start[0]] = start
            start = None
        elif start is None and token.type not in skipped:
            start = token.start[0]
    return starts


def _apply_markers(source: str, source_name: str) -> list[str]:
    """Step 1: the source's lines with the markers applied and the leading comments gone."""
    tokens = _tokens(source, source_name)
    lines = source.splitlines(keepends=True)
    statements = _statements(tokens)
    replaced: dict[int, str | None] = {}  # row (1-based) -> new line, or None to drop it
    for token in tokens:
        if token.type != tokenize.COMMENT or not _MARKER_LIKE.match(token.string):
            continue
        row, column = token.start
        line = lines[row - 1]
        alone = not line[:column].strip()
        where = f"{source_name}:{row}"
        code = token.string[len(_SYNC) :].strip()
        if alone and token.string.startswith(_SYNC + " ") and code:
            indent = line[: len(line) - len(line.lstrip())]
            replaced[row] = f"{indent}{code}\n"
            continue
        if alone or not (token.string == _ASYNC_ONLY or token.string.startswith(_SYNC + " ")):
            raise GenerationError(
                f"{where}: not a marker: {token.string!r} (use 'code  # sync: other code', "
                "'# sync: code' alone on a line, or 'code  # async-only')"
            )
        start = statements.get(row)
        if start is None:
            raise GenerationError(f"{where}: a marker must end the line of a statement")
        opening = lines[start - 1]
        indent = opening[: len(opening) - len(opening.lstrip())]
        for covered in range(start, row + 1):
            replaced[covered] = None
        if token.string != _ASYNC_ONLY:
            if not code:
                raise GenerationError(f"{where}: '# sync:' without the code that replaces it")
            replaced[start] = f"{indent}{code}\n"
    # The comments above the first statement (the module docstring): the generated header
    # takes their place.
    first = next(t for t in tokens if t.type not in (tokenize.COMMENT, tokenize.NL))
    for row in range(1, first.start[0]):
        if row not in replaced and lines[row - 1].lstrip().startswith("#"):
            replaced[row] = None
    out: list[str] = []
    for row, line in enumerate(lines, 1):
        new = replaced.get(row, line)
        if new is not None:
            out.append(new)
    while out and not out[0].strip():
        del out[0]
    return out


def _apply_tokens(text: str, source_name: str) -> str:
    """Steps 2 and 3: ``async`` and ``await`` dropped, names renamed."""
    tokens = _tokens(text, source_name)
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def at(position: tuple[int, int]) -> int:
        row, column = position
        return offsets[row - 1] + column

    edits: list[tuple[int, int, str]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        kind = token.type
        if kind == tokenize.NAME and token.string in ("async", "await"):
            following = tokens[index + 1]
            stop = following.start if following.start[0] == token.end[0] else token.end
            edits.append((at(token.start), at(stop), ""))
        elif kind == tokenize.NAME:
            dotted = _dotted_rename(tokens, index)
            if dotted is not None:
                last, name = dotted
                edits.append((at(token.start), at(tokens[last].end), name))
                index = last
            elif token.string in RENAMES:
                edits.append((at(token.start), at(token.end), RENAMES[token.string]))
        elif kind in (tokenize.STRING, tokenize.COMMENT) or kind == _FSTRING_START:
            last = _fstring_end(tokens, index) if kind == _FSTRING_START else index
            # An f-string is text as a whole, as Python 3.11 tokenizes it.
            old = text[at(token.start) : at(tokens[last].end)]
            new = _rename_text(old)
            if new != old:
                edits.append((at(token.start), at(tokens[last].end), new))
            index = last
        index += 1
    out: list[str] = []
    done = 0
    for start, end, new in edits:  # in order, and never overlapping
        out += [text[done:start], new]
        done = end
    out.append(text[done:])
    return "".join(out)


_FSTRING_START = getattr(tokenize, "FSTRING_START", -1)  # Python 3.12+
_FSTRING_END = getattr(tokenize, "FSTRING_END", -1)


def _fstring_end(tokens: Sequence[tokenize.TokenInfo], index: int) -> int:
    """The index of the token that ends the f-string starting at ``tokens[index]``."""
    depth = 0
    for last in range(index, len(tokens)):
        if tokens[last].type == _FSTRING_START:
            depth += 1
        elif tokens[last].type == _FSTRING_END:
            depth -= 1
            if depth == 0:
                return last
    raise GenerationError("an f-string without its end")  # pragma: no cover - tokenize fails


def _dotted_rename(tokens: Sequence[tokenize.TokenInfo], index: int) -> tuple[int, str] | None:
    """A dotted key of :data:`RENAMES` starting at ``tokens[index]``: its last token's index
    and its new name."""
    for key, name in RENAMES.items():
        parts = key.split(".")
        if len(parts) < 2 or tokens[index].string != parts[0]:
            continue
        last = index + 2 * (len(parts) - 1)
        if last >= len(tokens):
            continue
        words = [t.string for t in tokens[index : last + 1]]
        if words == list(_interleave(parts)):
            return last, name
    return None


def _interleave(parts: Sequence[str]) -> Iterator[str]:
    for position, part in enumerate(parts):
        if position:
            yield "."
        yield part


def _rename_text(text: str) -> str:
    """A string's or a comment's text as the synchronous module says it."""
    text = _KEYWORDS.sub("", text)
    return _WORDS.sub(lambda match: RENAMES[match.group(0)], text)


def _check_output(text: str, source_name: str) -> None:
    """Step 4's checks: the output compiles and has no async name left."""
    try:
        compile(text, f"<sync twin of {source_name}>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise GenerationError(
            f"the sync twin of {source_name} does not compile (line {exc.lineno}: {exc.msg}); "
            "check the markers around that line"
        ) from exc
    for token in _tokens(text, source_name):
        if token.type == tokenize.NAME and _UNMAPPED.search(token.string):
            raise GenerationError(
                f"{source_name}: {token.string!r} (line {token.start[0]} of the output) has "
                "no synchronous name: add it to RENAMES in tools/async_to_sync.py, or mark "
                "the line"
            )


def _ruff() -> list[str]:
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    found = shutil.which("ruff")
    if found is None:
        raise GenerationError(
            "ruff is needed to format the generated code: run this script with the "
            "project's environment (.venv/bin/python tools/async_to_sync.py)"
        )
    return [found]


# --- the command ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and show a diff if a generated module is out of date",
    )
    args = parser.parse_args(argv)
    stale = 0
    for source_path, target_path in TARGETS:
        try:
            wanted = generate(source_path, target_path)
        except GenerationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        target = ROOT / target_path
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current == wanted:
            continue
        if args.check:
            stale += 1
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    wanted.splitlines(keepends=True),
                    f"{target_path} (committed)",
                    f"{target_path} (generated from {source_path.name})",
                )
            )
        else:
            target.write_text(wanted, encoding="utf-8")
            print(f"wrote {target_path} (from {source_path.name})")
    if stale:
        print(
            f"{stale} generated module(s) out of date: run python tools/async_to_sync.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
