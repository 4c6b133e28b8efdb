"""A recently-played page (``GET /me/player/recently-played``) -> plays and the catalog rows its
full track objects carry.

The page is taken as Spotify sent it: ``cursors`` may be null and ``items`` empty (a page past the
50-play window), ``total`` is never relied on. Items whose track is null or not a music track
(podcast episodes) are skipped and counted, not errors. Anything else that does not fit the
contract makes the whole page malformed: the loader quarantines the object instead of loading a
guess.
"""

from __future__ import annotations

from typing import Any, NamedTuple

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
        self._tracks: dict[bytes, _Track] = {}  # a track object's exact bytes -> what its plays take
        self.hits = 0

    def rows(self, item: Any, user_id: str, source_key: str) -> tuple[PlayRow | None, CatalogRows]:
        """An item is a decoded value or a ``msgspec.Raw`` (its bytes, undecoded: see
        ``landing.decode.parse_page_items_lazily``); a Raw is decoded only when its bytes are not
        known yet, and UndecodedItem is raised when msgspec refuses them."""
        if isinstance(item, msgspec.Raw):
            key = (user_id, bytes(item))
            hit = self._rows.get(key)
            if hit is None:
                found = self._new_raw_item(item, user_id, source_key)
                self._keep(key, found)
                return found
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
        self._keep(key, found)
        return found

    def _keep(self, key: tuple[str, bytes], found: tuple[PlayRow | None, CatalogRows]) -> None:
        if len(self._rows) >= self.size:
            del self._rows[next(iter(self._rows))]  # the oldest: pages arrive in time order
        self._rows[key] = found

    def _new_raw_item(
        self, item: msgspec.Raw, user_id: str, source_key: str
    ) -> tuple[PlayRow | None, CatalogRows]:
        """The rows of an item not seen yet, its track read once per run: the same track object
        (exact bytes) comes back in every play of that track, and reading it was most of an item's
        transform (profiled). The item's other fields are decoded and checked as ``_item_rows`` does."""
        raw_track: msgspec.Raw | None = None
        try:
            parts = _DECODE_PARTS(item)
            raw_track = parts.get("track")
            known = self._tracks.get(bytes(raw_track)) if raw_track is not None else None
            if known is not None:
                o = {k: (v if k == "track" else _DECODE(v)) for k, v in parts.items()}
        except (msgspec.DecodeError, ValueError, RecursionError, TypeError):
            known = None
        if known is not None:
            return _play_of(o, known, user_id, source_key)
        try:
            decoded = _DECODE(item)
        except (msgspec.DecodeError, ValueError, RecursionError):
            raise UndecodedItem from None
        found, track = _item_rows_and_track(decoded, user_id, source_key)
        if track is not None and raw_track is not None:
            if len(self._tracks) >= self.size:
                del self._tracks[next(iter(self._tracks))]
            self._tracks[bytes(raw_track)] = track
        return found


class UndecodedItem(Exception):
    """An item left undecoded (``msgspec.Raw``) that msgspec refuses: the object is to be read the
    exact way (``landing.envelope.parse_object_checked``), which names what is wrong with it."""


_ENCODE = msgspec.json.Encoder().encode
_DECODE = msgspec.json.Decoder().decode
_DECODE_PARTS = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode  # an item's fields, undecoded
_PLAY_SLOTS: tuple[str, ...] = tuple(PlayRow.__dataclass_fields__)


def _restamper() -> Any:
    """``dataclasses.replace(play, raw_key=source_key)`` without re-running ``__init__`` (the values
    were checked when the play was made, and a year's load re-stamps over a hundred thousand): one
    straight-line function setting each slot through its descriptor, as ``dataclasses`` itself
    generates its methods; a loop over the slots took three times as long (profiled)."""
    setters = {f"_set_{name}": getattr(PlayRow, name).__set__ for name in _PLAY_SLOTS}
    body = "".join(
        f"    _set_{name}(copy, {'source_key' if name == 'raw_key' else 'play.' + name})\n"
        for name in _PLAY_SLOTS
    )
    code = f"def restamped(play, source_key):\n    copy = _new(_cls)\n{body}    return copy\n"
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": PlayRow, **setters}
    exec(code, scope)  # noqa: S102 - built from the dataclass's own field names only
    return scope["restamped"]


