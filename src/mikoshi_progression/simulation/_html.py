"""A simulation as one self-contained HTML page (the CLI's ``--html FILE``).

The page needs nothing but itself: CSS is inline and the charts are PNG images inlined
as ``data:`` URLs, so it can be mailed, attached to a ticket or opened offline. The
charts need matplotlib (the ``[plot]`` extra); without it the page has the tables and
a visible note saying why there are no charts.

:class:`HtmlPage` is the builder every page uses (headings, text, key figures, tables,
charts), so a new section (a sweep's tables and chart) is a few calls.

>>> page = HtmlPage("Demo")
>>> page.add_table(["archetype", "days"], [["whale", 3]], numeric={1})
>>> '<td class="num">3</td>' in page.render()
True
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from ._metrics import METRIC_DESCRIPTIONS, archetype_metrics
from ._report import ArchetypeReport, LevelReach, SimulationReport

if TYPE_CHECKING:
    from ._compare import Comparison, FigureChange

__all__ = ["HtmlPage", "html_comparison", "html_report"]

Chart = tuple[Any, str, str]
"""A chart for a page: a matplotlib figure, its alt text and its caption."""

_STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1d1d1f; margin: 0 auto; padding: 1.5rem 2rem 3rem; max-width: 1200px; }
h1 { font-size: 1.6rem; margin: 0 0 .6rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem;
  margin: 0 0 1rem; }
dl.facts dt { color: #666; }
dl.facts dd { margin: 0; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .9rem; }
caption { text-align: left; color: #555; padding: .2rem 0; caption-side: top; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #e4e4e4; text-align: left;
  vertical-align: top; }
th { background: #f5f5f7; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9rem; }
p.note { background: #fff6d6; border: 1px solid #e8d48a; padding: .5rem .8rem; }
p.muted { color: #666; font-size: .9rem; }
td.higher { background: #dbe9fb; }
td.lower { background: #fde2cf; }
td.unclear { color: #777; }
details { margin: .5rem 0 1rem; }
summary { cursor: pointer; color: #0b57d0; }
"""
_NO_CHARTS = (
    "No charts: they need matplotlib, which is not installed (install the [plot] extra: "
    "pip install -e '.[plot]' from a clone). The tables below are complete."
)


class HtmlPage:
    """A page built section by section, rendered as one self-contained HTML document.

    Every text given is escaped; nothing refers to another file or a URL.
    """

    __slots__ = ("_parts", "title")

    def __init__(self, title: str) -> None:
        self.title = title
        self._parts: list[str] = [f"<h1>{escape(title)}</h1>"]

    def add_heading(self, text: str, level: int = 2) -> None:
        """A section heading (``level`` 2 or 3; the title is the page's only level 1)."""
        self._parts.append(f"<h{level}>{escape(text)}</h{level}>")

    def add_text(self, text: str, *, muted: bool = False) -> None:
        """A paragraph; ``muted`` for small print."""
        css = " class=muted" if muted else ""
        self._parts.append(f"<p{css}>{escape(text)}</p>")

    def add_note(self, text: str) -> None:
        """A paragraph that stands out: something the reader must not miss."""
        self._parts.append(f"<p class=note>{escape(text)}</p>")

    def add_facts(self, facts: Iterable[tuple[str, object]]) -> None:
        """Name-value pairs, one a line (a run's config, players, days, seed, ...)."""
        items = "".join(
            f"<dt>{escape(name)}</dt><dd>{escape(str(value))}</dd>" for name, value in facts
        )
        self._parts.append(f"<dl class=facts>{items}</dl>")

    def add_table(
        self,
        columns: Sequence[str],
        rows: Iterable[Sequence[object]],
        *,
        caption: str | None = None,
        numeric: Iterable[int] = (),
        classes: Sequence[Sequence[str]] | None = None,
        collapsed: str | None = None,
    ) -> None:
        """A table: a header of ``columns``, then ``rows`` of cells (shown with ``str``).

        ``numeric``: the indexes of the columns aligned right. ``classes``: a CSS class
        for each cell of each row (``""`` for none; ``higher``, ``lower`` and ``unclear``
        colour a comparison's verdicts). ``collapsed``: shown folded, under this summary.
        """
        right = set(numeric)
        num = ' class="num"'
        head = "".join(
            f"<th{num if i in right else ''}>{escape(name)}</th>" for i, name in enumerate(columns)
        )
        body = []
        for r, row in enumerate(rows):
            cells = []
            for i, value in enumerate(row):
                names = ["num"] if i in right else []
                if classes and classes[r][i]:
                    names.append(classes[r][i])
                css = f' class="{" ".join(names)}"' if names else ""
                cells.append(f"<td{css}>{escape(str(value))}</td>")
            body.append(f"<tr>{''.join(cells)}</tr>")
        title = f"<caption>{escape(caption)}</caption>" if caption else ""
        table = (
            f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )
        if collapsed is not None:
            table = f"<details><summary>{escape(collapsed)}</summary>{table}</details>"
        self._parts.append(table)

    def add_figure(self, figure: Any, *, alt: str, caption: str | None = None) -> None:
        """A matplotlib figure, inlined as a PNG ``data:`` URL; ``alt`` says what it shows."""
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        self.add_image(buffer.getvalue(), alt=alt, caption=caption)

    def add_image(self, png: bytes, *, alt: str, caption: str | None = None) -> None:
        """A PNG image, inlined as a ``data:`` URL."""
        source = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        text = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f'<figure><img src="{source}" alt="{escape(alt)}">{text}</figure>')

    def render(self) -> str:
        """The whole document."""
        return (
            "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
            '<meta name=viewport content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(self.title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(self._parts)
            + "\n</body>\n</html>\n"
        )


