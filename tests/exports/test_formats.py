"""Recognising the four formats by content, and parsing every documented field variant."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from spotify_pipeline.errors import MalformedRecord
from spotify_pipeline.exports.formats import ExportFormat, RecordKind, detect_format, parse_record
from spotify_pipeline.exports.reader import discover, read_records, sniff

from .conftest import EXPORT_FIXTURES

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "spotify" / "privacy"


def _records(path: Path) -> list:
    (file,) = discover(path).files
    sniffed = sniff(file)
    assert sniffed.format is not None, sniffed.problem
    return list(read_records(file, sniffed.format))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("StreamingHistory_music_0.json", ExportFormat.ACCOUNT_MUSIC),
        ("StreamingHistory0.json", ExportFormat.ACCOUNT_LEGACY),
        ("endsong_0.json", ExportFormat.ENDSONG),
        ("Streaming_History_Audio_2024_0.json", ExportFormat.EXTENDED),
    ],
)
def test_each_fixture_format_is_recognised(name: str, expected: ExportFormat) -> None:
    (file,) = discover(EXPORT_FIXTURES / name).files
    assert sniff(file).format is expected


def test_content_wins_over_the_file_name(tmp_path: Path) -> None:
    renamed = tmp_path / "export-part-1.json"  # a name no pattern knows
    renamed.write_bytes((EXPORT_FIXTURES / "endsong_0.json").read_bytes())
    (file,) = discover(renamed).files
    assert sniff(file).format is ExportFormat.ENDSONG
    lying = tmp_path / "StreamingHistory_music_9.json"  # account name, extended content
    lying.write_bytes((EXPORT_FIXTURES / "Streaming_History_Audio_2024_0.json").read_bytes())
    (file,) = discover(lying).files
    assert sniff(file).format is ExportFormat.EXTENDED


@pytest.mark.parametrize("name", ["Userdata.json", "Playlist1.json"])
def test_other_json_files_are_unknown_with_a_reason(name: str) -> None:
    (file,) = discover(EXPORT_FIXTURES / name).files
    sniffed = sniff(file)
    assert sniffed.format is None
    assert "object" in sniffed.problem or "not streaming history" in sniffed.problem


def test_account_music_fields_and_malformed_records_named_by_index() -> None:
    out = _records(EXPORT_FIXTURES / "StreamingHistory_music_0.json")
    first = out[0]
    assert first.ended_at == datetime(2024, 3, 1, 8, 15, tzinfo=UTC)
    assert (first.artist_name, first.track_name, first.ms_played) == (
        "Beyoncé",
        "Drunk in Love (feat. JAY-Z)",
        323480,
    )
    assert first.precision == "minute" and first.kind is RecordKind.MUSIC and first.track_id is None
    assert out[1].ms_played == 0 and out[1].too_short
    bad = [r for r in out if isinstance(r, MalformedRecord)]
    assert [(b.index, "endTime" in b.reason or "trackName" in b.reason) for b in bad] == [
        (4, True),
        (5, True),
    ]
    assert all(b.source.endswith("StreamingHistory_music_0.json") for b in bad)


def test_endsong_variants_ms_offline_timestamp_empty_reasons_no_ip() -> None:
    out = _records(EXPORT_FIXTURES / "endsong_0.json")
    dancing = out[0]
    assert dancing.track_id == "0GjEhVFGZW8afUYGChu3Rr" and dancing.platform == "iOS 14.7.1 (iPhone10,3)"
    assert dancing.reason_end is None and dancing.skipped is None  # "" -> NULL; skipped null in old data
    # offline_timestamp 1632252924000 is milliseconds: 19:35:24, 25 s before ts - ms_played (19:35:25).
    assert dancing.started_at == datetime(2021, 9, 21, 19, 35, 25, tzinfo=UTC)
    assert out[1].reason_end is None  # "unknown"
    assert out[1].started_at == datetime(
        2021, 9, 21, 19, 32, tzinfo=UTC
    )  # offline_timestamp 0: ts - ms_played
    assert out[2].kind is RecordKind.PODCAST and out[2].artist_name == "A Show"
    assert out[3].incognito is True
    assert isinstance(out[4], MalformedRecord) and "no track, episode or audiobook" in out[4].reason
    for rec in out[:4]:
        values = repr(rec)
        assert "198.51.100.7" not in values and "someone" not in values  # IP, username dropped


def test_extended_current_variants() -> None:
    out = _records(EXPORT_FIXTURES / "Streaming_History_Audio_2024_0.json")
    assert out[0].ended_at == datetime(2024, 3, 1, 8, 15, 12, tzinfo=UTC) and out[0].precision == "second"
    assert out[1].offline is True and out[1].started_at is not None  # offline_timestamp null
    assert out[2].kind is RecordKind.AUDIOBOOK and out[2].album_name == "A Book"
    assert isinstance(out[3], MalformedRecord) and "ms_played" in out[3].reason and out[3].index == 3
    assert out[4].too_short and out[4].skipped is True
    assert "192.0.2.1" not in repr(out)


def test_offline_timestamp_seconds_vs_milliseconds_give_the_same_start() -> None:
    base = {
        "ts": "2024-03-01T08:15:12Z",
        "ms_played": 100_000,
        "spotify_track_uri": "spotify:track:" + "a" * 22,
    }
    far = 1709280000  # 8:00:00, far (> 10 s) from ts - ms_played: trusted as the start
    secs = parse_record({**base, "offline_timestamp": far}, ExportFormat.EXTENDED, "f", 0)
    millis = parse_record({**base, "offline_timestamp": far * 1000}, ExportFormat.ENDSONG, "f", 1)
    assert secs.started_at == millis.started_at == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"ts": "2024-03-01 08:15:12"}, "ts"),
        ({"ms_played": -1}, "ms_played"),
        ({"ms_played": True}, "ms_played"),
        ({"spotify_track_uri": "spotify:track:short"}, "spotify_track_uri"),
        ({"shuffle": "yes"}, "shuffle"),
        ({"offline_timestamp": "soon"}, "offline_timestamp"),
    ],
)
def test_odd_fields_are_malformed_with_the_field_named(change: dict, words: str) -> None:
    raw = {
        "ts": "2024-03-01T08:15:12Z",
        "ms_played": 1,
        "spotify_track_uri": "spotify:track:" + "a" * 22,
        **change,
    }
    with pytest.raises(MalformedRecord) as err:
        parse_record(raw, ExportFormat.EXTENDED, "file.json", 7)
    assert words in str(err.value) and "file.json record 7" in str(err.value)


def test_local_file_uri_is_a_play_without_id() -> None:
    raw = {"ts": "2024-03-01T08:15:12Z", "ms_played": 90_000, "spotify_track_uri": "spotify:local:A:B:Song:200",
           "master_metadata_track_name": "Song", "master_metadata_album_artist_name": "A"}  # fmt: skip
    rec = parse_record(raw, ExportFormat.EXTENDED, "f", 0)
    assert rec.track_id is None and rec.track_name == "Song"


def test_real_samples_parse_completely() -> None:
    ext = _records(REAL / "extended-streaming-history" / "Streaming_History_Audio_2026.json")
    assert len(ext) == 200 and not any(isinstance(r, MalformedRecord) for r in ext)
    assert sum(r.kind is RecordKind.PODCAST for r in ext) == 15
    music = _records(REAL / "account-data" / "StreamingHistory_music_0.json")
    assert len(music) == 200 and all(r.kind is RecordKind.MUSIC for r in music)
    pods = _records(REAL / "account-data" / "StreamingHistory_podcast_0.json")
    books = _records(REAL / "account-data" / "StreamingHistory_audiobook_0.json")
    assert {r.kind for r in pods} == {RecordKind.PODCAST} and {r.kind for r in books} == {
        RecordKind.AUDIOBOOK
    }


def test_detect_format_without_keys_uses_the_name() -> None:
    assert detect_format(None, "x/StreamingHistory_podcast_3.json") is ExportFormat.ACCOUNT_PODCAST
    assert detect_format({"foo": 1}, "x/StreamingHistory_music_0.json") is None


@pytest.mark.parametrize(
    ("fmt", "raw", "field", "value"),
    [
        (ExportFormat.EXTENDED, {"ts": "2024-03-01T24:00:00Z", "ms_played": 1, "master_metadata_track_name": "x"}, "ts", "2024-03-01T24:00:00Z"),
        (ExportFormat.EXTENDED, {"ts": "2024-02-30T10:00:00Z", "ms_played": 1, "master_metadata_track_name": "x"}, "ts", "2024-02-30T10:00:00Z"),
        (ExportFormat.ACCOUNT_MUSIC, {"endTime": "2024-03-01 24:00", "msPlayed": 1, "artistName": "a", "trackName": "x"}, "endTime", "2024-03-01 24:00"),
    ],
)  # fmt: skip
def test_an_impossible_time_is_malformed_with_the_parsers_reason(
    fmt: ExportFormat, raw: dict, field: str, value: str
) -> None:
    # The C parser reads the times that fit the shape; one it refuses (or a "24:00", which newer
    # Pythons would read as the next midnight) keeps the reason the field-by-field parse gives.
    with pytest.raises(MalformedRecord, match=f"{field} '{value}' is not a valid time: "):
        parse_record(raw, fmt, "f.json", 3)
    good = dict(raw, **{field: value.replace("24:00", "23:00").replace("02-30", "02-28")})
    assert parse_record(good, fmt, "f.json", 3).ended_at.tzinfo is not None
