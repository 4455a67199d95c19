"""The functional core: the rules of progression as pure functions over frozen values.

Everything in this package imports only the standard library (and the package's own
``errors``); stores, the service, the CLI, the simulator and the framework
integrations import it, never the reverse. Its public names are re-exported from
the package root: import them from ``mikoshi_progression``.

- ``config``: the rules as validated data (levels, actions, caps, days and levers).
- ``state``: one user's progression as an immutable value.
- ``days`` / ``daily``: where a day begins, and opening it.
- ``rules``: awards, revocations, adjustments and the replay fold.
- ``day_fold``: whole days of attempts folded at once without levers (the simulator's).
- ``results`` / ``levels``: what an award reports, and level views.
- ``identity``: canonical user ids and reasons.
- ``boosts``, ``streaks``, ``zones``, ``milestones``, ``events``: the designer levers;
  ``levered`` awards and folds with them, ``lever_plan`` compiles them per config.
- ``validation``: every problem of a config written as plain data.
- ``lint``: what a valid config probably got wrong (a misspelt name, a dropped action).
"""