def html_report(report: SimulationReport, label: str) -> str:
    """One run as a page: what was simulated, the EXP chart, and tables of days to each
    level, EXP and losses, and every named figure. ``label`` names the config."""
    page = HtmlPage(f"Simulation: {label}")
    page.add_facts(run_facts(report, label))
    add_charts(page, lambda: [_exp_chart(report, label)])
    add_run_tables(page, report)
    return page.render()


def html_comparison(comparison: Comparison) -> str:
    """A comparison as a page: both configs, the side-by-side chart, the clear changes,
    each archetype's figures with their confidence intervals and verdicts, and each
    run's own tables."""
    old, new = comparison.old, comparison.new
    page = HtmlPage(f"Comparison: {comparison.old_label} vs {comparison.new_label}")
    page.add_facts(
        [
            ("old config", f"{comparison.old_label} (fingerprint {old.config.fingerprint})"),
            ("new config", f"{comparison.new_label} (fingerprint {new.config.fingerprint})"),
            ("players", f"{new.players:,}, the same players under both configs"),
            ("days", f"{new.days:,} from {new.start.isoformat()}"),
            ("seed", new.seed),
            (
                "intervals",
                f"{comparison.confidence:.0%} confidence, paired bootstrap of "
                f"{comparison.resamples:,} resamples",
            ),
        ]
    )
    add_charts(page, lambda: [_comparison_chart(comparison)])
    page.add_text(
        "Verdicts: higher or lower when the whole confidence interval of new \N{MINUS SIGN} old "
        "is on one side of 0. Colours show the direction only (blue: higher, orange: "
        "lower), not whether it is better: more days to a level is slower.",
        muted=True,
    )
    clear = [
        (part.name, change)
        for part in comparison.archetypes
        for change in part.figures
        if change.verdict in ("higher", "lower")
    ]
    page.add_heading("Clear changes")
    if clear:
        rows = [[name, *_change_cells(change)] for name, change in clear]
        page.add_table(
            ["archetype", *_CHANGE_COLUMNS],
            rows,
            numeric=range(2, 6),
            classes=[["", *_change_classes(change)] for _, change in clear],
        )
    else:
        page.add_text("No figure changed clearly at this confidence.")
    for part in comparison.archetypes:
        page.add_heading(f"{part.name}: every figure ({part.players:,} players)", level=3)
        page.add_table(
            _CHANGE_COLUMNS,
            [_change_cells(change) for change in part.figures],
            numeric=range(1, 5),
            classes=[_change_classes(change) for change in part.figures],
        )
    add_figure_descriptions(page)
    for role, report, label in (
        ("Old", old, comparison.old_label),
        ("New", new, comparison.new_label),
    ):
        page.add_heading(f"{role}: {label}")
        add_run_tables(page, report)
    return page.render()


