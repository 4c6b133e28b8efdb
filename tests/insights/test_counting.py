"""Counting rules on a hand-built warehouse: plays without ids grouped by normalised names, minutes
from ms_played else the track's length, skips only where an export says, discoveries, streaks,
followed-artist history, every user together."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from spotify_pipeline.insights.period import InsightsError, resolve_period
from spotify_pipeline.insights.stats import Insights, users
from spotify_pipeline.warehouse import schema as s

from .conftest import LOADED, add_plays, add_track

A1, A2, FEAT = "1" * 22, "2" * 22, "3" * 22
T1, T2 = "4" * 22, "5" * 22
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


@pytest.fixture()
def filled(engine: Engine) -> Engine:
    add_track(engine, T1, "Halo", [(A1, "Beyoncé"), (FEAT, "Guest")], ("6" * 22, "I Am"), 240_000)
    add_track(engine, T2, "Other", [(A2, "Someone")], ("7" * 22, "Else"), 100_000)
    add_plays(engine, "u", [
        {"played_at": _at(1), "track_id": T1},  # API: the track's length, 4 min
        {"played_at": _at(2), "track_id": T1, "source": "export", "ms_played": 60_000, "skipped": True},
        {"played_at": _at(3), "track_id": T2, "source": "export", "ms_played": 30_000, "skipped": False},
        # account data: names only, two spellings of one track, counted as one track
        {"played_at": _at(5), "track_name": "Naïve Song", "artist_name": "Beyonce",
         "album_name": "Names", "source": "export", "ms_played": 120_000},
        {"played_at": _at(6), "track_name": "naive song", "artist_name": "BEYONCÉ",
         "album_name": "names", "source": "export", "ms_played": 60_000},
        {"played_at": _at(18), "track_id": T2},
        {"played_at": _at(19), "track_id": T2},
        {"played_at": _at(20, 9), "track_id": T1},
    ])  # fmt: skip
    add_plays(engine, "v", [{"played_at": _at(4), "track_id": T2}])
    with engine.begin() as conn:
        conn.execute(s.followed_artists.insert(), [
            {"user_id": "u", "artist_id": A1, "first_seen": _at(1), "last_seen": _at(19), "unfollowed_at": None},
            {"user_id": "u", "artist_id": A2, "first_seen": datetime(2026, 10, 1, tzinfo=UTC),
             "last_seen": _at(9), "unfollowed_at": _at(10)},
        ])  # fmt: skip
    return engine


def _all(engine: Engine, user: str | None = "u") -> Insights:
    return Insights(engine, user, resolve_period("all", timezone="UTC", now=NOW), now=NOW)


def test_totals_and_top_lists(filled: Engine) -> None:
    ins = _all(filled)
    t = ins.totals()
    assert (t.plays, t.tracks, t.albums) == (8, 3, 3)
    # Beyoncé by id (T1) and "Beyonce" by name are one artist only if ids match: they do not
    assert t.artists == 3
    assert t.ms == 240_000 + 60_000 + 30_000 + 120_000 + 60_000 + 100_000 * 2 + 240_000
    tracks = ins.top("tracks", 10)
    assert [(i.name, i.plays) for i in tracks.by_plays] == [("Halo", 3), ("Other", 3), ("Naïve Song", 2)]
    assert tracks.by_plays[2].key == "name:beyonce|naive song"
    assert [i.name for i in tracks.by_minutes] == ["Halo", "Other", "Naïve Song"]
    artists = ins.top("artists", 2)
    assert [(i.name, i.plays) for i in artists.by_plays] == [("Beyoncé", 3), ("Someone", 3)]
    assert artists.by_plays[0].artist is None and tracks.by_plays[0].artist == "Beyoncé"  # position 0 only
    albums = ins.top("albums", 5)
    assert {i.name: i.plays for i in albums.by_plays} == {"I Am": 3, "Else": 3, "Names": 2}
    with pytest.raises(InsightsError):
        ins.top("genres")
    d = ins.summary(2).as_dict()
    assert d["totals"]["minutes"] == round(t.ms / 60_000, 1)
    assert d["top_tracks"]["by_plays"][0] == {"key": T1, "name": "Halo", "artist": "Beyoncé", "plays": 3,
                                               "minutes": 9.0}  # fmt: skip


def test_skips_discoveries_streaks_following(filled: Engine) -> None:
    ins = _all(filled)
    assert ins.skips().as_dict() == {"known": 2, "skipped": 1, "rate": 0.5}
    assert [(m.month, m.new_tracks, m.new_artists) for m in ins.discoveries()] == [("2026-11", 3, 3)]
    streaks = ins.streaks()
    assert (streaks.longest.days, streaks.longest.first) == (3, date(2026, 11, 18))
    assert (streaks.current.days, streaks.current.last) == (3, date(2026, 11, 20))
    assert (streaks.longest.days, streaks.current.days) == (3, 3)
    f = ins.following()
    assert f.followed_now == 1
    assert [(e.event, e.artist, e.day) for e in f.events] == [
        ("followed", "Someone", date(2026, 10, 1)), ("followed", "Beyoncé", date(2026, 11, 1)),
        ("unfollowed", "Someone", date(2026, 11, 10)),
    ]  # fmt: skip

    # a later period: T2 and the name-only track were discovered before it, nothing is new
    late = Insights(
        filled, "u", resolve_period(None, timezone="UTC", now=NOW, first=date(2026, 11, 18)), now=NOW
    )
    assert late.discoveries() == ()
    assert late.totals().plays == 3
    assert [e.event for e in late.following().events] == []
    # the current streak survives a today without plays yet, and ends after a missed day
    tomorrow = NOW + timedelta(days=1)
    assert _all(filled).streaks().current.days == 3
    assert (
        Insights(filled, "u", resolve_period("all", timezone="UTC", now=tomorrow), now=tomorrow)
        .streaks()
        .current.days
        == 3
    )
    later = NOW + timedelta(days=2)
    assert (
        Insights(filled, "u", resolve_period("all", timezone="UTC", now=later), now=later)
        .streaks()
        .current.days
        == 0
    )


def test_every_user_together_and_unknown_user(filled: Engine) -> None:
    assert users(filled) == ["u", "v"]
    everyone = _all(filled, None)
    assert everyone.totals().plays == 9
    assert everyone.top("tracks", 1).by_plays[0].plays == 4  # T2: three of u, one of v
    with pytest.raises(InsightsError, match="unknown user 'w': the warehouse holds u, v"):
        _all(filled, "w")


def test_empty_warehouse(engine: Engine) -> None:
    add_plays(engine, "u", [])  # the user exists, no plays
    ins = _all(engine)
    assert ins.totals().plays == 0 and ins.minutes_per_day() == () and ins.streaks().longest.days == 0
    assert ins.summary().as_dict()["skips"]["rate"] is None


def test_track_without_catalogue_row_uses_the_play_names(engine: Engine) -> None:
    add_plays(engine, "u", [{"played_at": LOADED, "track_id": "9" * 22, "track_name": "Lost",
                             "artist_name": "Nobody", "album_name": "Gone", "ms_played": 1000}])  # fmt: skip
    ins = _all(engine)
    top = ins.top("tracks").by_plays[0]
    assert (top.name, top.artist, top.ms) == ("Lost", "Nobody", 1000)
    assert ins.top("artists").by_plays[0].name == "Nobody"


def test_reading_the_whole_catalogue_gives_the_same_numbers(
    filled: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long history reads the catalogue in one scan instead of IN lists: same results."""
    from spotify_pipeline.insights import queries

    expected = _all(filled).summary().as_dict()
    monkeypatch.setattr(queries, "WHOLE_CATALOGUE", 0)
    assert _all(filled).summary().as_dict() == expected


def test_an_open_ended_range_without_plays_lists_days_up_to_today(engine: Engine) -> None:
    """--from alone on a listener with no play in it: days from --from to today, all zero (it
    raised ValueError: max() of no days)."""
    add_plays(engine, "ann", [{"played_at": datetime(2026, 1, 5, 12, tzinfo=UTC), "track_name": "Old"}])
    now = datetime(2026, 3, 3, 12, tzinfo=UTC)
    period = resolve_period(None, timezone="Europe/Berlin", now=now, first=date(2026, 3, 1))
    for rollups in (True, False):
        days = Insights(engine, "ann", period, now=now, rollups=rollups).minutes_per_day()
        assert [(d.day, d.plays) for d in days] == [(date(2026, 3, n), 0) for n in (1, 2, 3)]
