from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.conftest import load_fixture

from spotify_pipeline.errors import MalformedRawObject
from spotify_pipeline.landing.decode import dump, parse_object
from spotify_pipeline.landing.envelope import FORMAT, make_fetch, merge_envelopes, new_envelope

REQ = "GET /v1/me/player/recently-played?limit=50"
KEY = "recently_played/2026112910.json"


def fetch(second: int, items: list[str], ms: int = 0) -> dict[str, Any]:
    when = datetime(2026, 11, 29, 10, 10, second, ms * 1000, tzinfo=UTC)
    return make_fetch(when, REQ, 200, {"items": [{"played_at": p} for p in items], "next": None})


def test_make_fetch_formats_time_in_utc_with_milliseconds() -> None:
    f = make_fetch(datetime(2026, 11, 29, 10, 10, 3, 120999, tzinfo=UTC), REQ, 200, {"items": []})
    assert f == {
        "fetched_at": "2026-11-29T10:10:03.120Z",
        "request": REQ,
        "status": 200,
        "response": {"items": []},
    }


def test_envelope_layout_and_dump_round_trip() -> None:
    page = load_fixture("api/recently-played_2023-09_limit2.json")
    env = new_envelope(
        "recently_played", "alice", [make_fetch(datetime(2026, 11, 29, tzinfo=UTC), REQ, 200, page)]
    )
    assert list(env) == ["format", "kind", "user", "fetches"]
    assert env["format"] == FORMAT == "spotify-pipeline.raw/1"
    data = dump(env)
    assert parse_object(data, "users/alice/" + KEY) == env
    # The page is kept as Spotify sent it: same values and same key order.
    assert list(json.loads(data)["fetches"][0]["response"]) == list(page)
    assert json.loads(data)["fetches"][0]["response"] == page
    assert dump(env) == data  # stable bytes


def test_dump_keeps_non_ascii_as_utf8() -> None:
    env = new_envelope(
        "recently_played",
        None,
        [make_fetch(datetime(2026, 1, 1, tzinfo=UTC), REQ, 200, {"items": [], "n": "Björk"})],
    )
    assert "Björk".encode() in dump(env)


def test_merge_is_a_union_ordered_by_fetch_time() -> None:
    a = new_envelope("recently_played", "alice", [fetch(30, ["p2"]), fetch(10, ["p1"])])
    b = new_envelope("recently_played", "alice", [fetch(20, ["p1", "p2"]), fetch(10, ["p1"])])
    merged = merge_envelopes(a, b)
    assert [f["fetched_at"] for f in merged["fetches"]] == [
        "2026-11-29T10:10:10.000Z",
        "2026-11-29T10:10:20.000Z",
        "2026-11-29T10:10:30.000Z",
    ]


def test_merge_into_nothing_is_the_new_envelope() -> None:
    new = new_envelope("following_artists", None, [fetch(1, [])])
    assert merge_envelopes(None, new) == new


def test_same_time_and_request_but_different_response_are_both_kept() -> None:
    # Not the same fetch: dropping either could drop a play.
    a = new_envelope("recently_played", None, [fetch(10, ["p1"])])
    b = new_envelope("recently_played", None, [fetch(10, ["p1", "p0"])])
    assert len(merge_envelopes(a, b)["fetches"]) == 2


def test_legacy_fetches_with_unknown_time_sort_first() -> None:
    legacy = parse_object(json.dumps({"items": [{"played_at": "x"}]}).encode(), KEY)
    merged = merge_envelopes(legacy, new_envelope("recently_played", None, [fetch(5, ["y"])]))
    assert [f["fetched_at"] for f in merged["fetches"]] == [None, "2026-11-29T10:10:05.000Z"]


def test_merge_refuses_mixing_kinds_or_users() -> None:
    a = new_envelope("recently_played", "alice", [fetch(1, ["a"])])
    with pytest.raises(ValueError, match="following_artists envelope into a recently_played"):
        merge_envelopes(a, new_envelope("following_artists", "alice", []))
    with pytest.raises(ValueError, match="'bob'"):
        merge_envelopes(a, new_envelope("recently_played", "bob", []))
    # An envelope without a user (the original single-user layout) takes the other's user.
    assert merge_envelopes(new_envelope("recently_played", None, []), a)["user"] == "alice"


def test_new_envelope_checks_fetches() -> None:
    with pytest.raises(ValueError, match="fetch 0: missing 'response'"):
        new_envelope("recently_played", None, [{"fetched_at": None, "request": REQ, "status": 200}])
    with pytest.raises(ValueError, match="no time zone"):
        new_envelope(
            "recently_played",
            None,
            [{"fetched_at": "2026-11-29T10:00:00", "request": REQ, "status": 200, "response": {}}],
        )