_CHANGE_COLUMNS = (
    "figure",
    "old",
    "new",
    "new \N{MINUS SIGN} old (interval)",
    "relative change (interval)",
    "verdict",
)


def _change_cells(change: FigureChange) -> list[object]:
    name = change.name
    if name.endswith(("share", "rate")):
        diff = _interval(change.diff, change.diff_low, change.diff_high, "{:+.1%}")
    elif ".days." in name:
        diff = _interval(change.diff, change.diff_low, change.diff_high, "{:+.1f}")
    else:
        diff = _interval(change.diff, change.diff_low, change.diff_high, "{:+,.1f}")
    return [
        name,
        format_figure(name, change.old),
        format_figure(name, change.new),
        diff,
        _interval(change.change, change.change_low, change.change_high, "{:+.1%}"),
        change.verdict,
    ]


def _change_classes(change: FigureChange) -> list[str]:
    colour = {"higher": "higher", "lower": "lower"}.get(change.verdict, "unclear")
    return ["", "", "", colour, colour, colour]


def _interval(value: float, low: float, high: float, style: str) -> str:
    """``value (low to high)``; a dash for undefined values, never for infinite ones."""

    def shown(number: float) -> str:
        if math.isnan(number):
            return "\N{EN DASH}"
        if math.isinf(number):
            return "never" if number > 0 else "-inf"
        text = style.format(number)
        if "%" not in text and abs(number) < 0.05:
            return "0"  # not "-0": a difference that rounds away has no sign
        # Days and EXP in tenths at most, and a whole number without its ".0".
        return text.removesuffix(".0")

    if math.isnan(low) and math.isnan(high):
        return shown(value)
    return f"{shown(value)} ({shown(low)} to {shown(high)})"


def _comparison_chart(comparison: Comparison) -> Chart:
    from ._plot import comparison_figure

    return (
        comparison_figure(comparison),
        "Old and new config side by side for each archetype: EXP by day (median and "
        "p10-p90 band) and median days to each level with confidence intervals",
        "Upper: EXP by day, old dashed grey, new solid (line: median, band: "
        "p10\N{EN DASH}p90). Lower: median days to each level, old hollow, new filled, "
        "whisker: the confidence interval of the difference placed on the old value.",
    )


def run_facts(report: SimulationReport, label: str) -> list[tuple[str, object]]:
    """The header of a run: config, fingerprint, players, days, start, seed, attempts."""
    return [
        ("config", label),
        ("fingerprint", report.config.fingerprint),
        ("players", f"{report.players:,}"),
        ("days", f"{report.days:,} from {report.start.isoformat()}"),
        ("seed", report.seed),
        ("award attempts", f"{report.attempts:,}"),
    ]


def add_charts(page: HtmlPage, charts: Callable[[], list[Chart]]) -> None:
    """Add the charts ``charts()`` returns as ``(figure, alt, caption)``; without
    matplotlib, a note saying why there are none."""
    try:
        drawn = charts()
    except ImportError:
        page.add_note(_NO_CHARTS)
        return
    for figure, alt, caption in drawn:
        page.add_figure(figure, alt=alt, caption=caption)


def _exp_chart(report: SimulationReport, label: str) -> Chart:
    from ._plot import exp_curves_figure

    return (
        exp_curves_figure(report, label=label),
        "EXP by day for each archetype (median and p10-p90 band), and mean EXP gained each day",
        "Upper: each archetype's EXP at each day's end (line: median, band: p10\N{EN DASH}p90), "
        "levels named on the right. Lower: mean EXP gained each day.",
    )