_restamped = _restamper()


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
    # In page order, so the first occurrence still wins; a catalog the item cache gave twice (two
    # plays of one track object) once, since its second copy adds nothing the first did not.
    rows.extend(*{id(c): c for c in catalogs}.values())
    return rows


class _Track(NamedTuple):
    """What a play takes from its track object (a music track, read without error)."""

    track_id: str | None
    track_name: str | None
    artist_name: str | None
    album_name: str | None
    catalog: CatalogRows


def _item_rows(item: Any, user_id: str, source_key: str) -> tuple[PlayRow | None, CatalogRows]:
    return _item_rows_and_track(item, user_id, source_key)[0]


def _item_rows_and_track(
    item: Any, user_id: str, source_key: str
) -> tuple[tuple[PlayRow | None, CatalogRows], _Track | None]:
    """The item's rows, and what its play took from its track (None when it is no play)."""
    o = f.obj(item, "item")
    catalog = CatalogRows()
    track_obj = o.get("track")
    if track_obj is None:
        return (None, catalog), None
    track_obj = f.obj(track_obj, "item.track")
    kind = f.req_str(track_obj, "type", "item.track")
    if kind != "track":  # "episode": the API says it does not list podcasts, but be ready for one
        return (None, catalog), None
    played_at = _played_at(o)
    context = f.opt_obj(o, "context", "item")
    track = parse_track(track_obj, "item.track", into=catalog)
    first_artist = _first_artist_name(track_obj)
    known = _Track(
        # A local file has no Spotify id: keep the play with its names, as the export does.
        track_id=track.id if track else None,
        track_name=track.name if track else f.opt_str(track_obj, "name", "item.track"),
        artist_name=first_artist,
        album_name=catalog.albums[0].name if track and catalog.albums else _local_album(track_obj),
        catalog=catalog,
    )
    return _play(played_at, context, known, user_id, source_key), known


def _play_of(o: Any, known: _Track, user_id: str, source_key: str) -> tuple[PlayRow | None, CatalogRows]:
    """``_item_rows`` of an item whose track was read before (so its checks passed): the item's own
    fields are checked in the same order, a track's checks coming between them never failing."""
    o = f.obj(o, "item")
    played_at = _played_at(o)
    context = f.opt_obj(o, "context", "item")
    return _play(played_at, context, known, user_id, source_key)


def _played_at(o: dict[str, Any]) -> Any:
    raw_played_at = f.req_str(o, "played_at", "item")
    try:
        return parse_played_at(raw_played_at)
    except ValueError as exc:
        raise f.BadField(f"item.played_at: {exc}") from None


def _play(
    played_at: Any, context: dict[str, Any] | None, known: _Track, user_id: str, source_key: str
) -> tuple[PlayRow, CatalogRows]:
    play = PlayRow(
        user_id=user_id,
        played_at=played_at,
        track_id=known.track_id,
        track_name=known.track_name,
        artist_name=known.artist_name,
        album_name=known.album_name,
        context_type=f.opt_str(context, "type", "item.context", f.SHORT) if context else None,
        context_uri=f.opt_str(context, "uri", "item.context", f.URI) if context else None,
        source="api",
        raw_key=source_key,
    )
    return play, known.catalog


def _first_artist_name(track_obj: dict[str, Any]) -> str | None:
    artists = f.opt_list(track_obj, "artists", "item.track")
    if not artists:
        return None
    return f.opt_str(f.obj(artists[0], "item.track.artists[0]"), "name", "item.track.artists[0]")


def _local_album(track_obj: dict[str, Any]) -> str | None:
    album = f.opt_obj(track_obj, "album", "item.track")
    return f.opt_str(album, "name", "item.track.album") if album else None
