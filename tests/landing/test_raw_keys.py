from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from spotify_pipeline.landing.keys import import_key, is_legacy_key, is_raw_key, parse_key, raw_key


def test_original_layout_exactly() -> None:
    hour = datetime(2026, 11, 29, 10, 59, 59, 999000, tzinfo=UTC)
    assert raw_key("recently_played", hour) == "recently_played/2026112910.json"
    assert raw_key("following_artists", hour) == "following_artists/2026112910.json"


def test_hour_is_the_utc_hour_of_the_given_time() -> None:
    # 01:30 in UTC+02:00 is 23:30 UTC of the previous day.
    local = datetime(2026, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert raw_key("recently_played", local) == "recently_played/2025123123.json"


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        raw_key("recently_played", datetime(2026, 11, 29, 10))


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="'plays'"):
        raw_key("plays", datetime(2026, 11, 29, 10, tzinfo=UTC))


def test_user_partition() -> None:
    hour = datetime(2026, 11, 29, 10, tzinfo=UTC)
    assert raw_key("recently_played", hour, user="alice") == "users/alice/recently_played/2026112910.json"
    assert raw_key("metadata", hour, user="bob.smith_2") == "users/bob.smith_2/metadata/2026112910.json"


@pytest.mark.parametrize("user", ["", "..", ".hidden", "a/b", "a b", "é", "x" * 65, "a\\b"])
def test_unsafe_user_names_are_refused_by_name(user: str) -> None:
    with pytest.raises(ValueError) as err:
        raw_key("recently_played", datetime(2026, 11, 29, 10, tzinfo=UTC), user=user)
    assert repr(user) in str(err.value)


@pytest.mark.parametrize("user", [None, "alice"])
@pytest.mark.parametrize("kind", ["recently_played", "following_artists", "metadata"])
def test_parse_key_inverts_raw_key(kind: str, user: str | None) -> None:
    hour = datetime(2024, 2, 29, 23, tzinfo=UTC)
    parsed = parse_key(raw_key(kind, hour, user))
    assert parsed == (kind, hour, user)
    assert parsed.hour.tzinfo is UTC


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("recently_played/recently_played_2025031514.json", "recently_played"),
        ("following_atrists/following_atrists_2025031500.json", "following_artists"),  # sic, as written
        ("following_artists/following_artists_2025031500.json", "following_artists"),
    ],
)
def test_the_original_dags_file_names_are_raw_objects(key: str, kind: str) -> None:
    assert parse_key(key) == (kind, datetime(2025, 3, 15, int(key[-7:-5]), tzinfo=UTC), None)
    assert is_legacy_key(key) and is_raw_key(key)
    assert not is_legacy_key(raw_key(kind, datetime(2025, 3, 15, tzinfo=UTC)))


@pytest.mark.parametrize(
    "key",
    [
        "recently_played/following_atrists_2025031500.json",
        "recently_played/recently_played_2025133100.json",
        "users/alice/recently_played/recently_played_2025031514.json",
        "_quarantine/recently_played/2026112910.json",
        "_quarantine/recently_played/2026112910.json.reason.json",
        "recently_played/2026112910.json.tmp",
        "recently_played/.tmp-2026112910.json.123.abcd",
        "recently_played/202611291.json",
        "recently_played/2026113125.json",  # no such hour
        "other/2026112910.json",
        "users/alice/x/recently_played/2026112910.json",
        "users/../recently_played/2026112910.json",
        "prefix/recently_played/2026112910.json",
        "README.md",
    ],
)
def test_foreign_keys_are_not_raw_objects(key: str) -> None:
    assert not is_raw_key(key)
    with pytest.raises(ValueError, match="raw object key"):
        parse_key(key)


SHA = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("/home/a/my_spotify_data.zip/Spotify Extended Streaming History/Streaming_History_Audio_2026.json",
         "Streaming_History_Audio_2026.json"),
        ("C:\\Users\\a\\StreamingHistory_music_0.json", "StreamingHistory_music_0.json"),
        ("export/.hidden.json", "hidden.json"),  # the local store does not list hidden files
        ("export/..", "export.json"),
    ],
)  # fmt: skip
def test_archived_export_keys_are_content_addressed_per_user(name: str, expected: str) -> None:
    assert import_key("alice", SHA, name) == f"imports/alice/{SHA}/{expected}"


@pytest.mark.parametrize(
    "name", ["Streaming_History_Audio_2026.json", "recently_played/2026112910.json", "2026112910.json"]
)
def test_archived_export_files_are_not_raw_objects(name: str) -> None:
    # `process` lists the whole raw zone and loads only what parse_key accepts.
    key = import_key("alice", SHA, name)
    assert not is_raw_key(key)
    with pytest.raises(ValueError, match="raw object key"):
        parse_key(key)


def test_archived_export_keys_refuse_bad_users_and_digests() -> None:
    with pytest.raises(ValueError, match="'../x' cannot be a raw-zone partition"):
        import_key("../x", SHA, "a.json")
    with pytest.raises(ValueError, match="sha256"):
        import_key("alice", SHA.upper(), "a.json")
