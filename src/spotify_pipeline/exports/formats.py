"""The four privacy-export formats: recognise a file by its content, parse its records (pure).

Spotify's "Download your data" packages (spotify-api.md §6):

=================  =====================================  ===========================================
format             file name (usual)                      keys of a record
=================  =====================================  ===========================================
account_music      StreamingHistory_music_N.json          endTime, artistName, trackName, msPlayed
account_podcast    StreamingHistory_podcast_N.json        endTime, podcastName, episodeName, msPlayed
account_audiobook  StreamingHistory_audiobook_N.json      endTime, audiobookName, chapterName, ...
account_legacy     StreamingHistoryN.json                 as account_music (music and podcasts mixed)
extended           Streaming_History_Audio_*.json         ts, ms_played, spotify_track_uri, ...
endsong            endsong_N.json                         as extended, ip_addr_decrypted, username, ...
=================  =====================================  ===========================================

The format comes from the keys of the first record; the file name only breaks ties (legacy vs current
naming of the same shape) or names the format of a file whose first record is unreadable. A file that
is neither is *unknown*: reported, never guessed at.

What is dropped here, at parse time, so it never reaches a row: ``ip_addr``/``ip_addr_decrypted``,
``user_agent_decrypted`` and ``username`` (we know whose export it is).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import msgspec

from ..errors import MalformedRecord
from .limits import EARLIEST_PLAY, MAX_MS_PLAYED, MAX_TEXT_CHARS
from .shapes import AccountFields, ExtendedFields, Fields, from_dict


class ExportFormat(StrEnum):
    ACCOUNT_MUSIC = "account_music"
    ACCOUNT_PODCAST = "account_podcast"
    ACCOUNT_AUDIOBOOK = "account_audiobook"
    ACCOUNT_LEGACY = "account_legacy"
    EXTENDED = "extended"
    ENDSONG = "endsong"

    @property
    def is_account(self) -> bool:
        # A set lookup, not ``value.startswith``: asked several times per record on the import's hot path.
        return self in _ACCOUNT_FORMATS


_ACCOUNT_FORMATS = frozenset(f for f in ExportFormat if f.value.startswith("account_"))


class RecordKind(StrEnum):
    MUSIC = "music"
    PODCAST = "podcast"
    AUDIOBOOK = "audiobook"


#: Under this many milliseconds a stream is not a play (the API's own rule, spotify-api.md §2.1).
MIN_PLAY_MS = 30_000

# offline_timestamp is Unix milliseconds in endsong files and Unix seconds in current ones: a value
# above 1e11 (year 5138 in seconds, 1973 in milliseconds) can only be milliseconds.
_MS_THRESHOLD = 1e11
# How far the offline_timestamp may disagree with ts - ms_played before it is trusted as the start
# instead (kellnerd's ListenBrainz parser, spotify-api.md §6.3): unexpected exits log a late ts.
_START_OVERRIDE_S = 10.0
_START_OVERRIDE = timedelta(seconds=_START_OVERRIDE_S)
_ONE_MS, _ONE_S = timedelta(milliseconds=1), timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_EXTENDED_KEYS = frozenset({"ts", "ms_played"})
_EXTENDED_MARKERS = frozenset({"spotify_track_uri", "master_metadata_track_name", "spotify_episode_uri"})
_ENDSONG_MARKERS = frozenset({"ip_addr_decrypted", "user_agent_decrypted", "username"})
_ACCOUNT_BASE = frozenset({"endTime", "msPlayed"})

_NAME_PATTERNS: tuple[tuple[re.Pattern[str], ExportFormat], ...] = (
    (re.compile(r"^StreamingHistory_music_\d+\.json$"), ExportFormat.ACCOUNT_MUSIC),
    (re.compile(r"^StreamingHistory_podcast_\d+\.json$"), ExportFormat.ACCOUNT_PODCAST),
    (re.compile(r"^StreamingHistory_audiobook_\d+\.json$"), ExportFormat.ACCOUNT_AUDIOBOOK),
    (re.compile(r"^StreamingHistory\d+\.json$"), ExportFormat.ACCOUNT_LEGACY),
    (re.compile(r"^Streaming_History_(Audio|Video)_.*\.json$"), ExportFormat.EXTENDED),
    (re.compile(r"^endsong(_\d+)?\.json$"), ExportFormat.ENDSONG),
)

_TRACK_URI = re.compile(r"^spotify:track:([0-9A-Za-z]{22})$")
# [0-9], not \d: \d also matches other scripts' digits, which int() would then accept.
_ACCOUNT_TIME = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2})$")
_TS = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z$")
_SURROGATE = re.compile("[\ud800-\udfff]")
_TEXT_LIMITS = tuple(MAX_TEXT_CHARS.items())
# The same limits, one name each (``clean_extended``).
_TRACK_MAX, _ARTIST_MAX, _ALBUM_MAX, _PLATFORM_MAX, _COUNTRY_MAX, _REASON_START_MAX, _REASON_END_MAX = (
    MAX_TEXT_CHARS[name]
    for name in (
        "track_name",
        "artist_name",
        "album_name",
        "platform",
        "country",
        "reason_start",
        "reason_end",
    )
)
# A sanity bound when no clock is given (the parser is pure): far enough from year 9999 that no
# offset added to a time can overflow.
_LATEST_EVER = datetime(2200, 1, 1, tzinfo=UTC)
# reason values that say "no reason was recorded": stored as NULL so one missing value means one thing.
_NO_REASON = frozenset({"", "unknown"})


class EmptyRecord(MalformedRecord):
    """A record Spotify wrote with nothing saying what was played (no track, episode or audiobook
    metadata). Counted malformed like any record that is not a play, but it is Spotify's own data, not
    damage: it does not make the import partial."""


def format_from_name(name: str) -> ExportFormat | None:
    """The format a file's base name suggests, or None."""
    base = name.rsplit("/", 1)[-1]
    for pattern, fmt in _NAME_PATTERNS:
        if pattern.match(base):
            return fmt
    return None


