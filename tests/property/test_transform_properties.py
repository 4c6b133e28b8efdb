"""Property tests: any valid page round-trips to the rows it describes; any junk raises only the
two malformed-input errors."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spotify_pipeline.errors import MalformedRawObject, MalformedRecord
from spotify_pipeline.jobs.process_read import read_object
from spotify_pipeline.transform import fields, format_played_at, parse_played_at, recently_played_rows
from spotify_pipeline.transform.raw_object import object_rows

ids = st.text(
    alphabet="0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=22, max_size=22
)
names = st.text(min_size=1, max_size=60)
played_ats = st.datetimes(
    min_value=datetime(2008, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))


@st.composite
def artists(draw: Any) -> dict[str, Any]:
    artist_id = draw(ids)
    return {"id": artist_id, "name": draw(names), "type": "artist", "uri": f"spotify:artist:{artist_id}"}


@st.composite
def items(draw: Any) -> dict[str, Any]:
    track_id, album_id = draw(ids), draw(ids)
    track_artists = draw(st.lists(artists(), min_size=1, max_size=3, unique_by=lambda a: a["id"]))
    album = {
        "id": album_id,
        "name": draw(names),
        "album_type": draw(st.sampled_from(["album", "single", "compilation"])),
        "release_date": draw(st.sampled_from(["2014-12-29", "2014-12", "2014"])),
        "release_date_precision": draw(st.sampled_from(["day", "month", "year"])),
        "total_tracks": draw(st.integers(1, 500)),
        "artists": track_artists[:1],
        "type": "album",
        "uri": f"spotify:album:{album_id}",
    }
    track: dict[str, Any] = {
        "id": track_id,
        "name": draw(names),
        "type": "track",
        "album": album,
        "artists": track_artists,
        "duration_ms": draw(st.integers(0, 3_600_000)),
        "explicit": draw(st.booleans()),
        "track_number": draw(st.integers(1, 99)),
        "disc_number": draw(st.integers(1, 9)),
        "uri": f"spotify:track:{track_id}",
    }
    if draw(st.booleans()):
        track["external_ids"] = {"isrc": draw(st.from_regex(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}", fullmatch=True))}
    if draw(st.booleans()):
        track["popularity"] = draw(st.integers(0, 100))
    context = draw(
        st.one_of(
            st.none(),
            st.builds(
                lambda kind, cid: {"type": kind, "uri": f"spotify:{kind}:{cid}"},
                st.sampled_from(["album", "artist", "playlist"]),
                ids,
            ),
        )
    )
    return {"track": track, "played_at": format_played_at(draw(played_ats)), "context": context}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(items(), max_size=12))
def test_valid_items_round_trip_to_their_rows(page_items: list[dict[str, Any]]) -> None:
    rows = recently_played_rows({"items": page_items, "cursors": None}, "u", "k")

    # one play per distinct played_at, first wins, in page order
    expected: dict[datetime, dict[str, Any]] = {}
    for item in page_items:
        expected.setdefault(parse_played_at(item["played_at"]), item)
    assert [(p.played_at, p.track_id) for p in rows.plays] == [
        (t, i["track"]["id"]) for t, i in expected.items()
    ]
    for play in rows.plays:
        item = expected[play.played_at]
        assert format_played_at(play.played_at) == item["played_at"]
        assert play.track_name == item["track"]["name"]
        assert play.artist_name == item["track"]["artists"][0]["name"]
        assert play.context_type == (item["context"] or {}).get("type")
        assert play.context_uri == (item["context"] or {}).get("uri")

    kept = list(expected.values())
    first_by_track: dict[str, dict[str, Any]] = {}
    for item in kept:  # the first occurrence of a track id wins
        first_by_track.setdefault(item["track"]["id"], item["track"])
    assert [t.id for t in rows.tracks] == list(first_by_track)
    for t in rows.tracks:
        obj = first_by_track[t.id]
        assert (t.name, t.album_id, t.duration_ms, t.explicit) == (
            obj["name"], obj["album"]["id"], obj["duration_ms"], obj["explicit"],
        )  # fmt: skip
        assert t.isrc == obj.get("external_ids", {}).get("isrc")
        assert t.popularity == obj.get("popularity")
    credits = {(c.owner_id, c.position): c.artist_id for c in rows.track_artists}
    assert len(credits) == len(rows.track_artists)
    for track_id, obj in first_by_track.items():
        assert [credits[(track_id, n)] for n in range(len(obj["artists"]))] == [
            a["id"] for a in obj["artists"]
        ]
    artist_ids = [a.id for a in rows.artists]
    assert len(artist_ids) == len(set(artist_ids))


json_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
# junk shaped like the real thing, so it reaches deep into an item and not only the page check
junk_fields = st.fixed_dictionaries(
    {},
    optional={
        "track": json_junk
        | st.fixed_dictionaries(
            {"type": st.just("track")},
            optional={
                "id": json_junk | ids,
                "name": json_junk | names,
                "artists": json_junk | st.lists(json_junk | artists()),
                "album": json_junk,
                "duration_ms": json_junk,
                "explicit": json_junk,
                "external_ids": json_junk,
                "is_local": json_junk,
                "popularity": json_junk,
            },
        ),  # fmt: skip
        "played_at": json_junk | played_ats.map(format_played_at),
        "context": json_junk,
    },
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(json_junk, st.fixed_dictionaries({"items": st.lists(json_junk | junk_fields, max_size=5)})))
def test_junk_raises_only_malformed_errors(page: Any) -> None:
    try:
        recently_played_rows(page, "u", "k")
    except (MalformedRecord, MalformedRawObject) as exc:
        assert "k" in str(exc)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_parse_played_at_raises_only_value_error(text: str) -> None:
    try:
        parsed = parse_played_at(text)
    except ValueError:
        return
    assert parsed.tzinfo is UTC and parsed.microsecond % 1000 == 0


@given(played_ats, st.integers(-14 * 60, 14 * 60))
def test_offsets_are_normalised_to_utc(when: datetime, offset_minutes: int) -> None:
    local = when.astimezone(timezone(timedelta(minutes=offset_minutes)))
    text = local.isoformat(timespec="milliseconds")
    assert parse_played_at(text) == when


# --- whole raw objects: any junk in any page or fetch is a MalformedRawObject, nothing else --------

# Values that broke the load before: strings over their column, lone surrogates, integers past
# INTEGER and BIGINT and past what str() converts, numbers in the wrong places.
hostile_text = st.text(max_size=12) | st.sampled_from(["\ud800", "a\udfffb", "x" * 65, "y" * 300, ""])
hostile_ints = st.integers() | st.sampled_from([2**31, 2**63, -(2**63) - 1, 10**4000, -1])
hostile = st.recursive(
    st.none() | st.booleans() | hostile_ints | st.floats() | hostile_text,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(hostile_text, kids, max_size=4),
    max_leaves=15,
)
hostile_artist = st.fixed_dictionaries(
    {"type": st.just("artist")},
    optional={
        "id": hostile | ids, "name": hostile | names, "uri": hostile, "genres": hostile,
        "popularity": hostile, "followers": hostile | st.fixed_dictionaries({"total": hostile}),
    },
)  # fmt: skip
pages = st.one_of(
    hostile,
    st.fixed_dictionaries({"items": hostile | st.lists(hostile | junk_fields, max_size=4)}, optional={"cursors": hostile}),
    st.fixed_dictionaries(
        {"artists": hostile | st.fixed_dictionaries({"items": hostile | st.lists(hostile | hostile_artist, max_size=3)}, optional={"next": hostile})}
    ),
    hostile_artist,
)  # fmt: skip
fetches = st.fixed_dictionaries(
    {
        "fetched_at": st.none() | played_ats.map(format_played_at) | hostile,
        "request": st.none() | hostile | st.sampled_from(
            ["GET /v1/artists/abc", "GET /v1/albums/" + "a" * 70, "GET /v1/tracks/x", "GET /v1/audio-features/x", "GET /v1/me"]
        ),
        "status": st.sampled_from([200, 404, 500, None]) | hostile,
        "response": pages,
    },
    optional={"run_id": hostile, "page": hostile, "last_page": hostile},
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["recently_played", "following_artists", "metadata"]),
    st.lists(hostile | fetches, max_size=3),
)
def test_any_junk_in_a_raw_object_raises_only_malformed_raw_object(
    kind: str, junk_fetches: list[Any]
) -> None:
    key = f"{kind}/2026110206.json"
    try:
        rows = object_rows(kind, {"fetches": junk_fetches}, "u", key, datetime(2026, 11, 2, 6, tzinfo=UTC))
    except MalformedRawObject as exc:
        assert exc.key == key and exc.reason
        return
    # what is returned fits the warehouse: valid Unicode, ids within their columns
    for value in _leaves(rows):
        if isinstance(value, str):
            value.encode("utf-8")
        elif isinstance(value, int):
            assert -(2**63) <= value < 2**63
    for page in rows.pages:
        assert all(len(t.id) <= fields.ID for t in page.tracks)


def _leaves(value: Any) -> Any:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            yield from _leaves(getattr(value, name))
    else:
        yield value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=200),
        st.sampled_from(["[" * 5000 + "]" * 5000, '{"items": [' * 3000, '{"items": [], "n": ' + "7" * 4400 + "}"]).map(str.encode),
        st.builds(lambda fs: json.dumps({"format": "spotify-pipeline.raw/1", "kind": "recently_played", "user": None, "fetches": fs}).encode(), st.lists(fetches, max_size=2)),
    )
)  # fmt: skip
def test_any_bytes_under_a_raw_key_raise_only_malformed_raw_object(data: bytes) -> None:
    key = "recently_played/2026110206.json"
    try:
        read_object(data, key, "recently_played", "u", datetime(2026, 11, 2, 6, tzinfo=UTC))
    except MalformedRawObject as exc:
        assert exc.key == key


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2)), max_size=6), max_size=5),
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2)), max_size=3),
)
def test_catalog_merge_keeps_the_first_row_of_each_key_in_order(
    parts: list[list[tuple[int, int]]], already: list[tuple[int, int]]
) -> None:
    """``CatalogRows.extend`` (a page's first merge takes a path of its own): the first row of each
    id wins, in the order met, the rows themselves (not copies), whatever was there before."""
    from spotify_pipeline.transform.rows import ArtistRow, CatalogRows

    def rows(pairs: list[tuple[int, int]]) -> list[ArtistRow]:
        return [ArtistRow(id=f"a{i}", name=f"n{v}", uri=None) for i, v in pairs]

    for start in ([], rows(already)):
        others = [CatalogRows(artists=rows(p)) for p in parts]
        merged = CatalogRows(artists=list(start))
        merged.extend(*others)
        expected: list[ArtistRow] = list(start)  # what was there stays as it was
        seen: set[str] = {row.id for row in start}
        for row in (r for o in others for r in o.artists):
            if row.id not in seen:
                seen.add(row.id)
                expected.append(row)
        assert len(merged.artists) == len(expected)
        assert all(a is b for a, b in zip(merged.artists, expected, strict=True))
