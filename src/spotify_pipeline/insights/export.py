"""``export plays``: write every play of a scope as CSV, JSON Lines, Parquet or ListenBrainz listens.

The file is written incrementally to ``<out>.partial`` and renamed over ``out`` only when complete,
so an interrupted export never leaves a truncated file under the requested name. An existing
``out`` is refused unless ``force``.

ListenBrainz: one listen per line (JSON Lines), each ``{"listened_at", "track_metadata"}`` as in
ListenBrainz's own listen exports and its ``submit-listens`` payloads (a client posts them in
batches with ``listen_type: "import"``). ``listened_at`` is when the play *started*, in Unix
seconds: Spotify stores the end, so the start is the export's ``started_at`` where known, else the
end minus the milliseconds played (or the track's length).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, Literal

from sqlalchemy.engine import Engine

from .period import InsightsError
from .playlog import COLUMNS, PlayRow, count_plays, iter_plays
from .queries import Scope
from .stats import check_user

Format = Literal["csv", "jsonl", "parquet", "listenbrainz"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl", "parquet", "listenbrainz")
Progress = Callable[[int, "int | None", "str | None"], None]
SPOTIFY_OPEN = "https://open.spotify.com"
PARQUET_BATCH = 10_000


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    plays: int  # rows written
    skipped: int  # plays a format cannot hold (ListenBrainz: no artist or track name)

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "format": self.format, "plays": self.plays, "skipped": self.skipped}


def export_plays(
    engine: Engine, scope: Scope, fmt: str, out: Path, *, force: bool = False,
    progress: Progress | None = None,
) -> ExportResult:  # fmt: skip
    """Write the scope's plays to ``out`` in ``fmt``; see the module docstring."""
    if fmt not in FORMATS:
        raise InsightsError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    if out.exists() and not force:
        raise InsightsError(f"{out} exists: choose another --out or pass --force to replace it")
    writer = {"csv": _csv, "jsonl": _jsonl, "parquet": _parquet, "listenbrainz": _listenbrainz}[fmt]
    if fmt == "parquet":
        _pyarrow()  # fail before touching the database or the file system

    check_user(engine, scope.user_id)
    partial = out.with_name(out.name + ".partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with engine.connect() as conn:
            total = count_plays(conn, scope) if progress else None
            rows = _counted(iter_plays(conn, scope), progress, total)
            written, skipped = writer(rows, partial)
        os.replace(partial, out)
    except OSError as exc:  # a full disk, a folder we may not write: one line, no half file
        raise InsightsError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return ExportResult(out, fmt, written, skipped)


def _counted(rows: Iterator[PlayRow], progress: Progress | None, total: int | None) -> Iterator[PlayRow]:
    n = 0
    for row in rows:
        yield row
        n += 1
        if progress and n % 5_000 == 0:
            progress(n, total, "exporting plays")
    if progress:
        progress(n, total, "exporting plays")


def _open(path: Path) -> IO[str]:
    return path.open("w", encoding="utf-8", newline="")


def _csv(rows: Iterator[PlayRow], path: Path) -> tuple[int, int]:
    n = 0
    with _open(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for row in rows:
            d = row.as_dict()
            # Several artists in one cell, in credit order; names rarely hold "; ".
            d["artists"] = "; ".join(row.artists)
            d["artist_ids"] = ";".join(row.artist_ids)
            writer.writerow(["" if d[c] is None else d[c] for c in COLUMNS])
            n += 1
    return n, 0


def _jsonl(rows: Iterator[PlayRow], path: Path) -> tuple[int, int]:
    n = 0
    with _open(path) as fh:
        for row in rows:
            fh.write(json.dumps(row.as_dict(), ensure_ascii=False) + "\n")
            n += 1
    return n, 0


def listen(row: PlayRow) -> dict[str, Any] | None:
    """The ListenBrainz listen of a play, None when it has no artist or track name."""
    artist = ", ".join(row.artists)
    if not artist or not row.track_name:
        return None
    length = row.ms_played if row.ms_played is not None else row.duration_ms
    started = row.started_at or (row.played_at - timedelta(milliseconds=length or 0))
    info: dict[str, Any] = {
        "media_player": "Spotify",
        "music_service": "spotify.com",
        "submission_client": "spotify-pipeline",
    }
    if row.track_id:
        info["spotify_id"] = f"{SPOTIFY_OPEN}/track/{row.track_id}"
        info["origin_url"] = info["spotify_id"]
    if row.duration_ms is not None:
        info["duration_ms"] = row.duration_ms
    if row.album_id:
        info["spotify_album_id"] = f"{SPOTIFY_OPEN}/album/{row.album_id}"
    if row.artist_ids:
        info["spotify_artist_ids"] = [f"{SPOTIFY_OPEN}/artist/{a}" for a in row.artist_ids]
        info["artist_names"] = list(row.artists)
    metadata: dict[str, Any] = {"artist_name": artist, "track_name": row.track_name}
    if row.album_name:
        metadata["release_name"] = row.album_name
    metadata["additional_info"] = info
    return {"listened_at": int(started.timestamp()), "track_metadata": metadata}


def _listenbrainz(rows: Iterator[PlayRow], path: Path) -> tuple[int, int]:
    n = skipped = 0
    with _open(path) as fh:
        for row in rows:
            item = listen(row)
            if item is None:
                skipped += 1
                continue
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
            n += 1
    return n, skipped


def _pyarrow() -> Any:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise InsightsError(
            "--format parquet needs pyarrow: pip install 'spotify-pipeline[parquet]'"
        ) from None
    return pyarrow


def _parquet(rows: Iterator[PlayRow], path: Path) -> tuple[int, int]:
    pa = _pyarrow()
    import pyarrow.parquet as pq

    text, ts = pa.string(), pa.timestamp("ms", tz="UTC")
    schema = pa.schema([
        ("user", text), ("played_at", ts), ("started_at", ts), ("track_id", text), ("track_name", text),
        ("artist_ids", pa.list_(text)), ("artists", pa.list_(text)), ("album_id", text),
        ("album_name", text), ("duration_ms", pa.int64()), ("ms_played", pa.int64()), ("source", text),
        ("context_uri", text), ("platform", text), ("skipped", pa.bool_()),
    ])  # fmt: skip
    n = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        batch: list[PlayRow] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= PARQUET_BATCH:
                writer.write_table(_table(pa, schema, batch))
                n += len(batch)
                batch = []
        if batch or n == 0:
            writer.write_table(_table(pa, schema, batch))
            n += len(batch)
    return n, 0


def _table(pa: Any, schema: Any, batch: list[PlayRow]) -> Any:
    columns = {name: [getattr(r, name) for r in batch] for name in schema.names}
    columns["artist_ids"] = [list(v) for v in columns["artist_ids"]]
    columns["artists"] = [list(v) for v in columns["artists"]]
    return pa.table(columns, schema=schema)
