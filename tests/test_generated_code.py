"""The sync modules generated from async ones (``tools/async_to_sync.py``).

The committed sync modules must be exactly what the tool makes of their async sources, so
the two stores can never drift apart; and the tool's transformation is tested on small
sources: keywords dropped, names renamed in code, strings and comments, the markers for
the lines that differ, and its refusals.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "async_to_sync", ROOT / "tools" / "async_to_sync.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("async_to_sync", module)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


def sync(source: str) -> str:
    """The tool's transformation of a dedented ``source`` (not formatted)."""
    return tool.transform(textwrap.dedent(source))


# --- the committed modules --------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target"), tool.TARGETS, ids=[str(t.name) for _, t in tool.TARGETS]
)
def test_generated_module_is_what_its_source_makes(source: Path, target: Path) -> None:
    committed = (ROOT / target).read_text(encoding="utf-8")
    assert committed == tool.generate(source, target), (
        f"{target} is not what tools/async_to_sync.py makes of {source.name}: edit "
        f"{source.name}, never {target.name}, and run `python tools/async_to_sync.py`"
    )


def test_generated_modules_say_so() -> None:
    for source, target in tool.TARGETS:
        text = (ROOT / target).read_text(encoding="utf-8")
        assert text.startswith(f"# Generated from {source.name} by tools/async_to_sync.py")
        assert "AsyncConnection" not in text
        assert "await " not in text


def test_check_mode_reports_a_stale_module(tmp_path, monkeypatch, capsys) -> None:
    src = tmp_path / "pkg"
    src.mkdir()
    (src / "thing_async.py").write_text('"""A thing."""\n\n\nasync def f() -> None:\n    pass\n')
    (src / "thing.py").write_text("stale\n")
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    monkeypatch.setattr(tool, "TARGETS", ((Path("pkg/thing_async.py"), Path("pkg/thing.py")),))
    assert tool.main(["--check"]) == 1
    out = capsys.readouterr()
    assert "-stale" in out.out
    assert "+def f() -> None:" in out.out
    assert "out of date" in out.err
    assert (src / "thing.py").read_text() == "stale\n"  # --check writes nothing
    assert tool.main([]) == 0
    written = (src / "thing.py").read_text()
    assert written.endswith('"""A thing."""\n\n\ndef f() -> None:\n    pass\n')
    assert tool.main(["--check"]) == 0


# --- the transformation -------------------------------------------------------------------


def test_async_and_await_are_dropped() -> None:
    out = sync(
        """\
        async def fetch(conn):
            async with conn.transaction():
                cursor = await conn.execute("SELECT 1")
            async for row in cursor:
                yield row
        """
    )
    assert out == textwrap.dedent(
        """\
        def fetch(conn):
            with conn.transaction():
                cursor = conn.execute("SELECT 1")
            for row in cursor:
                yield row
        """
    )


def test_names_are_renamed_in_code_strings_and_comments() -> None:
    out = sync(
        '''\
        from psycopg_pool import AsyncConnectionPool
        from .async_base import AsyncStoreTransaction

        class AsyncPostgresStore:
            """``async with AsyncPostgresStore(dsn) as store:``, ``await store.ledger(u)``."""

            async def __aenter__(self) -> AsyncPostgresStore:  # AsyncPostgresStore, entered
                raise TypeError(f"{AsyncConnectionPool.__name__}: await store.open() first")

            def pool(self) -> psycopg_pool.AsyncConnectionPool[Any]:
                return MyAsyncConnectionPool()  # not a name of the table: left alone
        '''
    )
    assert out == textwrap.dedent(
        '''\
        from psycopg_pool import ConnectionPool
        from .base import StoreTransaction

        class PostgresStore:
            """``with PostgresStore(dsn) as store:``, ``store.ledger(u)``."""

            def __enter__(self) -> PostgresStore:  # PostgresStore, entered
                raise TypeError(f"{ConnectionPool.__name__}: store.open() first")

            def pool(self) -> psycopg_pool.ConnectionPool[Any]:
                return MyAsyncConnectionPool()  # not a name of the table: left alone
        '''
    )


def test_prose_keeps_words_that_only_contain_a_name() -> None:
    out = sync('"""The asynchronous store awaits nothing; an async store, awaited."""\n')
    assert out == '"""The asynchronous store awaits nothing; an async store, awaited."""\n'