def test_fields_added_by_a_newer_writer_are_kept() -> None:
    f = {**fetch(1, ["a"]), "x_headers": {"retry-after": "3"}}
    merged = merge_envelopes(None, new_envelope("recently_played", None, [f]))
    assert merged["fetches"][0]["x_headers"] == {"retry-after": "3"}


# --- bare pages written by the original DAGs --------------------------------------------------


def test_bare_recently_played_page_is_wrapped() -> None:
    page = load_fixture("api/recently-played_2016-12_artist-context.json")
    env = parse_object(json.dumps(page).encode(), KEY)
    assert env["kind"] == "recently_played" and env["user"] is None
    assert env["fetches"] == [{"fetched_at": None, "request": None, "status": None, "response": page}]


def test_bare_following_page_is_wrapped_with_the_user_of_the_key() -> None:
    page = load_fixture("api/following-artists.json")
    env = parse_object(json.dumps(page).encode(), "users/alice/following_artists/2026112900.json")
    assert env["kind"] == "following_artists" and env["user"] == "alice"
    assert env["fetches"][0]["response"] == page


def test_a_list_of_pages_is_one_fetch_per_page() -> None:
    pages = [load_fixture("api/following-artists.json"), load_fixture("api/following-artists_empty.json")]
    env = parse_object(json.dumps(pages).encode(), "following_artists/2026112900.json")
    assert [f["response"] for f in env["fetches"]] == pages


# What the original DAGs' code really wrote: the concatenated `items` of every page, as one list.
LEGACY_PLAYS_KEY = "recently_played/recently_played_2025031514.json"
LEGACY_ARTISTS_KEY = "following_atrists/following_atrists_2025031500.json"


def test_original_list_of_play_items_is_wrapped_as_one_page() -> None:
    items = load_fixture("api/recently-played_2023-09_limit2.json")["items"]
    env = parse_object(json.dumps(items, indent=4).encode(), LEGACY_PLAYS_KEY)
    assert env["kind"] == "recently_played"
    (only,) = env["fetches"]
    assert only["response"] == {"items": items}
    assert only["legacy_shape"] == "list of play-history items"
    assert only["fetched_at"] is None and only["request"] is None and only["status"] is None


def test_original_list_of_artist_objects_is_wrapped_as_one_page() -> None:
    artists = load_fixture("api/following-artists.json")["artists"]["items"]
    env = parse_object(json.dumps(artists).encode(), LEGACY_ARTISTS_KEY)
    assert env["kind"] == "following_artists"
    assert env["fetches"][0]["response"] == {"artists": {"items": artists}}
    assert env["fetches"][0]["legacy_shape"] == "list of artist objects"


@pytest.mark.parametrize(
    ("key", "page"),
    [
        (LEGACY_PLAYS_KEY, {"items": []}),
        (LEGACY_ARTISTS_KEY, {"artists": {"items": []}}),
        (KEY, {"items": []}),
    ],
)
def test_an_empty_list_under_a_raw_key_is_an_empty_result(key: str, page: dict[str, Any]) -> None:
    # The original wrote [] when nothing new was played; that is not an error.
    assert parse_object(b"[]", key)["fetches"][0]["response"] == page


def test_an_empty_list_under_a_foreign_key_is_malformed() -> None:
    assert reason(b"[]", "imports/x.json").startswith(
        "expected an object with 'fetches' or a Spotify page, got an empty list (and the key does not say"
    )


def test_a_legacy_list_that_contradicts_its_key() -> None:
    artists = load_fixture("api/following-artists.json")["artists"]["items"]
    assert reason(json.dumps(artists).encode(), LEGACY_PLAYS_KEY) == (
        "the key says recently_played but the content is a list of artist objects"
    )


def test_kind_is_inferred_when_the_key_is_not_a_raw_key() -> None:
    env = parse_object(b'{"items": [], "next": null}', "imports/old.json")
    assert env["kind"] == "recently_played"


def test_utf8_bom_is_accepted() -> None:
    assert parse_object(b'\xef\xbb\xbf{"items": []}', KEY)["kind"] == "recently_played"


# --- malformed objects: precise reasons ---------------------------------------------------------


def reason(data: bytes, key: str = KEY) -> str:
    with pytest.raises(MalformedRawObject) as err:
        parse_object(data, key)
    assert err.value.key == key
    assert key in str(err.value)
    return err.value.reason


def test_truncated_json_names_the_byte() -> None:
    full = json.dumps(load_fixture("api/recently-played_2023-09_limit2.json")).encode()
    assert reason(full[:1234]) == "truncated JSON at byte 1234"


@pytest.mark.parametrize("cut", [1, 10, 100, 1000, 2000])
def test_truncation_anywhere_is_reported_as_truncation(cut: int) -> None:
    full = json.dumps(load_fixture("api/recently-played_2023-09_limit2.json"), indent=2).encode()
    piece = full[:cut]
    assert reason(piece) == f"truncated JSON at byte {len(piece.rstrip())}"


