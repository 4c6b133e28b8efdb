"""A recently-played page (``GET /me/player/recently-played``) -> plays and the catalog rows its
full track objects carry.

The page is taken as Spotify sent it: ``cursors`` may be null and ``items`` empty (a page past the
50-play window), ``total`` is never relied on. Items whose track is null or not a music track
(podcast episodes) are skipped and counted, not errors. Anything else that does not fit the
contract makes the whole page malformed: the loader quarantines the object instead of loading a
guess.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..errors import MalformedRawObject, MalformedRecord
from . import fields as f
from .metadata import parse_track
from .rows import CatalogRows, PlayRow, RecentlyPlayedRows
from .timestamps import parse_played_at


class ItemCache:
    """The rows of items this run already transformed, by the item's exact JSON: a year of hourly
    objects lists each play in about six of them (every poll returns the latest 50), and the
    transform of an item was half of ``process``'s time (profiled). Pure and per run.

    Only for items of an object msgspec decoded (``landing.decode.parse_object_checked``): then
    ``msgspec.json.encode`` of an item is exact (no NaN that would encode as null). Items that fail
    are never kept (their error names the object they are in). Bounded: the most recent
    ``size`` items, far more than the pages a play stays listed in."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._rows: dict[tuple[str, bytes], tuple[PlayRow | None, CatalogRows]] = {}
        self.hits = 0

    def rows(self, item: Any, user_id: str, source_key: str) -> tuple[PlayRow | None, CatalogRows]:
        """An item is a decoded value or a ``msgspec.Raw`` (its bytes, undecoded: see
        ``landing.decode.parse_page_items_lazily``); a Raw is decoded only when its bytes are not
        known yet, and UndecodedItem is raised when msgspec refuses them."""
        if isinstance(item, msgspec.Raw):
            key = (user_id, bytes(item))
            hit = self._rows.get(key)
            if hit is None:
                try:
                    item = _DECODE(item)
                except (msgspec.DecodeError, ValueError, RecursionError):
                    raise UndecodedItem from None
        else:
            try:
                key = (user_id, _ENCODE(item))
            except (TypeError, ValueError, OverflowError):
                return _item_rows(item, user_id, source_key)
            hit = self._rows.get(key)
        if hit is not None:
            self.hits += 1
            play, catalog = hit
            # The play's provenance is the object it is read from now, as without the cache.
            return (_restamped(play, source_key) if play is not None else None), catalog
        found = _item_rows(item, user_id, source_key)
        if len(self._rows) >= self.size:
            del self._rows[next(iter(self._rows))]  # the oldest: pages arrive in time order
        self._rows[key] = found
        return found


class UndecodedItem(Exception):
    """An item left undecoded (``msgspec.Raw``) that msgspec refuses: the object is to be read the
    exact way (``landing.envelope.parse_object_checked``), which names what is wrong with it."""


_ENCODE = msgspec.json.Encoder().encode
_DECODE = msgspec.json.Decoder().decode
_PLAY_SLOTS: tuple[str, ...] = tuple(PlayRow.__dataclass_fields__)
_NEW = object.__new__
_SET = object.__setattr__


def _restamped(play: PlayRow, source_key: str) -> PlayRow:
    """``dataclasses.replace(play, raw_key=source_key)`` without re-running ``__init__``: the values
    were checked when the play was made, and a year's load re-stamps tens of thousands of them."""
    copy: PlayRow = _NEW(PlayRow)
    for name in _PLAY_SLOTS:
        _SET(copy, name, getattr(play, name))
    _SET(copy, "raw_key", source_key)
    return copy


def recently_played_rows(
    page: Any, user_id: str, source_key: str, cache: ItemCache | None = None
) -> RecentlyPlayedRows:
    """Rows of one page for ``user_id``. ``source_key`` (the raw object's key) names the page in
    errors and is kept on each play as its provenance.

    Plays are deduplicated on played_at inside the page (the first, i.e. newest-listed, wins);
    catalog rows on their ids. Raises MalformedRawObject when the page has no ``items`` list and
    MalformedRecord(source_key, index, reason) for a malformed item.
    """
    if not isinstance(page, dict):
        raise MalformedRawObject(source_key, f"the page is a {type(page).__name__}, expected a JSON object")
    items = page.get("items")
    if not isinstance(items, list):
        raise MalformedRawObject(source_key, "the page has no 'items' list: not a recently-played response")
    rows = RecentlyPlayedRows()
    catalogs: list[CatalogRows] = []
    seen: set[Any] = set()
    for index, item in enumerate(items):
        try:
            if cache is None:
                play, catalog = _item_rows(item, user_id, source_key)
            else:
                play, catalog = cache.rows(item, user_id, source_key)
        except f.BadField as exc:
            raise MalformedRecord(source_key, index, str(exc)) from None
        if play is None:
            rows.skipped += 1
            continue
        if play.played_at in seen:
            continue
        seen.add(play.played_at)
        rows.plays.append(play)
        catalogs.append(catalog)
    rows.extend(*catalogs)  # in page order, so the first occurrence still wins
    return rows


def _item_rows(item: Any, user_id: str, source_key: str) -> tuple[PlayRow | None, CatalogRows]:
    o = f.obj(item, "item")
    catalog = CatalogRows()
    track_obj = o.get("track")
    if track_obj is None:
        return None, catalog
    track_obj = f.obj(track_obj, "item.track")
    kind = f.req_str(track_obj, "type", "item.track")
    if kind != "track":  # "episode": the API says it does not list podcasts, but be ready for one
        return None, catalog
    raw_played_at = f.req_str(o, "played_at", "item")
    try:
        played_at = parse_played_at(raw_played_at)
    except ValueError as exc:
        raise f.BadField(f"item.played_at: {exc}") from None
    context = f.opt_obj(o, "context", "item")
    track = parse_track(track_obj, "item.track", into=catalog)
    first_artist = _first_artist_name(track_obj)
    play = PlayRow(
        user_id=user_id,
        played_at=played_at,
        # A local file has no Spotify id: keep the play with its names, as the export does.
        track_id=track.id if track else None,
        track_name=track.name if track else f.opt_str(track_obj, "name", "item.track"),
        artist_name=first_artist,
        album_name=catalog.albums[0].name if track and catalog.albums else _local_album(track_obj),
        context_type=f.opt_str(context, "type", "item.context", f.SHORT) if context else None,
        context_uri=f.opt_str(context, "uri", "item.context", f.URI) if context else None,
        source="api",
        raw_key=source_key,
    )
    return play, catalog


def _first_artist_name(track_obj: dict[str, Any]) -> str | None:
    artists = f.opt_list(track_obj, "artists", "item.track")
    if not artists:
        return None
    return f.opt_str(f.obj(artists[0], "item.track.artists[0]"), "name", "item.track.artists[0]")


def _local_album(track_obj: dict[str, Any]) -> str | None:
    album = f.opt_obj(track_obj, "album", "item.track")
    return f.opt_str(album, "name", "item.track.album") if album else None
