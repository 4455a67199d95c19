"""Where one progression day ends and the next begins.

The platform resets daily limits at midnight UTC. A :class:`DayBoundary` names
the day a moment belongs to in a reset time zone with a reset hour (UTC and 0 by
default), so that a deployment for one region can reset at its local 04:00.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InvalidArgumentError, InvalidMomentError

__all__ = [
    "EARLIEST_MOMENT",
    "FIRST_YEAR",
    "LAST_YEAR",
    "LATEST_MOMENT",
    "DayBoundary",
    "is_supported_moment",
    "require_aware",
]

_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "utc"})

FIRST_YEAR = 1900
"""The earliest year of a moment the library takes (from its first instant, UTC)."""
LAST_YEAR = 8999
"""The latest year of a moment the library takes (to its last instant, UTC).

Far enough inside ``datetime``'s own range (years 1 to 9999) that no day boundary,
time-zone shift or clock tolerance computed from a supported moment can overflow."""

EARLIEST_MOMENT = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
"""The first supported instant."""
LATEST_MOMENT = datetime(LAST_YEAR, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
"""The last supported instant."""

_SUPPORTED = f"an aware datetime from year {FIRST_YEAR} to {LAST_YEAR} (UTC)"


def is_supported_moment(moment: datetime) -> bool:
    """Whether aware ``moment`` lies from :data:`EARLIEST_MOMENT` to :data:`LATEST_MOMENT`."""
    return EARLIEST_MOMENT <= moment <= LATEST_MOMENT


def require_aware(moment: datetime, name: str = "now") -> datetime:
    """Return ``moment`` unchanged if it is an aware datetime the library supports.

    Raises:
        InvalidMomentError: ``moment`` is not a datetime, is naive, or lies outside
            years :data:`FIRST_YEAR` to :data:`LAST_YEAR` (the message names ``name``).
    """
    if not isinstance(moment, datetime):
        raise InvalidMomentError(name, _SUPPORTED, moment)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidMomentError(
            name,
            f"timezone-aware (for example datetime.now(timezone.utc)), "
            f"not naive {moment.isoformat()}",
        )
    if not EARLIEST_MOMENT <= moment <= LATEST_MOMENT:
        raise InvalidMomentError(name, _SUPPORTED, moment)
    return moment


def resolve_timezone(name: str) -> tzinfo:
    """Return the ``tzinfo`` for an IANA name.

    Raises:
        InvalidArgumentError: ``name`` is no known IANA time zone.
    """
    if name in _UTC_NAMES:
        return UTC
    try:
        return ZoneInfo(name)
    # A directory of the zone database ("America") raises IsADirectoryError, an OSError.
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError) as exc:
        raise InvalidArgumentError(
            "timezone", "an IANA time zone name such as 'UTC' or 'Asia/Tokyo'", name
        ) from exc


@dataclass(frozen=True, slots=True)
class DayBoundary:
    """The daily reset moment: ``hour`` o'clock in ``timezone_name``.

    Attributes:
        timezone_name: An IANA time zone name such as ``"UTC"`` or ``"Asia/Tokyo"``.
        hour: The local hour (0-23) at which a new day begins.
    """

    timezone_name: str = "UTC"
    hour: int = 0
    _tz: tzinfo = field(init=False, repr=False, compare=False)
    _day_of: Callable[[datetime], date] = field(init=False, repr=False, compare=False)
    _is_later_day: Callable[[datetime, datetime], bool] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        hour: object = self.hour
        if not isinstance(hour, int) or isinstance(hour, bool) or not 0 <= hour <= 23:
            raise InvalidArgumentError("hour", "an integer from 0 to 23", hour)
        tz = resolve_timezone(self.timezone_name)
        object.__setattr__(self, "_tz", tz)
        shift = timedelta(hours=self.hour)
        # The plain UTC-midnight case is on every award's path: keep it to one conversion.
        if tz is UTC and not self.hour:

            def day_of(moment: datetime) -> date:
                if moment.tzinfo is UTC:
                    return moment.date()
                return moment.astimezone(UTC).date()

            def is_later_day(moment: datetime, than: datetime) -> bool:
                # Both stamped in UTC is the norm: compare their dates with no conversion.
                if moment.tzinfo is UTC and than.tzinfo is UTC:
                    return moment.date() > than.date()
                return day_of(moment) > day_of(than)

        else:

            def day_of(moment: datetime) -> date:
                return (moment.astimezone(tz) - shift).date()

            def is_later_day(moment: datetime, than: datetime) -> bool:
                return day_of(moment) > day_of(than)

        object.__setattr__(self, "_day_of", day_of)
        object.__setattr__(self, "_is_later_day", is_later_day)

    def day_of(self, moment: datetime) -> date:
        """The progression day ``moment`` (an aware datetime) belongs to."""
        return self._day_of(moment)

    def is_later_day(self, moment: datetime, than: datetime) -> bool:
        """Whether aware ``moment`` falls on a later day than aware ``than``."""
        return self._is_later_day(moment, than)

    def start_of(self, day: date) -> datetime:
        """The aware UTC moment at which ``day`` begins."""
        local = datetime.combine(day, time(self.hour), tzinfo=self._tz)
        return local.astimezone(UTC)

    def next_reset(self, moment: datetime) -> datetime:
        """The first day boundary strictly after ``moment``, as an aware UTC datetime."""
        return self.start_of(self.day_of(moment) + timedelta(days=1))