def detect_format(first: Any, name: str) -> ExportFormat | None:
    """The format of a file from its first record's keys (content first, the name as a tie-break).

    Returns None when the content says "not a streaming history" and the name does not say otherwise.
    """
    by_name = format_from_name(name)
    if not isinstance(first, dict):
        return by_name
    keys = frozenset(first)
    if _EXTENDED_KEYS <= keys and keys & _EXTENDED_MARKERS:
        # Same record shape under both namings (2023 current-named files still carry username and
        # ip_addr_decrypted): the name decides the label when it is one of the two.
        if by_name in (ExportFormat.EXTENDED, ExportFormat.ENDSONG):
            return by_name
        if keys & _ENDSONG_MARKERS and "audiobook_uri" not in keys:
            return ExportFormat.ENDSONG
        return ExportFormat.EXTENDED
    if _ACCOUNT_BASE <= keys:
        if "podcastName" in keys:
            return ExportFormat.ACCOUNT_PODCAST
        if "audiobookName" in keys:
            return ExportFormat.ACCOUNT_AUDIOBOOK
        if "artistName" in keys or "trackName" in keys:
            # Same shape for both namings: only the name says whether podcasts are mixed in.
            return (
                ExportFormat.ACCOUNT_LEGACY
                if by_name is ExportFormat.ACCOUNT_LEGACY
                else ExportFormat.ACCOUNT_MUSIC
            )
    # A dict that looks like neither: content wins over the name, so this is not guessed at.
    return None


class ExportRecord(msgspec.Struct, frozen=True, gc=False):
    """One stream from an export, with only the fields worth keeping.

    ``ended_at`` is the end of the stream (``ts`` or ``endTime``), aware UTC, to the second
    (``precision == "second"``) or the minute (``"minute"``, account data). ``started_at`` is the
    best estimate of the start (extended formats only): ``ts - ms_played``, or ``offline_timestamp``
    where the two disagree by more than 10 s (spotify-api.md §6.3).

    A frozen msgspec Struct (equal and hashable by value, immutable, as a frozen dataclass): built
    in C, ten times faster than a frozen dataclass's ``__init__`` (one per record of an import).
    ``gc=False``: it holds only strings, numbers, datetimes and enums, so it can be in no cycle.
    """

    source: str
    index: int
    format: ExportFormat
    kind: RecordKind
    ended_at: datetime
    ms_played: int
    track_id: str | None = None
    track_name: str | None = None
    artist_name: str | None = None
    album_name: str | None = None
    started_at: datetime | None = None
    reason_start: str | None = None
    reason_end: str | None = None
    shuffle: bool | None = None
    skipped: bool | None = None
    offline: bool | None = None
    incognito: bool | None = None
    platform: str | None = None
    country: str | None = None

    @property
    def precision(self) -> str:
        return "minute" if self.format.is_account else "second"

    @property
    def is_music(self) -> bool:
        return self.kind is RecordKind.MUSIC

    @property
    def too_short(self) -> bool:
        return self.ms_played < MIN_PLAY_MS


