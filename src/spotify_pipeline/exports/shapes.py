"""The fields of an export record the parser reads, as msgspec Structs: one per family of formats.

Both readers build these: the fast path (``fastread``) decodes a whole file straight into a list of
them (msgspec skips every other key without building it), the exact streaming path converts each
decoded dict (``from_dict``). ``formats.parse_fields`` then reads the same attributes whichever path
made them, so the two paths cannot parse a record differently.

Every field is ``Any``: the values are exactly what ``json.loads`` gives (a string, a number, a
bool, null, a list or a dict), and the parser's own checks name what is wrong with a value; a
typed field would turn "ms_played is not an integer" into a decoding error of the whole file.
A missing key and ``null`` are both None, as ``dict.get`` gave before.
"""

from __future__ import annotations

from typing import Any

import msgspec


class ExtendedFields(msgspec.Struct):
    """Extended streaming history (``Streaming_History_Audio_*.json``) and ``endsong_N.json``."""

    ts: Any = None
    ms_played: Any = None
    spotify_track_uri: Any = None
    master_metadata_track_name: Any = None
    master_metadata_album_artist_name: Any = None
    master_metadata_album_album_name: Any = None
    offline_timestamp: Any = None
    reason_start: Any = None
    reason_end: Any = None
    shuffle: Any = None
    skipped: Any = None
    offline: Any = None
    incognito_mode: Any = None
    platform: Any = None
    conn_country: Any = None
    spotify_episode_uri: Any = None
    episode_name: Any = None
    episode_show_name: Any = None
    audiobook_uri: Any = None
    audiobook_title: Any = None
    audiobook_chapter_uri: Any = None
    audiobook_chapter_title: Any = None


class AccountFields(msgspec.Struct):
    """Account data (``StreamingHistory_music_N.json``, ``_podcast_``, ``_audiobook_``, legacy)."""

    endTime: Any = None  # noqa: N815 - the export's own key
    msPlayed: Any = None  # noqa: N815
    artistName: Any = None  # noqa: N815
    trackName: Any = None  # noqa: N815
    podcastName: Any = None  # noqa: N815
    episodeName: Any = None  # noqa: N815
    audiobookName: Any = None  # noqa: N815
    chapterName: Any = None  # noqa: N815
    authorName: Any = None  # noqa: N815


Fields = ExtendedFields | AccountFields


def from_dict(raw: dict[str, Any], account: bool) -> Fields:
    """The record's fields from a decoded JSON object (the streaming path); other keys are dropped."""
    cls = AccountFields if account else ExtendedFields
    return cls(**{name: raw[name] for name in cls.__struct_fields__ if name in raw})
