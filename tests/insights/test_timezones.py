"""Local days and hours across DST changes and half-hour zones; periods bounded at local midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine

from spotify_pipeline.insights.localtime import offset_segments
from spotify_pipeline.insights.period import InsightsError, resolve_period
from spotify_pipeline.insights.stats import Insights

from .conftest import add_plays, add_track

T = "0" * 21 + "1"


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_offset_segments_find_each_transition_to_the_second() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    segments = offset_segments(berlin, _utc(2026, 1, 1), _utc(2027, 1, 1))
    assert segments == [(None, 3600), (_utc(2026, 3, 29, 1), 7200), (_utc(2026, 10, 25, 1), 3600)]
    assert offset_segments(ZoneInfo("Asia/Kolkata"), _utc(2016, 1, 1), _utc(2026, 1, 1)) == [(None, 19800)]


def test_days_and_hours_across_dst_in_berlin(engine: Engine) -> None:
    add_track(engine, T, "Song", [("a" * 22, "Artist")], ("b" * 22, "Album"), 180_000)
    add_plays(engine, "u", [
        {"played_at": _utc(2026, 3, 28, 22, 59), "track_id": T},  # 23:59 CET, Saturday 28th
        {"played_at": _utc(2026, 3, 28, 23, 30), "track_id": T},  # 00:30 CET, Sunday 29th
        {"played_at": _utc(2026, 3, 29, 1, 30), "track_id": T},  # 03:30 CEST (02:xx does not exist)
        {"played_at": _utc(2026, 3, 29, 21, 59), "track_id": T},  # 23:59 CEST, still the 29th
        {"played_at": _utc(2026, 3, 29, 22, 0), "track_id": T},  # 00:00 CEST, Monday 30th
        {"played_at": _utc(2026, 10, 25, 0, 30), "track_id": T},  # 02:30 CEST (first 02:30)
        {"played_at": _utc(2026, 10, 25, 1, 30), "track_id": T},  # 02:30 CET (second 02:30)
    ])  # fmt: skip
    now = _utc(2026, 11, 1)
    ins = Insights(engine, "u", resolve_period("all", timezone="Europe/Berlin", now=now), now=now)
    days = {d.day: d.plays for d in ins.minutes_per_day() if d.plays}
    assert days == {date(2026, 3, 28): 1, date(2026, 3, 29): 3, date(2026, 3, 30): 1, date(2026, 10, 25): 2}
    grid = ins.clock().plays
    assert grid[5][23] == 1  # Saturday 23:00
    assert grid[6][0] == 1 and grid[6][3] == 1 and grid[6][23] == 1  # Sunday 00, 03, 23
    assert grid[6][2] == 2  # both 02:30 of the night the clocks go back
    assert grid[0][0] == 1  # Monday 00:00
    assert sum(map(sum, grid)) == 7

    # the local day 29 March is 23 hours long: its period holds exactly its three plays
    day = resolve_period(
        None, timezone="Europe/Berlin", now=now, first=date(2026, 3, 29), last=date(2026, 3, 29)
    )
    assert day.end_utc - day.start_utc == timedelta(hours=23)  # type: ignore[operator]
    assert Insights(engine, "u", day, now=now).totals().plays == 3


def test_half_hour_zone_and_new_york(engine: Engine) -> None:
    add_track(engine, T, "Song", [("a" * 22, "Artist")], ("b" * 22, "Album"), 60_000)
    add_plays(engine, "u", [
        {"played_at": _utc(2026, 6, 1, 18, 29), "track_id": T},  # 23:59 IST, 14:29 EDT
        {"played_at": _utc(2026, 6, 1, 18, 31), "track_id": T},  # 00:01 IST on the 2nd
        {"played_at": _utc(2026, 11, 1, 5, 30), "track_id": T},  # 01:30 EDT (before NY's change)
        {"played_at": _utc(2026, 11, 1, 6, 30), "track_id": T},  # 01:30 EST (after)
    ])  # fmt: skip
    now = _utc(2026, 11, 30)
    india = Insights(engine, "u", resolve_period("all", timezone="Asia/Kolkata", now=now), now=now)
    days = {d.day: d.plays for d in india.minutes_per_day() if d.plays}
    assert days[date(2026, 6, 1)] == 1 and days[date(2026, 6, 2)] == 1
    assert india.clock().plays[0][23] == 1 and india.clock().plays[1][0] == 1  # Mon 23:xx, Tue 00:xx
    ny = Insights(engine, "u", resolve_period("all", timezone="America/New_York", now=now), now=now)
    assert ny.clock().plays[6][1] == 2  # Sunday 01:xx twice
    assert {d.day: d.plays for d in ny.minutes_per_day() if d.plays} == {
        date(2026, 6, 1): 2,
        date(2026, 11, 1): 2,
    }
    assert ny.totals().ms == 4 * 60_000


def test_periods() -> None:
    now = _utc(2026, 12, 2, 4, 0)  # Wednesday; still 1 December in New York
    week = resolve_period("week", timezone="America/New_York", now=now)
    assert (week.first_day, week.last_day) == (date(2026, 11, 30), date(2026, 12, 6))
    month = resolve_period("month", timezone="America/New_York", now=now)
    assert (month.first_day, month.last_day) == (date(2026, 12, 1), date(2026, 12, 31))
    assert month.start_utc == _utc(2026, 12, 1, 5)
    assert resolve_period("month", timezone="Asia/Tokyo", now=_utc(2026, 11, 30, 16)).first_day == date(
        2026, 12, 1
    )
    assert resolve_period("year", timezone="UTC", now=now).last_day == date(2026, 12, 31)
    assert resolve_period("day", timezone="UTC", now=now).first_day == date(2026, 12, 2)
    open_end = resolve_period(None, timezone="UTC", now=now, first=date(2026, 1, 1))
    assert open_end.end_utc is None and open_end.start_utc == _utc(2026, 1, 1)
    with pytest.raises(InsightsError, match="after"):
        resolve_period(None, timezone="UTC", now=now, first=date(2026, 2, 1), last=date(2026, 1, 1))
    with pytest.raises(InsightsError, match="unknown period 'fortnight'"):
        resolve_period("fortnight", timezone="UTC", now=now)
    with pytest.raises(InsightsError, match="not both"):
        resolve_period("month", timezone="UTC", now=now, first=date(2026, 1, 1))


def test_timezone_setting_is_validated_and_named() -> None:
    from spotify_pipeline.errors import ConfigError
    from spotify_pipeline.settings import load_settings

    assert load_settings(timezone="Asia/Kolkata").timezone == "Asia/Kolkata"
    assert load_settings().timezone  # the system's, or UTC
    with pytest.raises(ConfigError, match=r"timezone \(env SPOTIFY_PIPELINE_TIMEZONE\b.*'Mars/Olympus'"):
        load_settings(timezone="Mars/Olympus")
