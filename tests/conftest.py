"""Shared test configuration: hypothesis profiles and small helpers."""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, Phase, settings

# A fast default for a developer's loop; CI selects the deeper one with HYPOTHESIS_PROFILE=ci.
settings.register_profile("default", max_examples=60, deadline=None)
settings.register_profile(
    "ci",
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
# Mutation testing (docs/testing.md, "Mutation testing"): the same examples on every run and
# none remembered between runs, so that a mutant's verdict depends on the code alone; no
# shrinking, since a mutant only needs to fail, not to fail on a small example.
settings.register_profile(
    "mutation",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# --- files nobody may write ---------------------------------------------------------------


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A fresh directory that every user may read (tmp_path's parents are private)."""
    path = Path(tempfile.mkdtemp(prefix="mikoshi-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for folder in (path, *(p for p in path.rglob("*") if p.is_dir())):
            folder.chmod(0o755)
        shutil.rmtree(path)


@pytest.fixture
def unprivileged() -> Callable[[Callable[[], object]], object]:
    """A runner of ``fn()`` in a forked child that cannot write what permissions forbid.

    As root (who ignores permissions) the child becomes ``nobody``; it can then reach
    only files under :func:`public_dir`. Returns what ``fn`` returned (picklable), or
    ``Raised`` names and message of the exception it raised.
    """

    def run(fn: Callable[[], object]) -> object:
        reader, writer = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.close(reader)
                if os.geteuid() == 0:
                    os.setgroups([])
                    os.setgid(NOBODY)
                    os.setuid(NOBODY)
                try:
                    result: object = fn()
                except BaseException as exc:
                    result = Raised([c.__name__ for c in type(exc).__mro__], str(exc))
                with os.fdopen(writer, "wb") as pipe:
                    pickle.dump(result, pipe)
            finally:
                os._exit(0)
        os.close(writer)
        with os.fdopen(reader, "rb") as pipe:
            data = pipe.read()
        os.waitpid(pid, 0)
        return pickle.loads(data)

    return run


NOBODY = 65534
"""The uid and gid an unprivileged child takes when the tests run as root."""


class Raised(NamedTuple):
    """An exception raised in an unprivileged child: its class names (MRO) and message."""

    classes: list[str]
    message: str
