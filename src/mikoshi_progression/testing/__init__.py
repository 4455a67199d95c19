"""Test kit for suites that property-test progression backends (extra ``[testing]``).

- :mod:`~mikoshi_progression.testing.strategies`: hypothesis strategies for valid
  configs, states consistent with a config, actions and timestamps around day
  boundaries (needs ``hypothesis``).
- :func:`check_award`: the invariants every award result must satisfy (no
  third-party dependency).
"""

from __future__ import annotations

from .invariants import check_award

__all__ = ["check_award"]