def parse_record(
    raw: Any, fmt: ExportFormat, source: str, index: int, *, not_after: datetime | None = None
) -> ExportRecord:
    """One raw JSON record of a file of format ``fmt`` -> ExportRecord, or MalformedRecord naming
    ``source`` and ``index``. Records with no track, episode or audiobook metadata are malformed too
    (EmptyRecord): Spotify writes them (spotify-api.md §6.2) but there is nothing to say what was played.

    Values outside ``exports/limits.py`` are malformed: an end before 2006 or after ``not_after`` (the
    caller's clock plus a margin; None: not checked), ``ms_played`` over 7 days, text longer than its
    column or holding a lone surrogate (not storable as UTF-8)."""
    if not isinstance(raw, dict):
        raise MalformedRecord(source, index, f"expected a JSON object, got {type(raw).__name__}")
    return parse_fields(from_dict(raw, fmt.is_account), fmt, source, index, not_after=not_after)


def parse_fields(
    raw: Fields, fmt: ExportFormat, source: str, index: int, *, not_after: datetime | None = None
) -> ExportRecord:
    """``parse_record`` of a record's fields as both readers build them (``shapes``)."""
    if isinstance(raw, AccountFields):
        if not fmt.is_account:
            raise TypeError(f"account fields given for a {fmt} file")
        rec = _parse_account(raw, fmt, source, index)
    else:
        if fmt.is_account:
            raise TypeError(f"extended fields given for a {fmt} file")
        rec = _parse_extended(raw, fmt, source, index)
    _check_bounds(rec, not_after)
    return rec


def _check_bounds(rec: ExportRecord, not_after: datetime | None) -> None:
    if not_after is not None and rec.ended_at > not_after:
        field = "endTime" if rec.format.is_account else "ts"
        raise MalformedRecord(
            rec.source, rec.index, _out_of_range(field, f"{rec.ended_at:%Y-%m-%dT%H:%M:%SZ}", not_after)
        )
    for name, limit in _TEXT_LIMITS:
        value = getattr(rec, name)
        if value is None:
            continue
        if len(value) > limit:
            raise MalformedRecord(
                rec.source, rec.index, f"{name} is {len(value):,} characters long; at most {limit:,} are kept"
            )
        if not value.isascii() and _SURROGATE.search(value):  # isascii: the hot path skips the regex
            raise MalformedRecord(
                rec.source, rec.index, f"{name} holds a lone surrogate ({ascii(_SURROGATE.search(value).group())}),"  # type: ignore[union-attr]
                " which is not text and cannot be stored as UTF-8",
            )  # fmt: skip


def _parse_account(raw: AccountFields, fmt: ExportFormat, source: str, index: int) -> ExportRecord:
    ended_at = _account_time(raw.endTime, source, index)
    ms = _ms_played(raw.msPlayed, source, index)
    if fmt is ExportFormat.ACCOUNT_PODCAST:
        show, episode = _text(raw.podcastName), _text(raw.episodeName)
        if show is None and episode is None:
            raise MalformedRecord(source, index, "podcast record without podcastName or episodeName")
        return ExportRecord(
            source, index, fmt, RecordKind.PODCAST, ended_at, ms, track_name=episode, artist_name=show
        )
    if fmt is ExportFormat.ACCOUNT_AUDIOBOOK:
        book, chapter = _text(raw.audiobookName), _text(raw.chapterName)
        if book is None and chapter is None:
            raise MalformedRecord(source, index, "audiobook record without audiobookName or chapterName")
        return ExportRecord(
            source, index, fmt, RecordKind.AUDIOBOOK, ended_at, ms,
            track_name=chapter, artist_name=_text(raw.authorName), album_name=book,
        )  # fmt: skip
    artist, track = _text(raw.artistName), _text(raw.trackName)
    if artist is None or track is None:
        raise MalformedRecord(source, index, "music record needs both artistName and trackName")
    return ExportRecord(
        source, index, fmt, RecordKind.MUSIC, ended_at, ms, track_name=track, artist_name=artist
    )


