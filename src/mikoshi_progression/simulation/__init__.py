"""The balance simulator: many players over many days, through the real award rules.

A game designer describes kinds of players as :class:`Archetype` values (what
they do on a day they play, how likely they are to play at all, how they keep a
streak and where in the world they live) and asks :func:`simulate` how a config
treats them: how many days each level takes, how much EXP the daily cap and each
action's daily limit take away, where everyone ends up, and with the config's
levers on, what boosts, streaks and milestones did. Every attempt goes through
:func:`~mikoshi_progression.apply_events`, the same fold that replays real users,
so the simulator can never disagree with the rules.

Runs are reproducible: each player draws from its own ``random.Random`` seeded
from ``(seed, archetype name, player number)``, so the report is identical for
any number of worker processes, and adding an archetype changes no other
archetype's players.

>>> report = simulate(players=8, days=30, seed=1)
>>> [a.archetype.name for a in report.archetypes]
['casual chatter', 'daily creator', 'popular creator', 'whale']
>>> whale = report.archetypes[-1]
>>> whale.awarded_exp + whale.cap_lost + whale.limit_lost == whale.nominal_exp
True

Plotting (:func:`plot_exp_curves`) needs matplotlib, the ``[plot]`` extra;
nothing else here needs anything beyond the standard library.
"""

from __future__ import annotations

from ._archetypes import (
    DEFAULT_ARCHETYPES,
    Archetype,
    Rate,
    StreakHabit,
    archetype_problems,
    archetypes_from_dict,
    load_archetypes,
)
from ._compare import (
    FIGURE_FIELDS,
    ArchetypeComparison,
    Comparison,
    FigureChange,
    GateHit,
    compare,
    compare_reports,
)
from ._conditions import Condition, condition_holds, parse_condition
from ._export import (
    COMPARISON_COLUMNS,
    EXP_BY_DAY_COLUMNS,
    FIGURE_COLUMNS,
    comparison_rows,
    exp_by_day_rows,
    tidy_rows,
    write_csv,
)
from ._html import HtmlPage, html_comparison, html_report
from ._html_sweep import html_sweep
from ._lever_report import BoostDays, MilestoneReach, StreakReport
from ._metrics import METRIC_DESCRIPTIONS, archetype_metrics, metric_names
from ._plot import plot_comparison, plot_exp_curves
from ._report import ArchetypeReport, LevelReach, PlayerOutcomes, SimulationReport
from ._run import DEFAULT_START, default_jobs, simulate, simulate_many
from ._sensitivity import METHODS, Sensitivity, SensitivityIndex
from ._sweep import DESIGNS, SweepPoint, SweepResult, TargetMatch, sweep
from ._sweep_spec import MAX_POINTS, SweepParameter, numeric_paths, parse_sweep, point_config

__all__ = [
    "COMPARISON_COLUMNS",
    "DEFAULT_ARCHETYPES",
    "DEFAULT_START",
    "DESIGNS",
    "EXP_BY_DAY_COLUMNS",
    "FIGURE_COLUMNS",
    "FIGURE_FIELDS",
    "MAX_POINTS",
    "METHODS",
    "METRIC_DESCRIPTIONS",
    "Archetype",
    "ArchetypeComparison",
    "ArchetypeReport",
    "BoostDays",
    "Comparison",
    "Condition",
    "FigureChange",
    "GateHit",
    "HtmlPage",
    "LevelReach",
    "MilestoneReach",
    "PlayerOutcomes",
    "Rate",
    "Sensitivity",
    "SensitivityIndex",
    "SimulationReport",
    "StreakHabit",
    "StreakReport",
    "SweepParameter",
    "SweepPoint",
    "SweepResult",
    "TargetMatch",
    "archetype_metrics",
    "archetype_problems",
    "archetypes_from_dict",
    "compare",
    "compare_reports",
    "comparison_rows",
    "condition_holds",
    "default_jobs",
    "exp_by_day_rows",
    "html_comparison",
    "html_report",
    "html_sweep",
    "load_archetypes",
    "metric_names",
    "numeric_paths",
    "parse_condition",
    "parse_sweep",
    "plot_comparison",
    "plot_exp_curves",
    "point_config",
    "simulate",
    "simulate_many",
    "sweep",
    "tidy_rows",
    "write_csv",
]
