"""The warehouse tables (SQLAlchemy Core, one MetaData). Migrations create exactly these; a test
compares the migrated database with this module on SQLite and MariaDB.

Choices that hold on both engines:
- Times are ``UtcDateTime``: aware UTC in Python, naive UTC ``DATETIME(3)`` in MySQL.
- MySQL tables use utf8mb4 with the binary collation: Spotify ids are case-sensitive base62, so
  under a ``_ci`` collation two different artists could collide on one primary key.
- No foreign keys: MySQL's ``INSERT IGNORE`` turns a foreign-key violation into a silently skipped
  row, and a lost play is the one failure this system must not have. Writes keep references whole.
- Raw keys can be long (S3 prefixes, user partitions); the manifest's primary key is the SHA-256 of
  the key so the index stays small whatever the key's length.
- Names and other free text Spotify sets no limit on are ``LongText`` (MEDIUMTEXT on MySQL); ids,
  codes and URIs are bounded VARCHARs. The transform refuses, naming the field, a value longer than
  its column (``transform/fields.py`` holds the limits used here), and ``upsert.check_rows`` checks
  every row again, so no engine truncates anything (0004).
- Milliseconds and follower counts are BIGINT: MariaDB would clamp 3,000,000,000 to 2,147,483,647
  where SQLite keeps it. Both engines get the same range checks before a write (0004).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ..transform import fields as limits
from .types import LongText, UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}
MYSQL_OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}

ID = limits.ID  # Spotify ids are 22 characters; room for other id schemes (users, local ids)
URI = limits.URI
SHORT = limits.SHORT
KEY = 1024

metadata = MetaData(naming_convention=NAMING)

users = Table(
    "users",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
    **MYSQL_OPTIONS,
)

plays = Table(
    "plays",
    metadata,
    Column("user_id", String(ID), nullable=False),
    Column("played_at", UtcDateTime(), nullable=False),
    Column("track_id", String(ID)),
    Column("track_name", LongText()),
    Column("artist_name", LongText()),
    Column("album_name", LongText()),
    Column("context_type", String(SHORT)),
    Column("context_uri", String(URI)),
    Column("source", String(8), nullable=False),
    Column("ms_played", BigInteger),
    Column("reason_start", String(64)),
    Column("reason_end", String(64)),
    Column("shuffle", Boolean),
    Column("skipped", Boolean),
    Column("offline", Boolean),
    Column("incognito", Boolean),
    Column("platform", String(URI)),
    Column("country", String(8)),
    Column("raw_key", String(KEY)),
    Column("import_id", Integer),
    Column("loaded_at", UtcDateTime(), nullable=False),
    # On an API play: the import run whose export record was matched to it (0002).
    Column("matched_import_id", Integer),
    # Start of the stream, from an extended record; NULL for API-only plays and for account-data
    # rows (their played_at is only endTime's minute) (0002).
    Column("started_at", UtcDateTime()),
    PrimaryKeyConstraint("user_id", "played_at"),
    Index(None, "track_id"),
    # The read side (0005): a period's plays by time, all plays by track, from the index alone.
    Index(None, "user_id", "played_at", "track_id", "ms_played", "skipped"),
    Index(None, "user_id", "track_id", "played_at", "ms_played", "skipped"),
    **MYSQL_OPTIONS,
)

# A private-session play an extended import skipped, as a later account-data import must recognise
# it (account data has no private-session flag): the end (extended ``ts``) and a SHA-256 of the
# normalised artist + track names, never the names themselves (0003).
private_plays = Table(
    "private_plays",
    metadata,
    Column("user_id", String(ID), nullable=False),
    Column("ended_at", UtcDateTime(), nullable=False),
    Column("names_sha256", String(64), nullable=False),
    Column("import_id", Integer, nullable=False),  # the first import that listed it
    PrimaryKeyConstraint("user_id", "ended_at", "names_sha256"),
    **MYSQL_OPTIONS,
)

tracks = Table(
    "tracks",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", LongText(), nullable=False),
    Column("album_id", String(ID)),
    Column("duration_ms", BigInteger),
    Column("explicit", Boolean),
    Column("isrc", String(limits.ISRC)),
    Column("track_number", Integer),
    Column("disc_number", Integer),
    Column("popularity", Integer),
    Column("uri", String(URI)),
    Column("first_seen_at", UtcDateTime(), nullable=False),
    Index(None, "isrc"),
    Index(None, "album_id"),
    **MYSQL_OPTIONS,
)

albums = Table(
    "albums",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", LongText(), nullable=False),
    Column("album_type", String(SHORT)),
    Column("release_date", String(limits.RELEASE_DATE)),
    Column("release_date_precision", String(limits.PRECISION)),
    Column("total_tracks", Integer),
    Column("label", LongText()),
    Column("popularity", Integer),
    Column("uri", String(URI)),
    Column("fetched_at", UtcDateTime()),  # NULL: only the simplified object on a track seen so far
    **MYSQL_OPTIONS,
)

artists = Table(
    "artists",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", LongText(), nullable=False),
    Column("genres", LongText()),  # JSON list; NULL = unknown (Development Mode often omits it)
    Column("popularity", Integer),
    Column("followers", BigInteger),
    Column("uri", String(URI)),
    Column("fetched_at", UtcDateTime()),  # NULL: the full object was never fetched
    **MYSQL_OPTIONS,
)

track_artists = Table(
    "track_artists",
    metadata,
    Column("track_id", String(ID), nullable=False),
    Column("position", Integer, nullable=False),
    Column("artist_id", String(ID), nullable=False),
    PrimaryKeyConstraint("track_id", "position"),
    Index(None, "artist_id"),
    **MYSQL_OPTIONS,
)

album_artists = Table(
    "album_artists",
    metadata,
    Column("album_id", String(ID), nullable=False),
    Column("position", Integer, nullable=False),
    Column("artist_id", String(ID), nullable=False),
    PrimaryKeyConstraint("album_id", "position"),
    Index(None, "artist_id"),
    **MYSQL_OPTIONS,
)

AUDIO_FEATURE_FLOATS = (
    "danceability", "energy", "loudness", "speechiness", "acousticness",
    "instrumentalness", "liveness", "valence", "tempo",
)  # fmt: skip
AUDIO_FEATURE_INTS = ("key", "mode", "time_signature")

audio_features = Table(
    "audio_features",
    metadata,
    Column("track_id", String(ID), primary_key=True),
    *(Column(name, Double) for name in AUDIO_FEATURE_FLOATS),
    *(Column(name, Integer) for name in AUDIO_FEATURE_INTS),
    Column("duration_ms", BigInteger),
    Column("fetched_at", UtcDateTime(), nullable=False),
    **MYSQL_OPTIONS,
)

metadata_misses = Table(
    "metadata_misses",
    metadata,
    Column("kind", String(32), nullable=False),  # artist | album | track | audio_features
    Column("id", String(ID), nullable=False),
    Column("status", String(32), nullable=False),  # "404", "unavailable", ...
    Column("attempted_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("kind", "id"),
    **MYSQL_OPTIONS,
)

followed_artists = Table(
    "followed_artists",
    metadata,
    Column("user_id", String(ID), nullable=False),
    Column("artist_id", String(ID), nullable=False),
    Column("first_seen", UtcDateTime(), nullable=False),
    Column("last_seen", UtcDateTime(), nullable=False),
    Column("unfollowed_at", UtcDateTime()),  # NULL: the period is open (still followed)
    PrimaryKeyConstraint("user_id", "artist_id", "first_seen"),
    **MYSQL_OPTIONS,
)

landed_files = Table(
    "landed_files",
    metadata,
    Column("key_sha256", String(64), primary_key=True),
    Column("key", String(KEY), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("user_id", String(ID)),
    Column("etag", String(255)),
    Column("size", BigInteger),
    Column("status", String(16), nullable=False),  # loaded | quarantined
    Column("reason", Text),
    Column("rows_inserted", Integer),
    Column("loaded_at", UtcDateTime(), nullable=False),
    **MYSQL_OPTIONS,
)

gaps = Table(
    "gaps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(ID), nullable=False),
    Column("gap_from", UtcDateTime(), nullable=False),
    Column("gap_to", UtcDateTime(), nullable=False),
    Column("detected_at", UtcDateTime(), nullable=False),
    Column("raw_key", String(KEY)),
    Column("closed_at", UtcDateTime()),
    Column("closed_by", String(URI)),
    UniqueConstraint("user_id", "gap_from", "gap_to"),
    **MYSQL_OPTIONS,
)

fetch_runs = Table(
    "fetch_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(ID), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    Column("status", String(16), nullable=False),  # running | ok | paused | failed | skipped
    Column("api_calls", Integer),
    Column("items", Integer),
    Column("raw_key", String(KEY)),
    Column("message", Text),
    Index(None, "user_id", "kind", "started_at"),
    **MYSQL_OPTIONS,
)

import_runs = Table(
    "import_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(ID), nullable=False),
    Column("source", String(KEY), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    Column("status", String(16), nullable=False),
    Column("report", Text),  # JSON
    **MYSQL_OPTIONS,
)

app_state = Table(
    "app_state",
    metadata,
    Column("key", String(191), primary_key=True),
    Column("value", Text, nullable=False),  # JSON object
    Column("updated_at", UtcDateTime(), nullable=False),
    **MYSQL_OPTIONS,
)

# Recommendations (0006). Each artist-albums check the release job made, per user and artist: the
# job checks an artist at most once a week and reads the last check here (rebuilt from the raw zone).
release_checks = Table(
    "release_checks",
    metadata,
    Column("user_id", String(ID), nullable=False),
    Column("artist_id", String(ID), nullable=False),
    Column("first_checked_at", UtcDateTime(), nullable=False),
    Column("last_checked_at", UtcDateTime(), nullable=False),
    Column("last_status", Integer),  # HTTP status of the last check's answer (NULL: unknown)
    PrimaryKeyConstraint("user_id", "artist_id"),
    **MYSQL_OPTIONS,
)

# Every album or single a check listed for an artist of the user, with when it was first seen.
releases = Table(
    "releases",
    metadata,
    Column("user_id", String(ID), nullable=False),
    Column("album_id", String(ID), nullable=False),
    Column("artist_id", String(ID), nullable=False),
    Column("name", LongText(), nullable=False),
    Column("album_type", String(SHORT)),
    Column("release_date", String(limits.RELEASE_DATE)),
    Column("release_date_precision", String(limits.PRECISION)),
    Column("total_tracks", Integer),
    Column("first_seen_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("user_id", "album_id"),
    Index(None, "user_id", "first_seen_at"),
    **MYSQL_OPTIONS,
)

# The private playlist `recommend --to-playlist --apply` keeps for each list, updated in place.
recommendation_playlists = Table(
    "recommendation_playlists",
    metadata,
    Column("user_id", String(ID), nullable=False),
    Column("list_kind", String(SHORT), nullable=False),  # rediscover | similar | releases
    Column("name", LongText(), nullable=False),
    Column("playlist_id", String(ID), nullable=False),
    Column("snapshot_id", String(URI)),
    Column("track_count", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("user_id", "list_kind"),
    **MYSQL_OPTIONS,
)

# Rollups (0007): sums of ``plays`` kept by the jobs that write plays (``warehouse/rollups.py``), so a
# long period is read from thousands of rows instead of a million. Nothing here is a source of
# truth: ``rollups.refresh`` recomputes any row from ``plays`` and the catalogue at any time.
# Per user and UTC hour (hours since 1970-01-01 00:00 UTC): re-aggregates exactly to any zone whose
# offset is a whole number of hours, and to UTC days (coverage).
play_hours = Table(
    "play_hours",
    metadata,
    Column("user_id", String(ID), nullable=False),
    Column("hour", Integer, nullable=False),
    Column("plays", Integer, nullable=False),
    Column("ms", BigInteger, nullable=False),  # ms_played where known, else the track's duration, else 0
    Column("api_plays", Integer, nullable=False),
    Column("api_matched", Integer, nullable=False),  # API plays an export record was matched to
    PrimaryKeyConstraint("user_id", "hour"),
    sqlite_with_rowid=False,  # the primary key is the table, as on InnoDB
    **MYSQL_OPTIONS,
)

# Per user and track id, all of history: the totals of the plays with that id and the first play.
play_tracks = Table(
    "play_tracks",
    metadata,
    Column("user_id", String(ID), nullable=False),
    Column("track_id", String(ID), nullable=False),
    Column("plays", Integer, nullable=False),
    Column("ms_known", BigInteger, nullable=False),
    Column("plays_without_ms", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("skip_known", Integer, nullable=False),
    Column("first_played_at", UtcDateTime(), nullable=False),
    # The track's duration (0 when unknown) the ``play_hours.ms`` of its plays were summed with.
    Column("duration_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "track_id"),
    Index(None, "user_id", "first_played_at"),  # the tracks first played in a period (0008)
    sqlite_with_rowid=False,  # the primary key is the table, as on InnoDB
    **MYSQL_OPTIONS,
)

# Per user and exact (track, artist, album) names, all of history: the plays without a track id.
play_names = Table(
    "play_names",
    metadata,
    Column("user_id", String(ID), nullable=False),
    Column("names_sha256", String(64), nullable=False),  # of the three names as stored (JSON list)
    Column("track_name", LongText()),
    Column("artist_name", LongText()),
    Column("album_name", LongText()),
    Column("plays", Integer, nullable=False),
    Column("ms_known", BigInteger, nullable=False),
    Column("plays_without_ms", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("skip_known", Integer, nullable=False),
    Column("first_played_at", UtcDateTime(), nullable=False),
    # SHA-256 (hex) of the read side's keys of the names (0008, ``rollups.key_digests``):
    # "name:<artist>|<track>", "name:<artist>" (None when the artist normalises to nothing),
    # "name:<artist>|<album>" (None when the album does).
    Column("track_key", String(64)),
    Column("artist_key", String(64)),
    Column("album_key", String(64)),
    PrimaryKeyConstraint("user_id", "names_sha256"),
    Index(None, "user_id", "first_played_at"),  # the names first played in a period (0008)
    sqlite_with_rowid=False,  # the primary key is the table, as on InnoDB
    **MYSQL_OPTIONS,
)

# Per user, UTC calendar month (months since 1970-01) and track id: a long bounded period's top lists.
play_track_months = Table(
    "play_track_months",
    metadata,
    Column("user_id", String(ID), nullable=False),
    Column("month", Integer, nullable=False),
    Column("track_id", String(ID), nullable=False),
    Column("plays", Integer, nullable=False),
    Column("ms_known", BigInteger, nullable=False),
    Column("plays_without_ms", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("skip_known", Integer, nullable=False),
    PrimaryKeyConstraint("user_id", "month", "track_id"),
    sqlite_with_rowid=False,  # the primary key is the table, as on InnoDB
    **MYSQL_OPTIONS,
)
