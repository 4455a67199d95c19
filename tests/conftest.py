"""Shared test configuration: hypothesis profiles and small helpers."""

from __future__ import annotations

import os

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
