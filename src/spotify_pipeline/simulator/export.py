"""Write ground-truth plays as Spotify privacy exports, in both current formats (spotify-api.md §6).

- Extended streaming history: ``Streaming_History_Audio_<YYYY>[-<YYYY>]_<N>.json``, every play
  (private-session and short ones included, podcasts and audiobooks with the track fields null),
  ``ts`` = end of the stream at second precision, ``offline_timestamp`` = its start in Unix seconds.
  Records are nearly sorted, with a few adjacent inversions, as in real files.
- Account data: ``StreamingHistory_music_N.json`` / ``_podcast_N`` / ``_audiobook_N``, names only,
  ``endTime`` at minute precision, sorted ascending.

Both writers stream: they hold at most one file's worth of records per output series, so an
export of hundreds of thousands of plays never sits in memory whole. Each file is written under a
temporary name and renamed when complete, so a crash never leaves a truncated file that looks done.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from spotify_pipeline.simulator.catalog import Catalog
from spotify_pipeline.simulator.ids import stable_fraction, stable_seed
from spotify_pipeline.simulator.model import TruePlay

RECORDS_PER_FILE = 10_000
INVERSION_RATE = 1 / 250  # real 2024/2026 files: about 9 inversions in ~2,300 records

Record = dict[str, Any]


class _ChunkedJsonWriter:
    """Collects records and writes them as JSON arrays of at most ``per_file`` records per file."""

    def __init__(
        self,
        folder: Path,
        name_for: Callable[[int, list[Record]], str],
        per_file: int,
        separators: tuple[str, str],
        before_write: Callable[[list[Record]], None] | None = None,
    ) -> None:
        self.folder = folder
        self.name_for = name_for
        self.per_file = per_file
        self.separators = separators
        self.before_write = before_write
        self.buffer: list[Record] = []
        self.paths: list[Path] = []

    def add(self, record: Record) -> None:
        self.buffer.append(record)
        if len(self.buffer) >= self.per_file:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        if self.before_write is not None:
            self.before_write(self.buffer)
        path = self.folder / self.name_for(len(self.paths), self.buffer)
        partial = path.with_name(path.name + ".partial")
        with partial.open("w", encoding="utf-8") as fh:
            json.dump(self.buffer, fh, ensure_ascii=False, indent=2, separators=self.separators)
        os.replace(partial, path)
        self.paths.append(path)
        self.buffer = []


def _check_args(folder: Path, records_per_file: int) -> None:
    if records_per_file < 1:
        raise ValueError(f"records_per_file must be at least 1, got {records_per_file}")
    folder.mkdir(parents=True, exist_ok=True)


def _in_order(plays: Iterable[TruePlay], writer: str) -> Iterable[TruePlay]:
    """Pass plays through, failing on the first one out of ``ended_at`` order.

    Streaming means we cannot sort, and an unsorted account export would be wrong silently.
    """
    last: datetime | None = None
    for play in plays:
        if last is not None and play.ended_at < last:
            raise ValueError(
                f"{writer} needs plays sorted by ended_at (as ListeningModel.plays returns them); "
                f"user {play.user_id!r}'s play ending {play.ended_at.isoformat()} came after one ending "
                f"{last.isoformat()}"
            )
        last = play.ended_at
        yield play


def _ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ip_addr(play: TruePlay) -> str:
    # RFC 5737 documentation range only: never an address that could belong to someone.
    return f"192.0.2.{1 + stable_seed('ip', play.user_id, play.platform) % 254}"


def extended_record(play: TruePlay, catalog: Catalog, username: str | None = None) -> Record:
    """One record of the current extended streaming history format, keys in Spotify's order."""
    track = catalog.tracks[play.track_id] if play.track_id else None
    episode = catalog.episodes[play.episode_id] if play.episode_id else None
    chapter = catalog.chapters[play.chapter_id] if play.chapter_id else None
    book = catalog.audiobooks[chapter.audiobook_id] if chapter else None
    rec: Record = {"ts": _ts(play.ended_at)}
    if username is not None:
        rec["username"] = username  # only some 2023 exports carry it; 2024-2026 files do not
    rec.update(
        {
            "platform": play.platform,
            "ms_played": play.ms_played,
            "conn_country": play.country,
            "ip_addr": _ip_addr(play),
            "master_metadata_track_name": track.name if track else None,
            "master_metadata_album_artist_name": catalog.artists[track.artist_ids[0]].name if track else None,
            "master_metadata_album_album_name": catalog.albums[track.album_id].name if track else None,
            "spotify_track_uri": f"spotify:track:{track.id}" if track else None,
            "episode_name": episode.name if episode else None,
            "episode_show_name": catalog.shows[episode.show_id].name if episode else None,
            "spotify_episode_uri": f"spotify:episode:{episode.id}" if episode else None,
            "audiobook_title": book.title if book else None,
            "audiobook_uri": f"spotify:audiobook:{book.id}" if book else None,
            "audiobook_chapter_uri": f"spotify:chapter:{chapter.id}" if chapter else None,
            "audiobook_chapter_title": chapter.title if chapter else None,
            "reason_start": play.reason_start,
            "reason_end": play.reason_end,
            "shuffle": play.shuffle,
            "skipped": play.skipped,
            "offline": play.offline,
            # "offline" by name, but it is the start of the stream for online plays too (§6.3).
            "offline_timestamp": int(play.started_at.timestamp()),
            "incognito_mode": play.private_session,
        }
    )
    return rec


