"""Property tests on every parser the pipeline feeds outside data to.

Recently-played pages are covered in tests/property/test_transform_properties.py (valid pages round-trip to
their rows, junk raises only MalformedRawObject/MalformedRecord); here: followed-artists pages, the
raw envelope around any page, and the four export formats (account music, legacy account,
extended, endsong). Valid inputs round-trip to the same rows; invalid ones raise the project's own
error naming the record, never anything else.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spotify_pipeline.errors import MalformedRawObject, MalformedRecord
from spotify_pipeline.exports.formats import ExportFormat, RecordKind, parse_record
from spotify_pipeline.landing.decode import dump, parse_object
from spotify_pipeline.landing.envelope import new_envelope
from spotify_pipeline.transform.following import followed_artist_rows

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ids = st.text(
    alphabet="0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=22, max_size=22
)
names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda s: s.strip() != ""
)
junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),  # JSON has no NaN
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=20,
)
seconds = st.datetimes(
    min_value=datetime(2010, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


# --- followed artists --------------------------------------------------------------------------------


@st.composite
def full_artists(draw: Any) -> dict[str, Any]:
    aid = draw(ids)
    return {
        "id": aid, "name": draw(names), "type": "artist", "uri": f"spotify:artist:{aid}",
        "genres": draw(st.lists(names, max_size=3)), "popularity": draw(st.integers(0, 100)),
        "followers": {"href": None, "total": draw(st.integers(0, 10**8))},
        "external_urls": {"spotify": f"https://open.spotify.com/artist/{aid}"}, "href": None, "images": [],
    }  # fmt: skip


@FAST
@given(st.lists(full_artists(), max_size=10), st.booleans())
def test_followed_artist_pages_round_trip(artists: list[dict[str, Any]], last: bool) -> None:
    page = {
        "artists": {
            "items": artists,
            "next": None if last else "https://api.spotify.com/v1/me/following?after=x",
            "cursors": {"after": None},
            "limit": 50,
            "total": len(artists),
            "href": "h",
        }
    }
    rows = followed_artist_rows(page, "following_artists/2026110206.json")
    first: dict[str, dict[str, Any]] = {}
    for a in artists:
        first.setdefault(a["id"], a)
    assert [r.id for r in rows] == list(first)
    for r in rows:
        a = first[r.id]
        assert (r.name, r.popularity, r.followers, r.uri) == (
            a["name"],
            a["popularity"],
            a["followers"]["total"],
            a["uri"],
        )
        assert r.full
        assert r.genres == tuple(a["genres"])


@FAST
@given(
    st.one_of(
        junk, st.fixed_dictionaries({"artists": st.fixed_dictionaries({"items": st.lists(junk, max_size=4)})})
    )
)
def test_followed_artist_junk_raises_only_our_errors(page: Any) -> None:
    try:
        followed_artist_rows(page, "following_artists/2026110206.json")
    except MalformedRecord as exc:
        assert exc.source == "following_artists/2026110206.json" and isinstance(exc.index, int)
    except MalformedRawObject as exc:
        assert exc.key == "following_artists/2026110206.json"


# --- the raw envelope around any page ----------------------------------------------------------------


@FAST
@given(
    st.lists(st.fixed_dictionaries({"items": st.lists(junk, max_size=3)}), min_size=1, max_size=4), seconds
)
def test_envelopes_round_trip_through_bytes(pages: list[dict[str, Any]], at: datetime) -> None:
    fetches = [{"fetched_at": (at + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"), "request": "GET /v1/me/player/recently-played?limit=50",
                "status": 200, "response": p} for i, p in enumerate(pages)]  # fmt: skip
    envelope = new_envelope("recently_played", "alice", fetches)
    again = parse_object(dump(envelope), "recently_played/2026110206.json")
    assert [f["response"] for f in again["fetches"]] == [f["response"] for f in envelope["fetches"]]


@FAST
@given(st.one_of(st.binary(max_size=200), junk.map(lambda v: json.dumps(v).encode())))
def test_any_bytes_as_a_raw_object_raise_only_malformed_raw_object(data: bytes) -> None:
    try:
        parse_object(data, "recently_played/2026110206.json")
    except MalformedRawObject as exc:
        assert exc.key == "recently_played/2026110206.json"


# --- the four export formats -------------------------------------------------------------------------


@FAST
@given(
    seconds,
    st.integers(0, 10**7),
    names,
    names,
    st.sampled_from([ExportFormat.ACCOUNT_MUSIC, ExportFormat.ACCOUNT_LEGACY]),
)
def test_account_records_round_trip(
    at: datetime, ms: int, artist: str, track: str, fmt: ExportFormat
) -> None:
    raw = {"endTime": at.strftime("%Y-%m-%d %H:%M"), "artistName": artist, "trackName": track, "msPlayed": ms}
    rec = parse_record(raw, fmt, "StreamingHistory0.json", 3)
    assert rec.kind is RecordKind.MUSIC and rec.precision == "minute"
    assert rec.ended_at == at.replace(second=0)
    # names are kept without surrounding blanks
    assert (rec.ms_played, rec.artist_name, rec.track_name) == (ms, artist.strip(), track.strip())


@st.composite
def extended_records(draw: Any, endsong: bool) -> dict[str, Any]:
    at = draw(seconds)
    ms = draw(st.integers(0, 10**7))
    raw: dict[str, Any] = {
        "ts": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "ms_played": ms, "platform": draw(names), "conn_country": "DE",
        "master_metadata_track_name": draw(names), "master_metadata_album_artist_name": draw(names),
        "master_metadata_album_album_name": draw(names), "spotify_track_uri": f"spotify:track:{draw(ids)}",
        "reason_start": draw(st.sampled_from(["trackdone", "clickrow", "fwdbtn"])),
        "reason_end": draw(st.sampled_from(["trackdone", "endplay", "fwdbtn"])),
        "shuffle": draw(st.booleans()), "skipped": draw(st.one_of(st.none(), st.booleans())),
        "offline": draw(st.booleans()), "incognito_mode": draw(st.booleans()), "offline_timestamp": None,
    }  # fmt: skip
    if endsong:
        raw |= {"username": "alice", "ip_addr_decrypted": "10.0.0.1", "user_agent_decrypted": "unknown"}
    return raw


@FAST
@given(st.booleans().flatmap(lambda e: st.tuples(st.just(e), extended_records(e))))
def test_extended_and_endsong_records_round_trip(case: tuple[bool, dict[str, Any]]) -> None:
    endsong, raw = case
    fmt = ExportFormat.ENDSONG if endsong else ExportFormat.EXTENDED
    rec = parse_record(raw, fmt, "endsong_0.json" if endsong else "Streaming_History_Audio_2024.json", 7)
    assert rec.kind is RecordKind.MUSIC and rec.index == 7
    assert rec.ended_at.strftime("%Y-%m-%dT%H:%M:%SZ") == raw["ts"]
    assert rec.started_at == rec.ended_at - timedelta(milliseconds=raw["ms_played"])
    assert rec.track_id == raw["spotify_track_uri"].rsplit(":", 1)[1]
    assert (rec.shuffle, rec.skipped, rec.offline, rec.incognito) == (
        raw["shuffle"],
        raw["skipped"],
        raw["offline"],
        raw["incognito_mode"],
    )
    assert (rec.reason_start, rec.reason_end) == (raw["reason_start"], raw["reason_end"])


FOUR = [ExportFormat.ACCOUNT_MUSIC, ExportFormat.ACCOUNT_LEGACY, ExportFormat.EXTENDED, ExportFormat.ENDSONG]
KEYS = [
    "endTime",
    "msPlayed",
    "artistName",
    "trackName",
    "ts",
    "ms_played",
    "spotify_track_uri",
    "master_metadata_track_name",
    "offline_timestamp",
    "shuffle",
    "skipped",
    "incognito_mode",
    "episode_name",
]


@FAST
@given(
    st.sampled_from(FOUR),
    st.one_of(junk, st.dictionaries(st.sampled_from(KEYS), junk, max_size=8)),
    st.integers(0, 10**6),
)
def test_invalid_export_records_raise_malformed_record_naming_it(
    fmt: ExportFormat, raw: Any, index: int
) -> None:
    try:
        parse_record(raw, fmt, "some_file.json", index)
    except MalformedRecord as exc:
        assert exc.source == "some_file.json" and exc.index == index
        assert str(exc).startswith(f"some_file.json record {index}: ")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply"),
        (b'{"items": [], "total": ' + b"9" * 5000 + b"}", "invalid JSON: Exceeds the limit (4300 digits)"),
    ],
    ids=["nested-100k-deep", "5000-digit-integer"],
)
def test_json_too_deep_or_too_long_a_number_is_a_malformed_raw_object(data: bytes, reason: str) -> None:
    """Not a RecursionError or ValueError: every reader of the raw zone (process, merge, rebuild)
    treats the object as malformed."""
    with pytest.raises(MalformedRawObject, match=re.escape(reason)):
        parse_object(data, "recently_played/2026110206.json")
