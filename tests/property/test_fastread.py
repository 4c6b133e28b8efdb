"""The fast reader (msgspec, whole file) and the exact streaming reader agree on any input.

``FileReader`` decodes a file whole when ``fastread.decode_fast`` vouches for it and streams it
otherwise; ``FileReader._stream`` is the exact path alone. On arbitrary records, bad values and
damaged bytes, both must give the same records, the same malformed indexes and reasons, and the same
file problem: a good file is fast, a bad one reported exactly as before.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spotify_pipeline.errors import MalformedRecord
from spotify_pipeline.exports import fastread, reader
from spotify_pipeline.exports.formats import ExportFormat, clean_extended, latest_end, parse_fields
from spotify_pipeline.exports.reader import FileReader, discover
from spotify_pipeline.exports.shapes import from_dict

PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"])
    | st.sampled_from(["é", "\x00", '"', "\\"]),
    max_size=12,
)
_ANY: Any = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**25), 10**25) | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
_TS = st.sampled_from(["2024-03-01T08:15:12Z", "2005-01-01T00:00:00Z", "2024-02-30T00:00:00Z", "x", ""])
_URI = st.sampled_from(["spotify:track:" + "a" * 22, "spotify:local:a:b:c:200", "spotify:track:short", None])


def _extended() -> st.SearchStrategy[dict[str, Any]]:
    values = {
        "ts": _TS | _ANY,
        "ms_played": st.integers(-5, 10**12) | _ANY,
        "spotify_track_uri": _URI | _ANY,
        "master_metadata_track_name": _TEXT | st.none(),
        "master_metadata_album_artist_name": _TEXT | st.none(),
        "offline_timestamp": st.integers(0, 2 * 10**12) | st.floats(allow_nan=False) | st.none(),
        "reason_start": st.sampled_from(["trackdone", "unknown", ""]) | _ANY,
        "shuffle": st.booleans() | st.none() | _ANY,
        "incognito_mode": st.booleans() | st.none(),
        "episode_name": _TEXT | st.none(),
        "ip_addr": _ANY,
    }
    return st.fixed_dictionaries({}, optional=values)


# Near-clean extended records: every value clean but for a few near misses, each of which the fast
# converter (``formats.clean_extended``) must leave to the exact parser, which names it.
_MAX_MS = 7 * 24 * 3600 * 1000
_NEAR: dict[str, Any] = {
    "ts": st.sampled_from(
        [
            "2024-03-01T08:15:12Z",
            "2024-03-01T24:00:00Z",
            "2024-03-01T08:15:12Z\n",
            "2024-02-30T08:15:12Z",
            "2005-12-31T23:59:59Z",
            "2006-01-01T00:00:00Z",
            "2199-12-31T23:59:59Z",
            "2200-01-01T00:00:01Z",
            "2024-03-01T08:15:60Z",
            "\u0662024-03-01T08:15:12Z",
            "2024-03-01 08:15:12Z",
            "2024-03-01T08:15:12+00:00",
            "2030-06-01T00:00:00Z",
        ]
    ),
    "ms_played": st.sampled_from([0, 29_999, 30_000, 245_000, _MAX_MS, _MAX_MS + 1, -1, True, 1.0, "5"]),
    "spotify_track_uri": st.sampled_from(
        [
            "spotify:track:" + "aB3" * 7 + "z",
            "spotify:track:" + "a" * 22 + "\n",
            "spotify:track:" + "a" * 21,
            "spotify:track:" + "a" * 23,
            "spotify:track:" + "\u00e9" * 22,
            "spotify:track:" + "a" * 21 + "-",
            "spotify:local:Artist:Album:Song:200",
            "spotify:episode:" + "a" * 22,
            None,
            5,
            "",
        ]
    ),
    "master_metadata_track_name": st.sampled_from(["Song", "  Song ", "", " ", "Caf\u00e9", None, 3]),
    "master_metadata_album_artist_name": st.sampled_from(["Artist", " A ", "", "\u00c9lan", None, []]),
    "master_metadata_album_album_name": st.sampled_from(["Album", "", None, 1.5]),
    "offline_timestamp": st.sampled_from(
        [None, 0, 1709280912, 1709280700, 1709280912123, 10**20, -1, 1.5, True, "1", 1_000_000_000]
    ),
    "reason_start": st.sampled_from(["trackdone", " unknown ", "", "Unknown", "x" * 65, None, 3, "clickrow"]),
    "reason_end": st.sampled_from(["endplay", "x" * 64, None, []]),
    "shuffle": st.sampled_from([True, False, None, 0, 1, "true"]),
    "skipped": st.sampled_from([True, False, None, 0]),
    "offline": st.sampled_from([True, False, None, 1.0]),
    "incognito_mode": st.sampled_from([False, True, None, "no"]),
    "platform": st.sampled_from(["android", " ios ", "", "p" * 256, None, 7]),
    "conn_country": st.sampled_from(["DE", "DEUTSCHLAND", " de ", None, "\u00dc"]),
    "episode_name": st.sampled_from([None, "Episode"]),
    "spotify_episode_uri": st.sampled_from([None, "spotify:episode:x"]),
    "audiobook_title": st.sampled_from([None, "Book"]),
}
_CLEAN: dict[str, Any] = {
    "ts": "2024-03-01T08:15:12Z", "ms_played": 245_000, "spotify_track_uri": "spotify:track:" + "a" * 22,
    "master_metadata_track_name": "Song", "master_metadata_album_artist_name": "Artist",
    "master_metadata_album_album_name": "Album", "offline_timestamp": 1709280667, "reason_start": "trackdone",
    "reason_end": "trackdone", "shuffle": False, "skipped": False, "offline": False, "incognito_mode": False,
    "platform": "android", "conn_country": "DE",
}  # fmt: skip


@st.composite
def _near_clean(draw: st.DrawFn) -> dict[str, Any]:
    record = dict(_CLEAN)
    for key in draw(st.lists(st.sampled_from(sorted(_NEAR)), max_size=3, unique=True)):
        value = draw(_NEAR[key])
        if value is None and draw(st.booleans()):
            record.pop(key, None)  # missing and null: both None
        else:
            record[key] = value
    return record


def _account() -> st.SearchStrategy[dict[str, Any]]:
    values = {
        "endTime": st.sampled_from(["2024-03-01 08:15", "2024-13-01 08:15", "1999-01-01 00:00"]) | _ANY,
        "msPlayed": st.integers(-5, 10**10) | _ANY,
        "artistName": _TEXT | _ANY,
        "trackName": _TEXT | _ANY,
        "podcastName": _TEXT | st.none(),
        "episodeName": _TEXT | st.none(),
    }
    return st.fixed_dictionaries({}, optional=values)


# Damage applied to a file's bytes: each is something the exact path reports in its own way.
_DAMAGE = [
    lambda b: b,
    lambda b: b.replace(b"}", b"}\xe9", 1),  # a byte that is not UTF-8
    lambda b: b.replace(b'"', b'"\\ud800', 1),  # a lone surrogate escape
    lambda b: b[: len(b) // 2],  # cut short
    lambda b: b + b" [1]",  # text after the array
    lambda b: b.replace(b"[", b"[NaN, ", 1),  # a literal only Python's json takes
    lambda b: b.replace(b"[", b"[" + b"[" * 2000 + b"]" * 2000 + b", ", 1),  # nested too deep
    lambda b: b.replace(b"[", b'[{"ts": ' + b"9" * 5000 + b"}, ", 1),  # a number too long
    lambda b: b.replace(b"[", b'[{"x": "' + b"y" * 6000 + b'"}, ', 1),  # a long record
    lambda b: b.replace(b'"', b'"\x01', 1),  # a raw control character in a string
    lambda b: b.replace(b"[", b'[{"ts": 1e-400, "ms_played": 1e400}, ', 1),  # numbers past a double
    lambda b: b.replace(b"[", b"[1, ", 1),  # an element that is not an object
    lambda b: b"\xef\xbb\xbf" + b,  # a BOM (fast: the exact path skips it too)
]


def _outcome(reader_items: list[Any]) -> list[Any]:
    out = []
    for item in reader_items:
        if isinstance(item, MalformedRecord):
            out.append((type(item).__name__, item.index, item.reason))
        else:
            out.append(item)
    return out


def _both(path: Path, fmt: ExportFormat, not_after: datetime | None = None) -> tuple[list[Any], list[Any]]:
    (file,) = discover(path).files
    fast = FileReader(file, fmt, not_after)
    exact = FileReader(file, fmt, not_after)
    got = _outcome(list(fast))
    want = _outcome(list(exact._stream()))
    assert fast.problem == exact.problem
    return got, want


@PROPS
@given(
    records=st.lists(_extended(), max_size=8),
    damage=st.sampled_from(range(len(_DAMAGE))),
    fmt=st.sampled_from([ExportFormat.EXTENDED, ExportFormat.ENDSONG]),
)
def test_fast_and_exact_paths_agree_extended(
    tmp_path: Path, records: list[Any], damage: int, fmt: ExportFormat
) -> None:
    path = tmp_path / "Streaming_History_Audio_2024.json"
    path.write_bytes(_DAMAGE[damage](json.dumps(records, ensure_ascii=False).encode("utf-8")))
    got, want = _both(path, fmt)
    assert got == want


@PROPS
@given(
    records=st.lists(_near_clean(), min_size=1, max_size=8),
    damage=st.sampled_from([0, 0, 0, *range(len(_DAMAGE))]),
    fmt=st.sampled_from([ExportFormat.EXTENDED, ExportFormat.ENDSONG]),
    not_after=st.sampled_from(
        [None, datetime(2024, 3, 1, 8, 15, 12, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)]
    ),
)
def test_fast_and_exact_paths_agree_on_near_clean_records(
    tmp_path: Path, records: list[Any], damage: int, fmt: ExportFormat, not_after: datetime | None
) -> None:
    """The clean-record converter: every near miss is left to the exact parser, every record it
    takes is the one the exact parser gives."""
    path = tmp_path / "Streaming_History_Audio_2024.json"
    path.write_bytes(_DAMAGE[damage](json.dumps(records, ensure_ascii=False).encode("utf-8")))
    got, want = _both(path, fmt, not_after)
    assert got == want


@PROPS
@given(records=st.lists(_near_clean(), min_size=1, max_size=8))
def test_clean_extended_gives_what_the_exact_parser_gives(records: list[Any]) -> None:
    """Record by record, without the reader: None, or exactly ``parse_fields``' record."""
    for index, raw in enumerate(records):
        fields = from_dict(raw, account=False)
        got = clean_extended(fields, ExportFormat.EXTENDED, "f", index, latest_end(None))
        if got is None:
            continue
        assert got == parse_fields(fields, ExportFormat.EXTENDED, "f", index)
        assert got.ended_at.tzinfo is UTC and (got.started_at is None or got.started_at.tzinfo is UTC)