def test_dotted_names_are_renamed_as_a_whole() -> None:
    out = sync(
        """\
        lock = asyncio.Lock()
        await asyncio.sleep(0.1)
        loop = asyncio.get_running_loop()
        # asyncio.Lock: one at a time
        """
    )
    assert out == textwrap.dedent(
        """\
        lock = threading.Lock()
        time.sleep(0.1)
        loop = asyncio.get_running_loop()
        # threading.Lock: one at a time
        """
    )


def test_a_sync_marker_replaces_the_statement_it_ends() -> None:
    out = sync(
        """\
        async def f(conn):
            await conn.set_autocommit(True)  # sync: conn.autocommit = True
            value = compute(
                1,
                2,
            )  # sync: value = 3
            return value
        """
    )
    assert out == textwrap.dedent(
        """\
        def f(conn):
            conn.autocommit = True
            value = 3
            return value
        """
    )


def test_a_sync_marker_alone_is_a_line_of_the_sync_module_only() -> None:
    out = sync(
        '''\
        # sync: import threading
        import asyncio  # async-only

        def f():
            """Async words."""  # async-only
            # sync: """Sync words,
            # sync: on two lines."""
            return 1
        '''
    )
    assert out == textwrap.dedent(
        '''\
        import threading

        def f():
            """Sync words,
            on two lines."""
            return 1
        '''
    )


def test_leading_comments_give_way_to_the_header(tmp_path) -> None:
    (tmp_path / "thing_async.py").write_text(
        '# The source of thing.py.\n# Edit it, not thing.py.\n"""A thing."""\n\nX = 1\n'
    )
    out = tool.generate(Path("thing_async.py"), Path("thing.py"), root=tmp_path)
    assert out == tool.header("thing_async.py") + '"""A thing."""\n\nX = 1\n'
    assert "The source" not in out


def test_output_is_import_sorted_and_formatted(tmp_path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["I"]\n')
    (tmp_path / "thing_async.py").write_text(
        textwrap.dedent(
            """\
            from psycopg_pool import AsyncConnectionPool, PoolClosed, BaseConnectionPool
            from contextlib import AbstractAsyncContextManager
            async def f(pool: AsyncConnectionPool) -> AbstractAsyncContextManager[int]:
                return await pool.getconn(
                    timeout=1
                )
            """
        )
    )
    out = tool.generate(Path("thing_async.py"), Path("thing.py"), root=tmp_path)
    assert out == tool.header("thing_async.py") + textwrap.dedent(
        """\
        from contextlib import AbstractContextManager

        from psycopg_pool import BaseConnectionPool, ConnectionPool, PoolClosed


        def f(pool: ConnectionPool) -> AbstractContextManager[int]:
            return pool.getconn(timeout=1)
        """
    )


# --- refusals -------------------------------------------------------------------------------


def test_a_sync_twin_that_fails_the_linter_is_refused(tmp_path) -> None:
    """An if/else around an await is fine; once the await is gone, it is a ternary's job."""
    (tmp_path / "thing_async.py").write_text(
        textwrap.dedent(
            """\
            async def f(pool, given):
                if given is None:
                    conn = await pool.getconn()
                else:
                    conn = given
                return conn
            """
        )
    )
    (tmp_path / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["SIM"]\n')
    with pytest.raises(tool.GenerationError, match="does not pass ruff check") as refused:
        tool.generate(Path("thing_async.py"), Path("thing.py"), root=tmp_path)
    assert "SIM108" in str(refused.value)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = f(\n    1,  # sync: x = 2\n)\n", "must end the line of a statement"),
        ("x = 1  # sync:\n", "not a marker"),
        ("x = 1  # sync-only: x = 2\n", "not a marker"),
        ("x = 1  # Sync: x = 2\n", "not a marker"),
        ("# async-only\nx = 1\n", "not a marker"),
        ("with lock:  # async-only\n    x = 1\n", "does not compile"),
        ("x: AsyncThing = 1\n", "'AsyncThing' (line 1 of the output) has no synchronous name"),
        ("from .other_async import y\n", "'other_async'"),
        ("x = (\n", "cannot tokenize"),
    ],
)
def test_what_cannot_be_generated_is_refused(source: str, message: str) -> None:
    with pytest.raises(tool.GenerationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tool.transform(source)
