"""Packaging: no runtime dependencies, typed, a small explicit public face."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mikoshi_progression

PACKAGE = Path(mikoshi_progression.__file__).parent


def test_import_pulls_nothing_outside_the_standard_library():
    """Importing the package, its service and its embedded stores loads no site-packages module."""
    code = (
        "import sys, json\n"
        "before = set(sys.modules)\n"
        "import mikoshi_progression, mikoshi_progression.service, mikoshi_progression.stores\n"
        "import mikoshi_progression.stores.sqlite, mikoshi_progression.demo\n"
        "new = [sys.modules[m] for m in set(sys.modules) - before]\n"
        "files = {m.__name__: getattr(m, '__file__', None) or '' for m in new}\n"
        "print(json.dumps(files))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert any(name.startswith("mikoshi_progression") for name in loaded)
    outside = {
        name
        for name, path in loaded.items()
        if not name.startswith("mikoshi_progression") and "site-packages" in path
    }
    assert outside == set()


def test_core_modules_import_nothing_of_the_shell():
    """config, state, rules, results, levels, days, daily never import stores or service."""
    core = ["config", "state", "rules", "results", "levels", "days", "daily", "errors", "_frozen"]
    for name in core:
        source = (PACKAGE / f"{name}.py").read_text()
        for shell in ("stores", "service", "cli", "fastapi", "pydantic", "testing"):
            assert f"from .{shell}" not in source, (name, shell)
            assert f"import mikoshi_progression.{shell}" not in source, (name, shell)


def test_py_typed_is_shipped():
    """The package declares itself typed (PEP 561)."""
    assert (PACKAGE / "py.typed").exists()


def test_all_names_are_importable_from_the_root():
    """Every name in __all__ exists, and the issue's contract names are there."""
    for name in mikoshi_progression.__all__:
        assert hasattr(mikoshi_progression, name), name
    contract = {
        "award_exp_with_limits",
        "apply_events",
        "level_for_exp",
        "level_progress",
        "reset_daily_limits_if_needed",
        "exp_limits_view",
        "levels_view",
        "can_perform_action",
        "ProgressState",
        "ProgressionConfig",
        "Level",
        "ActionRule",
        "AwardResult",
        "Outcome",
        "DEFAULT_CONFIG",
        "load_config",
        "ConfigError",
        "StateError",
        "ProgressionError",
    }
    assert contract <= set(mikoshi_progression.__all__)


def test_every_error_derives_from_progression_error():
    """One base class catches everything the library raises."""
    from mikoshi_progression import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.ProgressionError), name
