"""Privacy exports written from ground truth, compared with real export samples."""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from spotify_pipeline.simulator.catalog import Catalog
from spotify_pipeline.simulator.export import write_account_export, write_extended_export
from spotify_pipeline.simulator.model import ListeningModel, TruePlay

PRIVACY = Path(__file__).resolve().parents[1] / "fixtures" / "spotify" / "privacy"
SINCE = datetime(2025, 12, 20, tzinfo=UTC)  # spans a new year: file names carry two years
EXTENDED_NAME = re.compile(r"^Streaming_History_Audio_(\d{4})(?:-(\d{4}))?_(\d+)\.json$")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
END_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def type_names(records: list[dict[str, Any]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in records:
        for k, v in r.items():
            out.setdefault(k, set()).add(type(v).__name__)
    return out


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog(seed=9, n_artists=100)


@pytest.fixture(scope="module")
def plays(cat: Catalog) -> list[TruePlay]:
    model = ListeningModel(cat, 9)
    model.add_user("ana", "typical", SINCE)
    return model.plays("ana", SINCE, SINCE + timedelta(days=25))


@pytest.fixture(scope="module")
def extended(plays: list[TruePlay], cat: Catalog, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_extended_export(iter(plays), cat, tmp_path_factory.mktemp("ext"), records_per_file=300)


def test_extended_records_have_the_real_keys_and_types(extended: list[Path]) -> None:
    real = load(PRIVACY / "extended-streaming-history" / "Streaming_History_Audio_2026.json")
    ours = [r for p in extended for r in load(p)]
    assert {tuple(r) for r in ours} == {tuple(real[0])}, "keys or key order differ from the real file"
    real_music = type_names([r for r in real if r["spotify_track_uri"]])
    real_episode = type_names([r for r in real if r["spotify_episode_uri"]])
    assert type_names([r for r in ours if r["spotify_track_uri"]]) == real_music
    assert type_names([r for r in ours if r["spotify_episode_uri"]]) == real_episode
    books = [r for r in ours if r["audiobook_uri"]]
    assert books and all(
        r["spotify_track_uri"] is None and r["spotify_episode_uri"] is None and r["audiobook_chapter_uri"]
        for r in books
    )


def test_extended_holds_every_play_with_true_values(plays: list[TruePlay], extended: list[Path]) -> None:
    ours = [r for p in extended for r in load(p)]
    assert len(ours) == len(plays)
    assert any(r["incognito_mode"] for r in ours) and any(r["ms_played"] < 30_000 for r in ours)
    by_key = {(r["ts"], r["ms_played"]): r for r in ours}
    for play in plays:
        rec = by_key[(play.ended_at.strftime("%Y-%m-%dT%H:%M:%SZ"), play.ms_played)]
        assert TS.match(rec["ts"])
        assert rec["offline_timestamp"] == int(play.started_at.timestamp()) < 10**11  # seconds, not ms
        assert rec["incognito_mode"] == play.private_session and rec["skipped"] == play.skipped
        assert rec["reason_start"] == play.reason_start and rec["reason_end"] == play.reason_end
        if play.track_id:
            assert rec["spotify_track_uri"] == f"spotify:track:{play.track_id}"
        assert ipaddress.ip_address(rec["ip_addr"]) in ipaddress.ip_network("192.0.2.0/24")


def test_extended_files_are_named_split_and_nearly_sorted(
    plays: list[TruePlay], extended: list[Path]
) -> None:
    assert len(extended) == -(-len(plays) // 300)
    spans = set()
    for n, path in enumerate(extended):
        m = EXTENDED_NAME.match(path.name)
        assert m and int(m.group(3)) == n, path.name
        records = load(path)
        assert 0 < len(records) <= 300
        years = sorted({r["ts"][:4] for r in records})
        assert (m.group(1), m.group(2) or m.group(1)) == (years[0], years[-1])
        spans.add(bool(m.group(2)))
    assert spans == {True, False}, "expected one file spanning the new year and others within one year"
    ts = [r["ts"] for p in extended for r in load(p)]
    inversions = sum(a > b for a, b in zip(ts, ts[1:], strict=False))
    assert 1 <= inversions <= len(ts) // 50
    assert not list(extended[0].parent.glob("*.partial"))


def test_extended_username_only_when_asked(plays: list[TruePlay], cat: Catalog, tmp_path: Path) -> None:
    [path] = write_extended_export(plays[:20], cat, tmp_path, username="ana_listens")
    records = load(path)
    assert all(list(r)[:2] == ["ts", "username"] and r["username"] == "ana_listens" for r in records)


def test_account_export_matches_real_samples(plays: list[TruePlay], cat: Catalog, tmp_path: Path) -> None:
    paths = write_account_export(plays, cat, tmp_path, records_per_file=250)
    by_series: dict[str, list[Path]] = {}
    for p in paths:
        m = re.match(r"^StreamingHistory_(music|podcast|audiobook)_(\d+)\.json$", p.name)
        assert m, p.name
        by_series.setdefault(m.group(1), []).append(p)
        assert int(m.group(2)) == len(by_series[m.group(1)]) - 1
    assert set(by_series) == {"music", "podcast", "audiobook"}
    kinds = Counter(p.kind for p in plays)
    for series, files in by_series.items():
        real = load(PRIVACY / "account-data" / f"StreamingHistory_{series}_0.json")
        records = [r for f in files for r in load(f)]
        assert len(records) == kinds[series]
        assert all(len(load(f)) <= 250 for f in files)
        assert type_names(records) == type_names(real), series
        assert {tuple(r) for r in records} == {tuple(real[0])}
        assert all(END_TIME.match(r["endTime"]) for r in records)
        assert [r["endTime"] for r in records] == sorted(r["endTime"] for r in records)
    first_music = next(p for p in plays if p.kind == "music")
    rec = load(by_series["music"][0])[0]
    assert rec["endTime"] == first_music.ended_at.strftime("%Y-%m-%d %H:%M")
    assert rec["trackName"] == cat.tracks[first_music.track_id or ""].name
    # Spotify's own pretty-printing: `"key" : value`.
    assert '"endTime" : "' in by_series["music"][0].read_text(encoding="utf-8")


def test_exports_stream_file_by_file(plays: list[TruePlay], cat: Catalog, tmp_path: Path) -> None:
    seen = []

    def feed() -> Iterator[TruePlay]:
        for i, p in enumerate(plays[:120]):
            if i == 60:
                # Two full files of 25 are on disk before the input is half read.
                seen.append(sorted(x.name for x in tmp_path.glob("*.json")))
            yield p

    write_extended_export(feed(), cat, tmp_path, records_per_file=25)
    assert len(seen[0]) == 2


def test_unsorted_input_is_refused(plays: list[TruePlay], cat: Catalog, tmp_path: Path) -> None:
    shuffled = [plays[1], plays[0]]
    with pytest.raises(ValueError, match="sorted by ended_at"):
        write_account_export(shuffled, cat, tmp_path)
    with pytest.raises(ValueError, match="records_per_file"):
        write_extended_export(plays, cat, tmp_path, records_per_file=0)