def test_a_clean_record_takes_the_fast_converter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean music record never reaches the exact parser; a podcast and a bad record do."""
    path = tmp_path / "Streaming_History_Audio_2024.json"
    records = [_CLEAN, {**_CLEAN, "ms_played": -1}, {**_CLEAN, "spotify_track_uri": None,
               "master_metadata_track_name": None, "episode_name": "E"}]  # fmt: skip
    path.write_bytes(json.dumps(records).encode())
    exact: list[int] = []
    real = reader._parse

    def spy(raw: Any, fmt: ExportFormat, name: str, index: int, *args: Any, **kwargs: Any) -> Any:
        exact.append(index)
        return real(raw, fmt, name, index, *args, **kwargs)

    monkeypatch.setattr(reader, "_parse", spy)
    (file,) = discover(path).files
    got = list(FileReader(file, ExportFormat.EXTENDED))
    assert exact == [1, 2]
    assert not isinstance(got[0], MalformedRecord) and got[0].track_id == "a" * 22
    assert isinstance(got[1], MalformedRecord) and "ms_played -1" in got[1].reason
    assert not isinstance(got[2], MalformedRecord) and got[2].track_name == "E"


@PROPS
@given(records=st.lists(_account(), max_size=8), damage=st.sampled_from(range(len(_DAMAGE))))
def test_fast_and_exact_paths_agree_account(tmp_path: Path, records: list[Any], damage: int) -> None:
    path = tmp_path / "StreamingHistory_music_0.json"
    path.write_bytes(_DAMAGE[damage](json.dumps(records, ensure_ascii=False).encode("utf-8")))
    got, want = _both(path, ExportFormat.ACCOUNT_MUSIC)
    assert got == want


@PROPS
@given(data=st.binary(max_size=200) | st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_fast_and_exact_paths_agree_on_any_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "endsong_0.json"
    path.write_bytes(b'[{"ts": "2024-03-01T08:15:12Z", "ms_played": 1, "spotify_track_uri": null}, ' + data)
    got, want = _both(path, ExportFormat.ENDSONG)
    assert got == want


def test_a_clean_file_takes_the_fast_path_and_each_damage_does_not() -> None:
    good = json.dumps([{"ts": "2024-03-01T08:15:12Z", "ms_played": 1, "x": ["é", 1]}] * 3).encode()
    assert fastread.decode_fast(good, account=False) is not None
    assert fastread.decode_fast(b"\xef\xbb\xbf" + good, account=False) is not None
    for damage in _DAMAGE[1:-1]:
        assert fastread.decode_fast(damage(good), account=False) is None, damage(good)[:60]


def test_a_file_over_the_fast_cap_is_streamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastread, "FAST_MAX_FILE_BYTES", 10)
    path = tmp_path / "endsong_0.json"
    path.write_bytes(
        json.dumps([{"ts": "2024-03-01T08:15:12Z", "ms_played": 1, "episode_name": "e"}]).encode()
    )
    (file,) = discover(path).files
    with file.binary() as raw:
        assert fastread.read_capped(raw, file.size, limit=10) is None
    (record,) = FileReader(file, ExportFormat.ENDSONG)
    assert not isinstance(record, MalformedRecord) and record.track_name == "e"
