"""Legacy StreamingHistoryN.json mixes podcasts with music under artistName/trackName. A row is
called a podcast only on evidence (the same show and episode names in a podcast record of the same
import); the rest stay plays, and the report says how many of those nothing identifies as music."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from spotify_pipeline.exports.report import render_report_table
from spotify_pipeline.jobs.import_history import import_history
from spotify_pipeline.settings import Settings
from spotify_pipeline.warehouse import schema as s

from .import_checks import assert_adds_up

EPISODE = {
    "ts": "2021-05-02T18:00:00Z", "platform": "android", "ms_played": 1_400_000, "conn_country": "SE",
    "master_metadata_track_name": None, "master_metadata_album_artist_name": None,
    "master_metadata_album_album_name": None, "spotify_track_uri": None, "episode_name": "A Big Week",
    "episode_show_name": "The Daily", "spotify_episode_uri": "spotify:episode:4rOoJ6Egrf8K2IrywzwOMk",
    "reason_start": "clickrow", "reason_end": "endplay", "shuffle": False, "skipped": None, "offline": False,
    "offline_timestamp": 0, "incognito_mode": False,
}  # fmt: skip
LEGACY = [
    {"endTime": "2021-05-02 19:00", "artistName": "Daft Punk", "trackName": "Digital Love", "msPlayed": 301000},
    {"endTime": "2021-05-02 19:40", "artistName": "The Daily", "trackName": "A Big Week", "msPlayed": 1500000},
    {"endTime": "2021-05-03 07:10", "artistName": "Serial", "trackName": "The Alibi", "msPlayed": 2400000},
]  # fmt: skip


def _write(folder: Path) -> Path:
    folder.mkdir()
    (folder / "StreamingHistory0.json").write_text(json.dumps(LEGACY))
    (folder / "Streaming_History_Podcast_2021.json").write_text(json.dumps([EPISODE]))
    return folder


def test_legacy_rows_named_like_a_known_episode_are_podcasts(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    report = import_history(settings, _write(tmp_path / "export"), engine=engine)
    assert_adds_up(report)
    # The extended episode, and the legacy row with its show and episode names.
    assert report.podcasts_audiobooks == 2 and report.legacy_podcasts == 1
    # Digital Love and The Alibi are kept; neither has a track id, so neither is known to be music.
    assert report.imported == 2 and report.legacy_unclassified == 2
    with engine.connect() as conn:
        names = sorted(conn.execute(select(s.plays.c.track_name)).scalars())
    assert names == ["Digital Love", "The Alibi"]
    assert report.to_dict()["legacy_unclassified"] == 2
    assert any("kept as plays without a track id" in str(cell) for col in render_report_table(report).columns
               for cell in col._cells)  # fmt: skip


def test_legacy_rows_resolved_to_a_track_are_not_unclassified(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    def resolver(track: str, artist: str) -> str | None:
        return "0dEIca2nhcxDUV8C5QkPYb" if track == "Digital Love" else None

    report = import_history(settings, _write(tmp_path / "export"), engine=engine, resolver=resolver)
    assert_adds_up(report)
    assert report.account_resolved_by_search == 1 and report.legacy_unclassified == 1
    again = import_history(settings, tmp_path / "export", engine=engine, resolver=resolver)
    assert again.imported_new == 0 and again.legacy_unclassified == 1  # counted again, from the rows