def _parse_extended(raw: ExtendedFields, fmt: ExportFormat, source: str, index: int) -> ExportRecord:
    ended_at = _ts(raw.ts, source, index)
    ms = _ms_played(raw.ms_played, source, index)
    track_uri = raw.spotify_track_uri
    track_id = None
    if track_uri is not None:
        match = _TRACK_URI.match(track_uri) if isinstance(track_uri, str) else None
        # Local files carry spotify:local:... URIs: a real play with names but no id.
        if match is None and not (isinstance(track_uri, str) and track_uri.startswith("spotify:local:")):
            raise MalformedRecord(
                source, index, f"spotify_track_uri {_short(track_uri)} is not spotify:track:<22 chars>"
            )
        track_id = match.group(1) if match else None
    track_name = _text(raw.master_metadata_track_name)
    common: dict[str, Any] = {
        "started_at": _start(ended_at, ms, raw.offline_timestamp, source, index),
        "reason_start": _reason(raw.reason_start),
        "reason_end": _reason(raw.reason_end),
        "shuffle": _flag(raw.shuffle, "shuffle", source, index),
        "skipped": _flag(raw.skipped, "skipped", source, index),
        "offline": _flag(raw.offline, "offline", source, index),
        "incognito": _flag(raw.incognito_mode, "incognito_mode", source, index),
        "platform": _text(raw.platform),
        "country": _text(raw.conn_country),
    }
    if track_id is not None or track_name is not None:
        return ExportRecord(
            source, index, fmt, RecordKind.MUSIC, ended_at, ms, track_id=track_id, track_name=track_name,
            artist_name=_text(raw.master_metadata_album_artist_name),
            album_name=_text(raw.master_metadata_album_album_name), **common,
        )  # fmt: skip
    if raw.spotify_episode_uri or raw.episode_name or raw.episode_show_name:
        return ExportRecord(
            source, index, fmt, RecordKind.PODCAST, ended_at, ms, track_name=_text(raw.episode_name),
            artist_name=_text(raw.episode_show_name), **common,
        )  # fmt: skip
    if raw.audiobook_uri or raw.audiobook_title or raw.audiobook_chapter_uri:
        return ExportRecord(
            source, index, fmt, RecordKind.AUDIOBOOK, ended_at, ms,
            track_name=_text(raw.audiobook_chapter_title), album_name=_text(raw.audiobook_title),
            **common,
        )  # fmt: skip
    raise EmptyRecord(source, index, "no track, episode or audiobook metadata: nothing says what was played")


