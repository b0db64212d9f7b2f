"""When schedules fire: cron expressions in a time zone (daylight saving included) and intervals."""

from __future__ import annotations

import datetime as dt

import pytest

from jupyter_serverless_ml.errors import UsageError
from jupyter_serverless_ml.platform.schedules import cron

UTC = dt.timezone.utc


def at(*fields: int) -> float:
    return dt.datetime(*fields, tzinfo=UTC).timestamp()


def test_cron_is_read_in_the_schedules_time_zone() -> None:
    # 03:00 in Tokyo (UTC+9) is 18:00 UTC the day before
    assert cron.next_after(at(2026, 6, 1, 12, 0), "0 3 * * *", None, "Asia/Tokyo") == at(
        2026, 6, 1, 18, 0
    )
    assert cron.next_after(at(2026, 6, 1, 12, 0), "0 3 * * *", None, "UTC") == at(2026, 6, 2, 3, 0)


def test_daylight_saving_moves_the_utc_time_not_the_wall_clock() -> None:
    # Paris: UTC+1 in winter, UTC+2 from the last Sunday of March (2026-03-29)
    before = cron.next_after(at(2026, 3, 27, 12, 0), "0 3 * * *", None, "Europe/Paris")
    after = cron.next_after(at(2026, 3, 30, 12, 0), "0 3 * * *", None, "Europe/Paris")
    assert before == at(2026, 3, 28, 2, 0) and after == at(2026, 3, 31, 1, 0)


def test_seconds_field_and_intervals() -> None:
    assert (
        cron.next_after(at(2026, 1, 1, 0, 0) + 0.5, "* * * * * *", None) == at(2026, 1, 1, 0, 0) + 1
    )
    assert cron.next_after(100.0, None, 1.0) == 101.0
    assert cron.missed(100.0, 104.5, None, 1.0) == 5
    assert cron.missed(at(2026, 1, 1, 3, 0), at(2026, 1, 3, 12, 0), "0 3 * * *", None) == 3


@pytest.mark.parametrize(
    ("expression", "interval", "zone", "message"),
    [
        (None, None, "UTC", "exactly one of"),
        ("0 3 * * *", 60.0, "UTC", "exactly one of"),
        ("every day", None, "UTC", "is not valid"),
        (None, 0.5, "UTC", "at least one second"),
        ("0 3 * * *", None, "Mars/Olympus", "time zone 'Mars/Olympus' is unknown"),
    ],
)
def test_bad_schedules_are_refused(
    expression: str | None, interval: float | None, zone: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        cron.check(expression, interval, zone)
