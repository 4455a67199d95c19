"""The simulation report as text: what ``simulate`` prints without ``--json``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from ..simulation import ArchetypeReport, SimulationReport
from ._common import cell, format_table, percent

__all__ = ["simulation_lines"]

_AROUND = 3
"""Days shown before and after each boost window in the EXP-by-day table."""


def simulation_lines(report: SimulationReport, label: str) -> list[str]:
    """The whole report, line by line."""
    out = [
        f"Simulated {report.players:,} players for {report.days:,} days from "
        f"{report.start.isoformat()} (seed {report.seed}; {label}, fingerprint "
        f"{report.config.fingerprint}): {report.attempts:,} award attempts",
    ]
    out += _boost_window_lines(report)
    for part in report.archetypes:
        out += ["", f"== {part.archetype.name}: {part.players:,} players =="]
        out += _archetype_lines(part)
        if not part.players:
            out.append("(no players: raise --players to simulate this archetype)")
            continue
        out += _level_lines(part, report)
        out += _exp_lines(part, report)
        out += _streak_lines(part)
        out += _milestone_lines(part)
        summary = part.final_exp_summary()
        out += [
            "",
            "Final EXP: " + ", ".join(f"{k} {cell(v)}" for k, v in summary.items()),
            "Final level: "
            + ", ".join(f"{n}: {count:,}" for n, count in part.final_levels.items()),
        ]
    out += _exp_by_day_lines(report)
    return out


def _archetype_lines(part: ArchetypeReport) -> list[str]:
    archetype = part.archetype
    out = [archetype.description] if archetype.description else []
    habit = archetype.streak_habit
    if habit is not None:
        days = "every day" if set(habit.pattern) == {"1"} else f"days on of {habit.pattern}"
        out.append(
            f"Streak habit: the streak action on {percent(habit.expected)} of days "
            f"(chance {habit.chance:g}, {days})."
        )
    if part.timezones:
        zones = ", ".join(f"{zone} {n:,}" for zone, n in part.timezones.items())
        out.append(f"Players by time zone: {zones}.")
    return out


def _level_lines(part: ArchetypeReport, report: SimulationReport) -> list[str]:
    never = f"never = not reached in {report.days:,} days"
    return [
        "",
        f"Days to reach each level ({never})",
        format_table(
            ["Level", "EXP", "p10", "Median", "p90", "Reached", "Never"],
            [
                [
                    f"{r.level} {r.name}",
                    r.exp_required,
                    _days(r.p10),
                    _days(r.median),
                    _days(r.p90),
                    r.reached,
                    r.never,
                ]
                for r in part.levels
            ],
            "lrrrrrr",
        ),
    ]


def _exp_lines(part: ArchetypeReport, report: SimulationReport) -> list[str]:
    rows: list[list[object]] = [
        ["nominal (all attempts)", part.nominal_exp, percent(part.share(part.nominal_exp))],
    ]
    if part.uses_levers:
        rows += [
            [f"+ {what}", exp, percent(part.share(exp))]
            for what, exp in (
                ("boosts", part.boost_exp),
                ("streak bonuses", part.streak_bonus_exp),
                ("milestone bonuses", part.milestone_bonus_exp),
            )
        ]
        rows.append(["promised (all of the above)", part.promised_exp, percent(1.0)])
    rows += [
        ["awarded", part.awarded_exp, percent(part.share(part.awarded_exp))],
        ["lost to the daily cap", part.cap_lost, percent(part.share(part.cap_lost))],
    ]
    rows += [
        [
            f"  at level {n} (cap {report.config.cap_for_level(n):,})",
            exp,
            percent(part.share(exp)),
        ]
        for n, exp in part.cap_loss.items()
    ]
    rows.append(["lost to action limits", part.limit_lost, percent(part.share(part.limit_lost))])
    rows += [
        [f"  {a} ({report.config.actions[a].daily_limit}/day)", exp, percent(part.share(exp))]
        for a, exp in part.limit_loss.items()
    ]
    capped = percent(part.capped_days / part.active_days) if part.active_days else "-"
    return [
        "",
        "Where EXP goes",
        format_table(["", "EXP", "Share"], rows, "lrr"),
        f"The cap bit on {part.capped_days:,} of {part.active_days:,} days played ({capped}).",
    ]


def _streak_lines(part: ArchetypeReport) -> list[str]:
    streaks = part.streaks
    if streaks is None:
        return []
    best = streaks.best_summary()
    shown = ("mean", "p10", "median", "p90", "max")
    rows = [
        [
            f"{length:,} days",
            reached,
            percent(reached / part.players),
            streaks.bonuses.get(length),
        ]
        for length, reached in streaks.reached.items()
    ]
    return [
        "",
        f"Streaks ({streaks.action})",
        "Best streak: " + ", ".join(f"{k} {cell(best[k])}" for k in shown),
        format_table(["Streak", "Reached by", "Share", "Bonuses due"], rows, "lrrr"),
        f"Freezes covered {streaks.freezes_used:,} missed days; "
        f"{streaks.breaks:,} streaks were broken; the daily cap refused the streak action "
        f"{streaks.refused_by_cap:,} times.",
    ]


def _milestone_lines(part: ArchetypeReport) -> list[str]:
    if not part.milestones:
        return []
    rows = []
    for reach in part.milestones:
        milestone = reach.milestone
        trigger = milestone.trigger
        if trigger == "count":
            at = f"{milestone.threshold:,} x {milestone.action}"
        else:
            at = f"{trigger} {milestone.threshold:,}"
        rows.append(
            [
                milestone.name,
                at,
                reach.unlocked,
                percent(reach.share),
                _days(reach.median_day),
                milestone.bonus_exp,
            ]
        )
    return [
        "",
        "Milestones (median day: among the players who unlocked it)",
        format_table(
            ["Milestone", "Reached at", "Unlocked", "Share", "Median day", "Bonus EXP"],
            rows,
            "llrrrr",
        ),
    ]


def _boost_window_lines(report: SimulationReport) -> list[str]:
    windows = report.boost_windows
    if not windows:
        return []
    boundary = report.config.day_boundary
    rows = [
        [
            window.boost.name,
            f"x{window.boost.multiplier}",
            ", ".join(sorted(window.boost.actions)) if window.boost.actions else "all",
            window.boost.starts.isoformat(),
            window.boost.ends.isoformat(),
            "outside the run"
            if window.first_day is None
            else f"{window.first_day:,} to {window.last_day:,}",
        ]
        for window in windows
    ]
    return [
        "",
        f"Boost windows (days of {boundary.timezone_name} from {boundary.hour:02d}:00; "
        "a player in another time zone lives them on shifted days)",
        format_table(["Boost", "Multiplier", "Actions", "Starts", "Ends", "Days"], rows, "llllll"),
    ]


def _exp_by_day_lines(report: SimulationReport) -> list[str]:
    """Mean EXP gained each day around the boost windows, the windows' days marked."""
    boosted = report.boosted_days()
    parts = [part for part in report.archetypes if part.players]
    if not boosted or not parts:
        return []
    shown = sorted(
        {
            day
            for marked in boosted
            for day in range(max(1, marked - _AROUND), min(report.days, marked + _AROUND) + 1)
        }
    )
    gains = [part.mean_gain_by_day() for part in parts]
    rows: list[list[object]] = []
    for before, day in zip((None, *shown), shown, strict=False):
        if before is not None and day != before + 1:
            rows.append(["...", "", "", *("" for _ in parts)])
        when = report.start + timedelta(days=day - 1)
        mark = "* " + ", ".join(boosted[day]) if day in boosted else ""
        rows.append([day, when.isoformat(), mark, *(gain[day - 1] for gain in gains)])
    others = [day for day in range(1, report.days + 1) if day not in boosted]
    rows.append(["in windows", "", "", *(_mean(gain, boosted) for gain in gains)])
    rows.append(["other days", "", "", *(_mean(gain, others) for gain in gains)])
    return [
        "",
        "Mean EXP gained by day, around the boost windows (* = a window overlaps the day)",
        format_table(
            ["Day", "Date", "Boost", *(part.archetype.name for part in parts)],
            rows,
            "lll" + "r" * len(parts),
        ),
    ]


def _mean(gains: tuple[float, ...], days: Iterable[int]) -> float | None:
    """The mean of ``gains`` over ``days`` (day 1 first), ``None`` if there are none."""
    chosen = [gains[day - 1] for day in days]
    return sum(chosen) / len(chosen) if chosen else None


def _days(value: int | None) -> str:
    return "never" if value is None else f"{value:,}"
