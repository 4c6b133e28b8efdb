"""The run's item cache (``ItemCache``) and msgspec's decoding of raw objects change no row.

``process`` decodes a raw object with msgspec when it can (``parse_object_checked``) and then
transforms each item once per run; these properties check, on generated pages that overlap and
change between objects (a value that goes A -> B -> A included), that every object's rows are
exactly those of the uncached transform, and that both decoders give the same envelope.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.property.test_transform_properties import fetches, items

from spotify_pipeline.errors import MalformedRawObject
from spotify_pipeline.jobs.process_read import read_object
from spotify_pipeline.landing.decode import parse_object, parse_object_checked, parse_page_items_lazily
from spotify_pipeline.transform.recently_played import ItemCache

NOW = datetime(2026, 11, 2, 6, tzinfo=UTC)


def _object(page_items: list[dict[str, Any]]) -> bytes:
    envelope = {"format": "spotify-pipeline.raw/1", "kind": "recently_played", "user": None, "fetches": [
        {"fetched_at": "2026-11-02T06:00:00.000Z", "request": "GET /v1/me/player/recently-played?limit=50",
         "status": 200, "response": {"items": page_items, "cursors": None}},
    ]}  # fmt: skip
    return json.dumps(envelope, ensure_ascii=False).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pool=st.lists(items(), min_size=1, max_size=8),
    picks=st.lists(st.lists(st.integers(0, 7), max_size=6), min_size=1, max_size=6),
)
def test_cached_rows_are_the_uncached_rows(pool: list[dict[str, Any]], picks: list[list[int]]) -> None:
    cache = ItemCache(size=3)  # small: eviction happens too
    for n, chosen in enumerate(picks):
        data = _object([pool[i % len(pool)] for i in chosen])
        key = f"recently_played/20261102{n:02d}.json"
        cached = read_object(data, key, "recently_played", "u", NOW, cache)
        plain = read_object(data, key, "recently_played", "u", NOW)
        assert cached == plain
        assert all(p.raw_key == key for page in cached.pages for p in page.plays)


def test_a_value_that_changes_back_is_read_from_each_object() -> None:
    item = {"played_at": "2026-11-02T05:00:00.000Z", "context": None, "track": {
        "id": "a" * 22, "name": "Song", "type": "track", "artists": [], "popularity": 10}}  # fmt: skip
    changed = json.loads(json.dumps(item))
    changed["track"]["popularity"] = 11
    cache = ItemCache()
    seen = []
    for n, version in enumerate([item, changed, item]):
        rows = read_object(
            _object([version]), f"recently_played/202611020{n}.json", "recently_played", "u", NOW, cache
        )
        seen.append(rows.pages[0].tracks[0].popularity)
    assert seen == [10, 11, 10]


def test_an_object_only_json_reads_gets_no_cache() -> None:
    data = _object([]).replace(b'"cursors": null', b'"cursors": NaN')
    envelope, clean = parse_object_checked(data, "recently_played/2026110206.json")
    assert not clean and envelope["fetches"][0]["response"]["items"] == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=False)
@given(
    st.one_of(
        st.binary(max_size=120),
        st.builds(lambda fs: json.dumps({"format": "spotify-pipeline.raw/1", "kind": "recently_played", "user": None, "fetches": fs}).encode(), st.lists(fetches, max_size=2)),
        st.builds(lambda fs: json.dumps({"kind": "recently_played", "fetches": fs}).encode(), st.lists(fetches, max_size=2)),
    )
)  # fmt: skip
def test_msgspec_and_json_read_every_object_alike(data: bytes) -> None:
    key = "recently_played/2026110206.json"
    try:
        fast, _clean = parse_object_checked(data, key)
    except MalformedRawObject as exc:
        fast_error: str | None = exc.reason
    else:
        fast_error = None
    try:
        # parse_object's standard-library path alone, as before msgspec
        from spotify_pipeline.landing import decode as env

        slow: Any = env._shape(env._decode(env.stored_json(data, key), key), key)
    except MalformedRawObject as exc:
        assert fast_error == exc.reason
        return
    assert fast_error is None
    assert json.dumps(fast, sort_keys=True) == json.dumps(slow, sort_keys=True)
    assert parse_object(data, key) == fast or json.dumps(
        parse_object(data, key), sort_keys=True
    ) == json.dumps(fast, sort_keys=True)


def test_an_item_msgspec_refuses_is_read_the_exact_way() -> None:
    # The lazy read leaves items undecoded; an item with a number beyond a double (which json reads
    # as infinity) is only refused when the cache decodes it, and then the object is read as before.
    item = {"played_at": "2026-11-02T05:00:00.000Z", "context": None, "extra": 0, "track": {
        "id": "a" * 22, "name": "Song", "type": "track", "artists": [], "popularity": 10}}  # fmt: skip
    data = _object([item]).replace(b'"extra": 0', b'"extra": 1e400')
    key = "recently_played/2026110206.json"
    assert parse_page_items_lazily(data, key) is not None
    cache = ItemCache()
    cached = read_object(data, key, "recently_played", "u", NOW, cache)
    assert cached == read_object(data, key, "recently_played", "u", NOW)
    assert cached.pages[0].tracks[0].name == "Song" and cache.hits == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=False)
@given(
    st.one_of(
        st.binary(max_size=120),
        st.builds(lambda fs: json.dumps({"format": "spotify-pipeline.raw/1", "kind": "recently_played", "user": None, "fetches": fs}).encode(), st.lists(fetches, max_size=2)),
        st.builds(lambda fs: json.dumps({"format": "spotify-pipeline.raw/1", "kind": "recently_played", "user": "u", "fetches": fs}).encode("utf-8", "surrogatepass"), st.lists(fetches, max_size=3)),
    )
)  # fmt: skip
def test_the_lazy_read_is_the_exact_read_with_items_left_as_bytes(data: bytes) -> None:
    key = "recently_played/2026110206.json"
    lazily = parse_page_items_lazily(data, key)
    if lazily is None:
        return  # read the exact way
    exact, clean = parse_object_checked(data, key)  # never raises what the lazy read accepted
    assert clean
    for fetch in lazily["fetches"]:
        page = fetch["response"]
        page["items"] = [msgspec.json.decode(item) for item in page["items"]]
    assert json.dumps(lazily, sort_keys=True) == json.dumps(exact, sort_keys=True)


_CONTEXTS = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["album", "playlist", "x" * 40]), "uri": st.just("spotify:album:a")}
    ),
    st.just(5),  # not an object: the item is malformed
)
_PLAYED_AT = st.one_of(
    st.integers(0, 50).map(lambda m: f"2026-11-02T05:{m % 60:02d}:00.000Z"), st.just("yesterday"), st.none()
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tracks=st.lists(items(), min_size=1, max_size=3),
    plays=st.lists(st.tuples(st.integers(0, 2), _PLAYED_AT, _CONTEXTS), min_size=1, max_size=12),
    per_object=st.integers(1, 4),
)
def test_items_sharing_a_track_give_the_uncached_rows_and_errors(
    tracks: list[dict[str, Any]], plays: list[tuple[int, str | None, Any]], per_object: int
) -> None:
    """The cache reads a track object once per run (by its exact bytes) for every new item that
    holds it: each item's rows, or the error of its object, are still exactly the uncached ones."""
    cache = ItemCache(size=4)
    built = [
        {"played_at": at, "context": context, "track": tracks[pick % len(tracks)]["track"]}
        for pick, at, context in plays
    ]
    for n in range(0, len(built), per_object):
        data = _object(built[n : n + per_object])
        key = f"recently_played/20261102{n:02d}.json"
        try:
            plain = read_object(data, key, "recently_played", "u", NOW)
        except MalformedRawObject as exc:
            with pytest.raises(MalformedRawObject) as cached_exc:
                read_object(data, key, "recently_played", "u", NOW, cache)
            assert cached_exc.value.reason == exc.reason
            continue
        assert read_object(data, key, "recently_played", "u", NOW, cache) == plain
