"""Packaging: no runtime dependencies, typed, a small explicit public face."""

from __future__ import annotations

import ast
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


def test_the_core_imports_only_the_standard_library_and_itself():
    """Every module under core/ imports the standard library, the core, and errors: nothing
    of the stores, the service, the CLI or an integration, and no third-party package."""
    core = sorted((PACKAGE / "core").glob("*.py"))
    assert {path.stem for path in core} >= {"config", "state", "rules", "results", "days"}
    for path in core:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1:
                    continue  # another core module
                if node.level == 2:
                    assert node.module == "errors", (path.name, node.module)
                    continue
                assert node.level == 0, (path.name, node.module)
                assert node.module is not None, path.name
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "__future__", (path.name, name)


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