def add_run_tables(page: HtmlPage, report: SimulationReport) -> None:
    """The levels, EXP and losses tables of one run, and every named figure, folded."""
    parts = [part for part in report.archetypes if part.players]
    page.add_heading("Days to reach each level")
    page.add_text(
        "Median days (p10\N{EN DASH}p90 in brackets) over all the archetype's players; "
        f"never: not reached within the {report.days:,} days by that share of players.",
        muted=True,
    )
    levels = report.config.levels[1:]
    page.add_table(
        ["archetype", *(f"{lv.number} {lv.name} ({lv.exp_required:,} EXP)" for lv in levels)],
        [[part.archetype.name, *(_reach_cell(reach) for reach in part.levels)] for part in parts],
        numeric=range(1, len(levels) + 1),
    )
    page.add_heading("EXP")
    page.add_table(
        [
            "archetype",
            "players",
            "days played",
            "EXP awarded per day",
            "final EXP median (p10\N{EN DASH}p90)",
        ],
        [_exp_row(part, report.days) for part in parts],
        numeric=range(1, 5),
    )
    page.add_heading("Losses")
    page.add_text(
        "Shares are of the promised EXP (what all attempts would have earned, with the "
        "levers' boosts and bonuses). The cap hit rate is the share of days played on "
        "which the daily cap cut or refused an award.",
        muted=True,
    )
    page.add_table(
        [
            "archetype",
            "lost to the daily cap",
            "cap hit rate",
            "lost to action limits",
            "largest limit loss",
        ],
        [_loss_row(part) for part in parts],
        numeric=range(1, 4),
    )
    figures = [archetype_metrics(part) for part in parts]
    names = list(figures[0]) if figures else []
    page.add_table(
        ["figure", *(part.archetype.name for part in parts)],
        [[name, *(format_figure(name, values[name]) for values in figures)] for name in names],
        numeric=range(1, len(parts) + 1),
        collapsed="Every named figure (as in figures.csv)",
    )
    add_figure_descriptions(page)


def add_figure_descriptions(page: HtmlPage) -> None:
    """What each named figure means, folded."""
    page.add_table(
        ["figure", "meaning"],
        sorted(METRIC_DESCRIPTIONS.items()),
        collapsed="What the figures mean",
    )


def format_figure(name: str, value: float) -> str:
    """A named figure for reading: days as whole days or "never", shares as percents."""
    if math.isnan(value):
        return "\N{EN DASH}"
    if math.isinf(value):
        return "never"
    if name.endswith(("share", "rate")):
        return f"{value:.1%}"
    if ".days." in name:
        return f"{value:g}"
    return f"{value:,.1f}"


def _reach_cell(reach: LevelReach) -> str:
    if reach.median is None and reach.p10 is None:
        return "never"
    low = "never" if reach.p10 is None else reach.p10
    high = "never" if reach.p90 is None else reach.p90
    return f"{'never' if reach.median is None else reach.median} ({low}\N{EN DASH}{high})"


def _exp_row(part: ArchetypeReport, days: int) -> list[object]:
    summary = part.final_exp_summary()
    return [
        part.archetype.name,
        f"{part.players:,}",
        f"{part.active_days / (part.players * days):.1%}",
        f"{part.awarded_exp / (part.players * days):,.1f}",
        f"{summary['median']:,} ({summary['p10']:,}\N{EN DASH}{summary['p90']:,})",
    ]


def _loss_row(part: ArchetypeReport) -> list[object]:
    largest = max(part.limit_loss.items(), key=lambda item: item[1], default=None)
    return [
        part.archetype.name,
        f"{part.cap_lost:,} ({part.share(part.cap_lost):.1%})",
        f"{part.capped_days / part.active_days:.1%}" if part.active_days else "\N{EN DASH}",
        f"{part.limit_lost:,} ({part.share(part.limit_lost):.1%})",
        f"{largest[0]} ({part.share(largest[1]):.1%})" if largest and largest[1] else "none",
    ]
