"""The bounds of exports/limits.py: every value outside them makes its record malformed with the
field and the reason, before it can reach (and fail) a warehouse write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import BigInteger, String

from spotify_pipeline.errors import MalformedRecord
from spotify_pipeline.exports import limits
from spotify_pipeline.exports.formats import EmptyRecord, ExportFormat, parse_record
from spotify_pipeline.warehouse import schema
from spotify_pipeline.warehouse.types import LongText

NOW = datetime(2026, 6, 1, tzinfo=UTC)
BASE = {
    "ts": "2024-03-01T08:15:12Z",
    "ms_played": 200_000,
    "spotify_track_uri": "spotify:track:" + "a" * 22,
    "master_metadata_track_name": "Song",
    "master_metadata_album_artist_name": "Artist",
}
ACCOUNT = {"endTime": "2024-03-01 08:15", "artistName": "A", "trackName": "T", "msPlayed": 200_000}


def test_text_bounds_never_exceed_the_columns_they_land_in() -> None:
    # If a column is widened or made TEXT, the bound still fits; if one is narrowed, this fails.
    for name, limit in limits.MAX_TEXT_CHARS.items():
        column_type = schema.plays.c[name].type
        if isinstance(column_type, LongText):  # bytes, up to 4 a character
            assert limit * 4 <= LongText.MAX_BYTES, name
            continue
        assert isinstance(column_type, String)
        assert column_type.length is None or limit <= column_type.length, name
    assert limits.MAX_MS_PLAYED < 2**31  # the same number in SQLite and in a MariaDB INT


def test_the_columns_the_import_does_not_check_again_are_the_ones_the_reader_bounds() -> None:
    """The import's insert skips the checks of these columns (``import_batch.READER_CHECKED``): each
    must be bounded here (the text bounds above, ``MAX_MS_PLAYED`` in the column's range), and none
    may take a value from elsewhere (a resolved track id, the user)."""
    from spotify_pipeline.jobs.import_batch import READER_CHECKED

    assert set(READER_CHECKED) == {*limits.MAX_TEXT_CHARS, "ms_played"}
    assert "track_id" not in READER_CHECKED and "user_id" not in READER_CHECKED
    assert isinstance(schema.plays.c.ms_played.type, BigInteger)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"ts": "0001-01-01T00:00:00Z"}, "outside 2006-01-01"),
        ({"ts": "9999-12-31T23:59:59Z"}, "outside 2006-01-01"),
        ({"ts": "2026-06-03T00:00:00Z"}, "2026-06-02 00:00 UTC"),  # past now + 1 day
        ({"ts": "\u0662\u0660\u0662\u0664-03-01T08:15:12Z"}, "is not YYYY"),  # Arabic-Indic digits
        ({"ms_played": 10**14}, "more than 7 days"),
        ({"ms_played": 1e14}, "not a non-negative integer"),
        ({"ms_played": -1}, "not a non-negative integer"),
        ({"ms_played": 10**4000}, "about 4001 digits"),
        ({"platform": "p" * 256}, "platform is 256 characters long; at most 255"),
        ({"conn_country": "ABCDEFGHI"}, "country is 9 characters long; at most 8"),
        ({"reason_end": "r" * 65}, "reason_end is 65"),
        ({"master_metadata_track_name": "n" * (limits.MAX_NAME_CHARS + 1)}, "track_name is 4,194,304"),
        ({"master_metadata_album_album_name": "a\ud800b"}, "album_name holds a lone surrogate ('\\ud800')"),
        ({"master_metadata_track_name": "x\udce9"}, "track_name holds a lone surrogate"),
        ({"offline_timestamp": 10**400}, "offline_timestamp (a number of about 401 digits) is out of range"),
        ({"offline_timestamp": float("inf")}, "offline_timestamp inf is out of range"),
    ],
)
def test_values_outside_the_bounds_are_malformed_with_the_field_named(change: dict, words: str) -> None:
    with pytest.raises(MalformedRecord) as err:
        parse_record(
            {**BASE, **change}, ExportFormat.EXTENDED, "f.json", 3, not_after=NOW + limits.FUTURE_MARGIN
        )
    assert words in err.value.reason and err.value.index == 3
    assert len(str(err.value)) < 300  # a huge value is never printed whole


def test_values_at_the_bounds_are_kept() -> None:
    rec = parse_record(
        {**BASE, "ts": "2006-01-01T00:00:00Z", "ms_played": limits.MAX_MS_PLAYED, "platform": "p" * 255},
        ExportFormat.EXTENDED, "f.json", 0,
    )  # fmt: skip
    assert rec.ms_played == limits.MAX_MS_PLAYED and rec.platform == "p" * 255
    assert parse_record(BASE, ExportFormat.EXTENDED, "f", 0, not_after=NOW).ended_at.year == 2024


def test_account_times_have_the_same_bounds() -> None:
    with pytest.raises(MalformedRecord, match="endTime '1999-12-31 23:59' is outside"):
        parse_record({**ACCOUNT, "endTime": "1999-12-31 23:59"}, ExportFormat.ACCOUNT_MUSIC, "f", 0)
    with pytest.raises(MalformedRecord, match="reason_start is 65"):
        parse_record({**BASE, "reason_start": "r" * 65}, ExportFormat.EXTENDED, "f", 0, not_after=NOW)


def test_a_long_name_is_kept_as_the_api_path_keeps_it() -> None:
    # Names are long text in the warehouse: a 2000-character classical title is a real record.
    rec = parse_record({**ACCOUNT, "trackName": "t" * 2000}, ExportFormat.ACCOUNT_MUSIC, "f", 0)
    assert rec.track_name == "t" * 2000


def test_an_offline_timestamp_before_spotify_is_ignored_not_trusted() -> None:
    rec = parse_record({**BASE, "offline_timestamp": 1}, ExportFormat.ENDSONG, "f", 0)
    assert rec.started_at == datetime(2024, 3, 1, 8, 11, 52, tzinfo=UTC)  # ts - ms_played


def test_a_record_with_nothing_played_is_spotifys_empty_record() -> None:
    empty = {"ts": "2024-03-01T08:15:12Z", "ms_played": 0, "spotify_track_uri": None}
    with pytest.raises(EmptyRecord):
        parse_record(empty, ExportFormat.EXTENDED, "f", 0)
