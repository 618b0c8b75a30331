"""Local time for people: the database and the rules keep UTC; pages, forms and notifications
speak the deployment's wall-clock zone (GRIDSAFE_TIMEZONE, Beijing time by default)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:  # settings validate the zone with this module, so no import at run time
    from backend.settings import Settings

DEFAULT_ZONE = "Asia/Shanghai"
DISPLAY = "%Y-%m-%d %H:%M"
# What an <input type="datetime-local"> holds: wall-clock time, no zone, minutes.
INPUT = "%Y-%m-%dT%H:%M"


@cache
def zone(name: str = DEFAULT_ZONE) -> ZoneInfo:
    """The IANA zone called `name`; ValueError naming it when this machine does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


def zone_for(settings: Settings | None) -> ZoneInfo:
    """The configured zone; the default one for code that runs without settings (a script)."""
    return settings.zone if settings is not None else zone()


def to_local(moment: datetime, where: tzinfo) -> datetime:
    """An aware moment as wall-clock time in `where`. A naive one is taken as UTC, since that
    is what every column and rule holds."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(where)


def format_local(moment: datetime | None, where: tzinfo, pattern: str = DISPLAY) -> str:
    """Local wall-clock text for people; empty for a missing moment."""
    return "" if moment is None else to_local(moment, where).strftime(pattern)


def to_local_input(moment: datetime | None, where: tzinfo) -> str:
    """The value of a datetime-local field showing `moment`."""
    return format_local(moment, where, INPUT)


def from_local_input(text: str, where: tzinfo) -> datetime | None:
    """A datetime-local value (or any ISO date-time) as an aware UTC moment; None if unreadable.
    Without an offset it is wall-clock time in `where`. In a zone with daylight saving, a time
    the clocks skip or repeat takes the offset before the change (fold=0), as people mean the
    time they wrote rather than an error."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=where)
    return moment.astimezone(UTC)


def clock(where: tzinfo, now: datetime) -> dict[str, str]:
    """The zone's name and its UTC offset at `now` ("Asia/Shanghai", "+08:00") for the hints
    that say which clock to type in: a deployment elsewhere, or in a zone with summer time, must
    not be told "Beijing time"."""
    offset = to_local(now, where).utcoffset() or timedelta()
    total = int(offset.total_seconds()) // 60
    hours, minutes = divmod(abs(total), 60)
    sign = "-" if total < 0 else "+"
    return {"zone": str(getattr(where, "key", where)), "offset": f"{sign}{hours:02d}:{minutes:02d}"}
