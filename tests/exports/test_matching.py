"""Pure matching: one-to-one, closest first, names normalised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from spotify_pipeline.exports.formats import ExportFormat, ExportRecord, RecordKind
from spotify_pipeline.exports.matching import Candidate, match_by_names, match_by_track_id, normalise_name

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
TRACK = "6jG2YzhxptolDzLHTGLt7S"


def rec(
    seconds: float, track: str | None = TRACK, fmt: ExportFormat = ExportFormat.EXTENDED, **kw
) -> ExportRecord:
    return ExportRecord(
        "f", 0, fmt, RecordKind.MUSIC, T0 + timedelta(seconds=seconds), 40_000, track_id=track, **kw
    )


def api(seconds: float, track: str | None = TRACK, artist: str = "A", name: str = "T") -> Candidate:
    return Candidate(T0 + timedelta(seconds=seconds), track, name, artist, "api")


def test_back_to_back_plays_of_a_short_track_stay_two() -> None:
    # Two real 40 s plays; the API saw only the second. The closer record takes it, the other is free.
    records = [rec(0), rec(41)]
    matches = match_by_track_id(records, [api(41.3)], timedelta(seconds=90))
    assert [(m.record, round(m.offset_s, 1)) for m in matches] == [(1, -0.3)]


def test_one_to_one_both_ways_and_tolerance_edges() -> None:
    records = [rec(0), rec(40), rec(200)]
    plays = [api(0.4), api(40.2), api(290.5)]
    matches = match_by_track_id(records, plays, timedelta(seconds=90))
    assert [(m.record, m.play.played_at) for m in matches] == [
        (0, plays[0].played_at),
        (1, plays[1].played_at),
    ]
    assert match_by_track_id([rec(0)], [api(90)], timedelta(seconds=90))  # inclusive
    assert not match_by_track_id([rec(0)], [api(90.001)], timedelta(seconds=90))


def test_other_track_and_claimed_plays_never_match() -> None:
    plays = [api(1, track="x" * 22), api(2)]
    assert not match_by_track_id([rec(0)], plays, timedelta(seconds=90), claimed={plays[1].played_at})


def test_names_match_within_the_minute_with_slack() -> None:
    account = lambda minute_s, **kw: rec(minute_s, None, ExportFormat.ACCOUNT_MUSIC, **kw)  # noqa: E731
    r = account(0, artist_name="Beyoncé", track_name="Drunk in Love (feat. JAY-Z)")
    assert match_by_names([r], [api(59, artist="BEYONCE", name="Drunk In Love")])
    assert match_by_names([r], [api(-29, artist="beyonce", name="drunk in love")])
    assert not match_by_names([r], [api(91, artist="beyonce", name="drunk in love")])
    assert not match_by_names([r], [api(30, artist="beyonce", name="crazy in love")])


def test_normalise_name() -> None:
    assert normalise_name("Beyoncé - Drunk in Love (feat. JAY-Z)") == "beyonce drunk in love"
    assert normalise_name("Sigur Rós") == "sigur ros"
    assert normalise_name("Song ft. Someone") == "song"
    assert normalise_name("Don't Stop Me Now") == "don t stop me now"
    assert normalise_name(None) == ""
