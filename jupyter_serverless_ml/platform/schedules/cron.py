"""When a schedule runs next: a cron expression (croniter: five fields, or six with seconds
last) in the schedule's time zone, or a fixed interval in seconds. Pure functions."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ...errors import UsageError


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``UTC``, ``Europe/Paris``); UsageError otherwise."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"time zone {name!r} is unknown; use an IANA name such as UTC or Europe/Paris"
        ) from None


def check(cron: str | None, interval: float | None, timezone: str = "UTC") -> None:
    """Refuse a schedule that has neither or both of ``cron`` and ``interval``, a cron
    expression croniter cannot read, an interval under a second, or an unknown zone."""
    from croniter import croniter

    zone(timezone)
    if (cron is None) == (interval is None):
        raise UsageError('a schedule needs exactly one of --cron "0 3 * * *" and --every 1h')
    if cron is not None and not croniter.is_valid(cron):
        raise UsageError(
            f'cron expression {cron!r} is not valid; write five fields "MIN HOUR DAY MONTH '
            'WEEKDAY" (e.g. "0 3 * * *"), or six with seconds last'
        )
    if interval is not None and not interval >= 1:
        raise UsageError(f"--every {interval:g}s: the interval must be at least one second")


def next_after(
    after: float, cron: str | None, interval: float | None, timezone: str = "UTC"
) -> float:
    """The first time strictly after ``after`` (epoch seconds) that the schedule fires;
    cron fields are read as wall-clock time in ``timezone`` (daylight saving included)."""
    if interval is not None:
        return after + float(interval)
    from croniter import croniter

    start = dt.datetime.fromtimestamp(after, zone(timezone))
    return float(croniter(cron, start).get_next(float))


def missed(
    since: float, now: float, cron: str | None, interval: float | None, timezone: str = "UTC"
) -> int:
    """How many times the schedule fired from ``since`` (included) up to ``now`` (capped at 1000)."""
    count, at = 0, since
    while at <= now and count < 1000:
        count += 1
        at = next_after(at, cron, interval, timezone)
    return count


__all__ = ["check", "missed", "next_after", "zone"]