def clean_extended(
    raw: ExtendedFields, fmt: ExportFormat, source: str, index: int, latest: datetime
) -> ExportRecord | None:
    """``parse_fields`` of a *clean* music record of an extended file, in the fewest Python operations;
    None when anything about the record is not plainly clean: the caller then parses it with
    ``parse_fields``, which gives the record or names exactly what is wrong with it.

    The import's hot path (``reader.FileReader`` on a file ``fastread`` decoded): a record is
    returned here only when ``parse_fields`` would return the same record (``latest`` is
    ``latest_end(not_after)``). Anything else (a podcast or audiobook, a local file, an odd value, a
    bound reached) is left to the exact parser, never decided here. ``tests/property/test_fastread.py``
    checks on arbitrary and near-clean records that both give the same records and reports."""
    ts = raw.ts
    # ts: exactly YYYY-MM-DDTHH:MM:SSZ (the regex alone lets a trailing newline through: len 20 not),
    # read by the C parser; hour 24 and any value it refuses go the exact way.
    if ts.__class__ is not str or len(ts) != 20 or ts[11:13] == "24" or _TS.match(ts) is None:
        return None
    try:
        ended_at = datetime.fromisoformat(ts)
    except ValueError:
        return None
    ms = raw.ms_played
    if not (EARLIEST_PLAY <= ended_at <= latest) or ms.__class__ is not int or not 0 <= ms <= MAX_MS_PLAYED:
        return None
    uri = raw.spotify_track_uri
    if uri is None:
        track_id = None
    elif uri.__class__ is str and len(uri) == 36 and uri.startswith("spotify:track:"):
        track_id = uri[14:]
        if not (track_id.isascii() and track_id.isalnum()):  # [0-9A-Za-z]{22}
            return None
    else:
        return None
    value = raw.master_metadata_track_name
    track_name = (value.strip() or None) if value.__class__ is str else None
    if track_id is None and track_name is None:
        return None  # an episode, an audiobook or nothing: the exact parser says which
    shuffle, skipped, offline, incognito = raw.shuffle, raw.skipped, raw.offline, raw.incognito_mode
    for flag in (shuffle, skipped, offline, incognito):
        if flag is not None and flag is not True and flag is not False:
            return None
    # _start, for no offline_timestamp or one in whole Unix seconds (current exports): that many
    # seconds after the epoch is what fromtimestamp(float(seconds)) gives, exactly. Others: _start.
    off = raw.offline_timestamp
    estimate = ended_at - ms * _ONE_MS
    if off is None or (off.__class__ is int and off == 0):
        started_at = estimate
    elif off.__class__ is int and 0 < off <= _MS_THRESHOLD:
        offline_at = _EPOCH + off * _ONE_S
        if (
            offline_at >= EARLIEST_PLAY
            and abs(offline_at - estimate) > _START_OVERRIDE
            and offline_at <= ended_at
        ):
            started_at = offline_at
        else:
            started_at = estimate
    else:
        try:
            started_at = _start(ended_at, ms, off, source, index)
        except MalformedRecord:
            return None
    value = raw.master_metadata_album_artist_name
    artist_name = (value.strip() or None) if value.__class__ is str else None
    value = raw.master_metadata_album_album_name
    album_name = (value.strip() or None) if value.__class__ is str else None
    value = raw.platform
    platform = (value.strip() or None) if value.__class__ is str else None
    value = raw.conn_country
    country = (value.strip() or None) if value.__class__ is str else None
    reason_start = raw.reason_start  # _reason
    if reason_start.__class__ is not str or reason_start.strip().lower() in _NO_REASON:
        reason_start = None
    reason_end = raw.reason_end
    if reason_end.__class__ is not str or reason_end.strip().lower() in _NO_REASON:
        reason_end = None
    # _check_bounds' text checks: a value too long or holding a lone surrogate goes the exact way.
    if (
        (
            track_name is not None
            and (len(track_name) > _TRACK_MAX or (not track_name.isascii() and _odd(track_name)))
        )
        or (
            artist_name is not None
            and (len(artist_name) > _ARTIST_MAX or (not artist_name.isascii() and _odd(artist_name)))
        )
        or (
            album_name is not None
            and (len(album_name) > _ALBUM_MAX or (not album_name.isascii() and _odd(album_name)))
        )
        or (
            platform is not None
            and (len(platform) > _PLATFORM_MAX or (not platform.isascii() and _odd(platform)))
        )
        or (
            country is not None and (len(country) > _COUNTRY_MAX or (not country.isascii() and _odd(country)))
        )
        or (
            reason_start is not None
            and (len(reason_start) > _REASON_START_MAX or (not reason_start.isascii() and _odd(reason_start)))
        )
        or (
            reason_end is not None
            and (len(reason_end) > _REASON_END_MAX or (not reason_end.isascii() and _odd(reason_end)))
        )
    ):
        return None
    return ExportRecord(
        source, index, fmt, RecordKind.MUSIC, ended_at, ms, track_id, track_name, artist_name, album_name,
        started_at, reason_start, reason_end, shuffle, skipped, offline, incognito, platform, country,
    )  # fmt: skip


def _odd(text: str) -> bool:
    """Holding a lone surrogate (``_check_bounds``); asked of text that is not ASCII only."""
    return _SURROGATE.search(text) is not None


def latest_end(not_after: datetime | None) -> datetime:
    """The latest end ``clean_extended`` takes: ``not_after`` within the parser's own sanity bound."""
    return _LATEST_EVER if not_after is None else min(not_after, _LATEST_EVER)


# --- field parsers: each names the field and the record in its error ---------------------------


