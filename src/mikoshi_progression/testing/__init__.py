"""Test kit for suites that property-test progression backends (extra ``[testing]``).

- :func:`check_award`: the invariants every award result must satisfy.
- :class:`FakeClock`: a thread-safe clock for ``ProgressionService(clock=...)`` that
  moves only when told to.
- :mod:`~mikoshi_progression.testing.strategies`: hypothesis strategies for valid
  configs, states consistent with a config, actions and moments around day boundaries.
- :mod:`~mikoshi_progression.testing.machine`: ``store_machine`` / ``run_store_machine``,
  a hypothesis state machine that proves any ``ProgressStore`` against ``InMemoryStore``.

This module itself needs no third-party package; the two submodules need hypothesis.
See ``docs/testing.md``.
"""

from __future__ import annotations

from .clock import FakeClock
from .invariants import check_award

__all__ = ["FakeClock", "check_award"]