def test_invalid_json_in_the_middle_names_byte_line_and_column() -> None:
    assert reason(b'{"items": [1,, 2]}') == "invalid JSON at byte 13 (line 1, column 14): Expecting value"


def test_byte_offsets_count_utf8_bytes_not_characters() -> None:
    assert reason('{"n": "Björk", "items": ['.encode()) == "truncated JSON at byte 26"


@pytest.mark.parametrize("data", [b"", b"  \n"])
def test_empty_file(data: bytes) -> None:
    assert reason(data) == "empty file"


def test_cut_inside_a_multibyte_character_is_truncation() -> None:
    assert reason('{"n": "Björk"}'.encode()[:10]) == "truncated JSON at byte 10"


def test_not_utf8() -> None:
    assert reason(b'{"items": ["\xff"]}') == "not UTF-8 text: invalid byte at offset 12"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"[1, 2]", "expected an object with 'fetches' or a Spotify page, got list of int"),
        (b'"hello"', "expected an object with 'fetches' or a Spotify page, got string"),
        (
            b'{"error": {"status": 401}}',
            "expected an object with 'fetches' or a Spotify page, got object with keys 'error'",
        ),
        (
            b'[{"items": []}, 3]',
            "expected an object with 'fetches' or a Spotify page, got list of int and object",
        ),
    ],
)
def test_wrong_shape(data: bytes, expected: str) -> None:
    assert reason(data) == expected


def test_content_that_contradicts_the_key() -> None:
    page = json.dumps(load_fixture("api/following-artists.json")).encode()
    assert reason(page) == "the key says recently_played but the content is a following_artists page"


@pytest.mark.parametrize(
    ("envelope", "expected"),
    [
        (
            {"format": "spotify-pipeline.raw/9", "kind": "recently_played", "fetches": []},
            "unknown format 'spotify-pipeline.raw/9'",
        ),
        ({"format": FORMAT, "kind": "plays", "fetches": []}, "unknown kind 'plays'"),
        (
            {"format": FORMAT, "kind": "recently_played", "fetches": {}},
            "'fetches' must be a list, got empty object",
        ),
        (
            {"format": FORMAT, "kind": "recently_played", "fetches": [{"request": REQ}]},
            "fetch 0: missing 'fetched_at', 'status', 'response'",
        ),
        (
            {
                "format": FORMAT,
                "kind": "recently_played",
                "fetches": [{"fetched_at": "yesterday", "request": REQ, "status": 200, "response": {}}],
            },
            "fetch 0: 'fetched_at' 'yesterday' is not an ISO time",
        ),
        (
            {
                "format": FORMAT,
                "kind": "recently_played",
                "fetches": [{"fetched_at": None, "request": REQ, "status": "200", "response": {}}],
            },
            "fetch 0: 'status' must be an HTTP status code or null, got string",
        ),
    ],
)
def test_malformed_envelopes(envelope: dict[str, Any], expected: str) -> None:
    assert reason(json.dumps(envelope).encode()).startswith(expected)


def test_merge_encodes_each_fetch_at_most_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from spotify_pipeline.landing import envelope as module

    encoded: list[int] = []
    real = module._identity

    def counting(f: Any) -> str:
        encoded.append(id(f))
        return real(f)

    old = new_envelope("recently_played", "alice", [fetch(s, [f"p{s}"]) for s in range(0, 40, 2)])
    new = new_envelope("recently_played", "alice", [fetch(s, [f"p{s}"]) for s in range(1, 40, 2)])
    monkeypatch.setattr(module, "_identity", counting)
    merged = merge_envelopes(old, new)
    assert len(merged["fetches"]) == 40
    assert encoded == []  # distinct times: no fetch needs its canonical JSON at all
    again = merge_envelopes(merged, json.loads(json.dumps(merged)))  # each incoming fetch has a twin
    assert again == merged
    assert len(encoded) == len(set(encoded)) == 80  # each of the 40 + 40 fetch objects once


def test_a_lone_surrogate_is_landed_as_the_escape_spotify_sent() -> None:
    # json.loads turns Spotify's "\ud800" into a lone surrogate, which UTF-8 cannot encode: the
    # whole page (49 other plays) used to be lost to a UnicodeEncodeError.
    received = json.loads('{"items": [{"played_at": "2026-11-29T09:00:00.000Z", "name": "a\\ud800b é"}]}')
    when = datetime(2026, 11, 29, 10, 10, tzinfo=UTC)
    env = new_envelope("recently_played", None, [make_fetch(when, REQ, 200, received)])
    data = dump(env)
    assert b'"a\\ud800b \xc3\xa9"' in data  # the escape as sent; other non-ASCII stays UTF-8
    assert parse_object(data, KEY) == env