def _extended_name(n: int, records: list[Record]) -> str:
    years = sorted({r["ts"][:4] for r in records})
    span = years[0] if years[0] == years[-1] else f"{years[0]}-{years[-1]}"
    return f"Streaming_History_Audio_{span}_{n}.json"


def _add_inversions(records: list[Record]) -> None:
    """Swap a few neighbours, as real exports list some plays out of order."""
    for i in range(1, len(records)):
        rec = records[i]
        if stable_fraction("inversion", rec["ts"], rec["ms_played"], rec["ip_addr"]) < INVERSION_RATE:
            records[i - 1], records[i] = rec, records[i - 1]


def write_extended_export(
    plays: Iterable[TruePlay],
    catalog: Catalog,
    folder: Path,
    *,
    username: str | None = None,
    records_per_file: int = RECORDS_PER_FILE,
) -> list[Path]:
    """Write every play as extended streaming history files; returns the files in order.

    ``plays`` must be sorted by ``ended_at`` (a generator is fine: it is read once).
    """
    folder = Path(folder)
    _check_args(folder, records_per_file)
    writer = _ChunkedJsonWriter(folder, _extended_name, records_per_file, (",", ": "), _add_inversions)
    for play in _in_order(plays, "write_extended_export"):
        writer.add(extended_record(play, catalog, username))
    writer.flush()
    return writer.paths


def _account_name(series: str) -> Callable[[int, list[Record]], str]:
    def name(n: int, _records: list[Record]) -> str:
        return f"StreamingHistory_{series}_{n}.json"

    return name


def account_record(play: TruePlay, catalog: Catalog) -> tuple[str, Record]:
    """(series, record) of the account-data format: series is music, podcast or audiobook."""
    end_time = play.ended_at.strftime("%Y-%m-%d %H:%M")
    if play.track_id:
        track = catalog.tracks[play.track_id]
        return "music", {
            "endTime": end_time,
            "artistName": catalog.artists[track.artist_ids[0]].name,
            "trackName": track.name,
            "msPlayed": play.ms_played,
        }
    if play.episode_id:
        episode = catalog.episodes[play.episode_id]
        return "podcast", {
            "endTime": end_time,
            "podcastName": catalog.shows[episode.show_id].name,
            "episodeName": episode.name,
            "msPlayed": play.ms_played,
        }
    if play.chapter_id:
        chapter = catalog.chapters[play.chapter_id]
        book = catalog.audiobooks[chapter.audiobook_id]
        return "audiobook", {
            "endTime": end_time,
            "audiobookName": book.title,
            "chapterName": chapter.title,
            "authorName": book.author,
            "msPlayed": play.ms_played,
        }
    raise ValueError(
        f"play of user {play.user_id!r} ending {play.ended_at.isoformat()} has no track, episode or chapter id"
    )


def write_account_export(
    plays: Iterable[TruePlay],
    catalog: Catalog,
    folder: Path,
    *,
    records_per_file: int = RECORDS_PER_FILE,
) -> list[Path]:
    """Write plays as account-data files (music, podcast, audiobook series); returns the files written.

    A series with no plays gets no file. ``plays`` must be sorted by ``ended_at``.
    """
    folder = Path(folder)
    _check_args(folder, records_per_file)
    writers = {
        series: _ChunkedJsonWriter(
            folder,
            _account_name(series),
            records_per_file,
            # Spotify pretty-prints these files as `"key" : value`.
            (",", " : "),
        )
        for series in ("music", "podcast", "audiobook")
    }
    for play in _in_order(plays, "write_account_export"):
        series, record = account_record(play, catalog)
        writers[series].add(record)
    paths: list[Path] = []
    for writer in writers.values():
        writer.flush()
        paths.extend(writer.paths)
    return paths
