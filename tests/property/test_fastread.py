"""The fast reader (msgspec, whole file) and the exact streaming reader agree on any input.

``FileReader`` decodes a file whole when ``fastread.decode_fast`` vouches for it and streams it
otherwise; ``FileReader._stream`` is the exact path alone. On arbitrary records, bad values and
damaged bytes, both must give the same records, the same malformed indexes and reasons, and the same
file problem: a good file is fast, a bad one reported exactly as before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spotify_pipeline.errors import MalformedRecord
from spotify_pipeline.exports import fastread
from spotify_pipeline.exports.formats import ExportFormat
from spotify_pipeline.exports.reader import FileReader, discover

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


def _both(path: Path, fmt: ExportFormat) -> tuple[list[Any], list[Any]]:
    (file,) = discover(path).files
    fast = FileReader(file, fmt)
    exact = FileReader(file, fmt)
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