def _ts(value: Any, source: str, index: int) -> datetime:
    return _utc_time(value, _TS, "ts", "YYYY-MM-DDTHH:MM:SSZ", source, index)


def _account_time(value: Any, source: str, index: int) -> datetime:
    return _utc_time(value, _ACCOUNT_TIME, "endTime", "'YYYY-MM-DD HH:MM' (UTC)", source, index)


def _utc_time(
    value: Any, pattern: re.Pattern[str], field: str, shape: str, source: str, index: int
) -> datetime:
    """A UTC time from ``pattern``'s groups (year, month, day, hour, minute[, second])."""
    match = pattern.match(value) if isinstance(value, str) else None
    if match is None:
        raise MalformedRecord(source, index, f"{field} {_short(value)} is not {shape}")
    # The shape is checked: the C parser reads it 3x faster than int() of each group (profiled on
    # the import). A value it refuses (Feb 30, year 0) goes the long way for the same message.
    # Hour 24 never: newer Pythons read "24:00" as the next day's midnight, which is no valid time here.
    try:
        fast = datetime.fromisoformat(value).replace(tzinfo=UTC) if value[11:13] != "24" else None
    except ValueError:
        fast = None
    if fast is not None and EARLIEST_PLAY <= fast <= _LATEST_EVER:
        return fast
    try:
        y, mo, d, h, mi, *sec = (int(g) for g in match.groups() if g is not None)
        when = datetime(y, mo, d, h, mi, sec[0] if sec else 0, tzinfo=UTC)
    except ValueError as exc:
        raise MalformedRecord(source, index, f"{field} {value!r} is not a valid time: {exc}") from None
    # Checked here, before any arithmetic on it (year 1 minus ms_played overflows); the upper bound
    # with the caller's clock in _check_bounds.
    if when < EARLIEST_PLAY or when > _LATEST_EVER:
        raise MalformedRecord(source, index, _out_of_range(field, value, None))
    return when


def _out_of_range(field: str, value: str, not_after: datetime | None) -> str:
    latest = "now" if not_after is None else f"{not_after:%Y-%m-%d %H:%M} UTC"
    return f"{field} {value!r} is outside {EARLIEST_PLAY:%Y-%m-%d} (before Spotify) .. {latest}"


def _ms_played(value: Any, source: str, index: int) -> int:
    # bool is an int in Python; a true/false ms_played is a broken record, not 1 ms.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedRecord(source, index, f"ms_played {_short(value)} is not a non-negative integer")
    if value > MAX_MS_PLAYED:
        raise MalformedRecord(
            source, index, f"ms_played {_short(value)} is more than 7 days ({MAX_MS_PLAYED:,} ms) of playing"
        )
    return value


def _short(value: Any) -> str:
    """A value for a message: a 4000-digit number or a 1 MB string is cut, never printed whole."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        # str() of a number over 4300 digits raises; its size is what the message needs.
        return f"(a number of about {int(value.bit_length() * 0.30103) + 1} digits)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _start(ended_at: datetime, ms: int, offline_ts: Any, source: str, index: int) -> datetime:
    estimate = ended_at - timedelta(milliseconds=ms)
    if offline_ts is None or offline_ts == 0:  # 0 = "not recorded" in old endsong files
        return estimate
    if isinstance(offline_ts, bool) or not isinstance(offline_ts, int | float):
        raise MalformedRecord(source, index, f"offline_timestamp {_short(offline_ts)} is not a number")
    try:
        seconds = offline_ts / 1000 if offline_ts > _MS_THRESHOLD else float(offline_ts)
        offline = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedRecord(
            source, index, f"offline_timestamp {_short(offline_ts)} is out of range"
        ) from None
    # A start before Spotify existed is a broken clock, not a start: ts - ms_played is kept instead.
    if offline < EARLIEST_PLAY:
        return estimate
    if abs((offline - estimate).total_seconds()) > _START_OVERRIDE_S and offline <= ended_at:
        return offline
    return estimate


def _flag(value: Any, field: str, source: str, index: int) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise MalformedRecord(source, index, f"{field} {_short(value)} is not true, false or null")


def _reason(value: Any) -> str | None:
    if not isinstance(value, str) or value.strip().lower() in _NO_REASON:
        return None
    return value


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None
