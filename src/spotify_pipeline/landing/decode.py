"""Reading raw objects: stored bytes (plain JSON or gzip) to a checked envelope, and back.

Objects written by this system are envelopes (see :mod:`.envelope`); files from the original system
(a bare page, a list of pages, the concatenated ``items``) are wrapped into one. Anything else is a
:class:`MalformedRawObject` whose message names the key and what is wrong.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Mapping
from typing import Any

import msgspec

from ..errors import MalformedRawObject
from .envelope import FORMAT, assemble_envelope, describe, fetch_problem, new_envelope
from .keys import KINDS, is_compressed_key, parse_key

# ---------------------------------------------------------------------------------------------
# Reading objects


_MSGSPEC = msgspec.json.Decoder()


def parse_object(data: bytes, key: str) -> dict[str, Any]:
    """Parse a stored object into an envelope; raise MalformedRawObject(key, precise reason).

    Accepts the envelope format, and the bare pages the original DAGs wrote: a recently-played page
    (an object with ``items``), a followed-artists page (``{"artists": {...}}``), or a list of such pages.
    """
    return parse_object_checked(data, key)[0]


# The most JSON one raw object may hold, compressed or not: a real one is far smaller (an hour of
# polls: a few MB); a bigger file under a raw key is not one of ours, and reading it whole would take
# its size in memory (a small gzip file may inflate to gigabytes: it is cut off here).
MAX_JSON_BYTES = 64 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
GZIP_LEVEL = 6  # zlib's default: 9 saves about 2 % more for twice the time


def compress(data: bytes) -> bytes:
    """gzip with no time stamp and no file name in the header: the same bytes in give the same bytes
    out (so the same ETag), whenever and wherever they are written (with the same zlib)."""
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


def encode_stored(envelope: Mapping[str, Any], compression: str) -> bytes:
    """The bytes a writer stores for an envelope: :func:`dump`, gzipped when ``compression`` is gzip."""
    data = dump(envelope)
    return compress(data) if compression == "gzip" else data


def stored_json(data: bytes, key: str) -> bytes:
    """The JSON bytes of a stored object: gunzipped when it is gzip data (its key ends in ``.json.gz``;
    a ``.json`` file someone gzipped is recognised by its first two bytes, which JSON never starts
    with), as it is otherwise. MalformedRawObject for damaged gzip data or more than MAX_JSON_BYTES."""
    if data[:2] != _GZIP_MAGIC:
        if is_compressed_key(key) and data:
            raise MalformedRawObject(key, "the key ends in .json.gz but the bytes are not gzip data")
        return data
    out: list[bytes] = []
    size = 0
    rest = data
    try:
        while rest[:2] == _GZIP_MAGIC:  # a gzip file may hold several members, one after another
            member = zlib.decompressobj(wbits=31)
            chunk = member.decompress(rest, MAX_JSON_BYTES + 1 - size)
            size += len(chunk)
            out.append(chunk)
            if size > MAX_JSON_BYTES:
                raise MalformedRawObject(
                    key, f"over {MAX_JSON_BYTES // 2**20} MiB of JSON once decompressed: not a raw object "
                    "this pipeline wrote; move it out of the raw zone"
                )  # fmt: skip
            if not member.eof:
                raise MalformedRawObject(key, f"truncated gzip data ({len(data)} bytes stored)")
            rest = member.unused_data
    except zlib.error as exc:
        raise MalformedRawObject(key, f"damaged gzip data ({exc})") from None
    if rest.strip(b"\x00"):
        raise MalformedRawObject(key, f"{len(rest)} bytes after the gzip data that are not gzip data")
    return b"".join(out)


def parse_object_checked(data: bytes, key: str) -> tuple[dict[str, Any], bool]:
    """``parse_object``, and whether msgspec decoded it: then every value is plain JSON (no NaN,
    no infinity, no lone surrogate), so ``msgspec.json.encode`` of a part of it is that part's
    exact identity (the transform's item cache relies on it).

    msgspec reads clean JSON 2-3x faster than ``json.loads`` and refuses everything ``json.loads``
    takes that is not strict JSON (NaN, a lone surrogate escape, 1e400, a BOM, deep nesting): those
    objects, and every broken one, take the standard library's path and get its precise reasons.

    A gzip-compressed object is decompressed first (:func:`stored_json`)."""
    data = stored_json(data, key)
    try:
        value = _MSGSPEC.decode(data)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return _shape(_decode(data, key), key), False
    return _shape(value, key), True


_LAZY_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_LAZY_FETCHES = msgspec.json.Decoder(list[dict[str, msgspec.Raw]])
_LAZY_LIST = msgspec.json.Decoder(list[msgspec.Raw])


def parse_page_items_lazily(data: bytes, key: str) -> dict[str, Any] | None:
    """``parse_object_checked`` of a clean envelope whose responses' ``items`` stay undecoded: each
    item is a ``msgspec.Raw`` (its exact bytes), so the loader's item cache neither decodes nor
    re-encodes an item it has already seen. Every other value is decoded and checked as
    ``parse_object_checked`` does it (msgspec, strict JSON), so the envelope's checks and errors are
    its own. None when the object is not a plain envelope of decodable values (a legacy shape, a
    response that is not an object with an ``items`` list, anything msgspec refuses, ...): the caller
    reads it the exact way instead. The decoder of the items must still refuse what msgspec refuses
    (an item's bytes were not checked here)."""
    try:
        data = stored_json(data, key)
        top = _LAZY_TOP.decode(data)
        if "fetches" not in top:
            return None
        value: dict[str, Any] = {k: _MSGSPEC.decode(v) for k, v in top.items() if k != "fetches"}
        fetches: list[dict[str, Any]] = []
        for raw_fetch in _LAZY_FETCHES.decode(top["fetches"]):
            fetch: dict[str, Any] = {k: _MSGSPEC.decode(v) for k, v in raw_fetch.items() if k != "response"}
            if "response" in raw_fetch:
                response = _LAZY_TOP.decode(raw_fetch["response"])
                if "items" not in response:
                    return None
                page: dict[str, Any] = {k: _MSGSPEC.decode(v) for k, v in response.items() if k != "items"}
                page["items"] = _LAZY_LIST.decode(response["items"])
                fetch["response"] = page
            fetches.append(fetch)
        value["fetches"] = fetches
        # The same checks as the exact path; a Raw cannot be encoded, so an envelope whose fetches
        # need their canonical JSON (two with the same time) is read the exact way.
        return _shape(value, key)
    except (msgspec.DecodeError, MalformedRawObject, TypeError, ValueError, RecursionError):
        return None


def _decode(data: bytes, key: str) -> Any:
    if not data.strip():
        raise MalformedRawObject(key, "empty file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":  # cut inside a multi-byte character
            raise MalformedRawObject(key, f"truncated JSON at byte {len(data)}") from None
        raise MalformedRawObject(key, f"not UTF-8 text: invalid byte at offset {exc.start}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        # Cut short (a crash mid-write in the original system): the parser ran out of input, either
        # between tokens or inside a string it never saw the end of. Report where the file ends.
        if not text[exc.pos :].strip() or exc.msg.startswith("Unterminated string"):
            raise MalformedRawObject(key, f"truncated JSON at byte {len(data.rstrip())}") from None
        offset = len(text[: exc.pos].encode("utf-8"))
        raise MalformedRawObject(
            key, f"invalid JSON at byte {offset} (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None
    except RecursionError:
        raise MalformedRawObject(key, "JSON nested too deeply to read (over ~1000 levels)") from None
    except ValueError as exc:  # json refuses an integer of more than 4300 digits this way
        raise MalformedRawObject(key, f"invalid JSON: {exc}") from None
    return value


def _shape(value: Any, key: str) -> dict[str, Any]:
    key_kind = _kind_of_key(key)
    if isinstance(value, dict) and "fetches" in value:
        return _check_envelope(value, key, key_kind)
    if isinstance(value, list):
        legacy = _legacy_list(value, key, key_kind)
        if legacy is not None:
            return legacy
    pages = value if isinstance(value, list) else [value]
    kinds = [_page_kind(page) for page in pages]
    if None in kinds:
        raise MalformedRawObject(
            key, f"expected an object with 'fetches' or a Spotify page, got {describe(value)}"
        )
    kind = kinds[0]
    if any(k != kind for k in kinds):
        raise MalformedRawObject(key, "a list that mixes recently-played and followed-artists pages")
    assert kind is not None
    if key_kind is not None and key_kind != kind:
        raise MalformedRawObject(key, f"the key says {key_kind} but the content is a {kind} page")
    fetches = [{"fetched_at": None, "request": None, "status": None, "response": page} for page in pages]
    return new_envelope(kind, _user_of_key(key), fetches)


def _legacy_list(value: list[Any], key: str, key_kind: str | None) -> dict[str, Any] | None:
    """The original DAGs followed ``next`` and saved the concatenated ``items`` (play-history items, or
    artist objects) as one JSON list. Wrap that list into one page-shaped response, and say so in the
    fetch (``legacy_shape``) so that the exact original content stays recoverable."""
    if not value:
        if key_kind in ("recently_played", "following_artists"):
            # What the original wrote when there was nothing new: a valid, empty result.
            return _wrap_legacy(key_kind, [], key, "empty list")
        raise MalformedRawObject(
            key,
            "expected an object with 'fetches' or a Spotify page, got an empty list (and the key "
            "does not say whether it held plays or artists)",
        )
    if all(_is_play_item(v) for v in value):
        kind = "recently_played"
        shape = "list of play-history items"
    elif all(_is_artist(v) for v in value):
        kind = "following_artists"
        shape = "list of artist objects"
    else:
        return None
    if key_kind is not None and key_kind != kind:
        raise MalformedRawObject(key, f"the key says {key_kind} but the content is a {shape}")
    return _wrap_legacy(kind, value, key, shape)


def _wrap_legacy(kind: str, items: list[Any], key: str, shape: str) -> dict[str, Any]:
    page: dict[str, Any] = {"items": items} if kind == "recently_played" else {"artists": {"items": items}}
    fetch = {"fetched_at": None, "request": None, "status": None, "response": page, "legacy_shape": shape}
    return new_envelope(kind, _user_of_key(key), [fetch])


def _is_play_item(v: Any) -> bool:
    return isinstance(v, dict) and "played_at" in v and isinstance(v.get("track"), dict)


def _is_artist(v: Any) -> bool:
    return isinstance(v, dict) and v.get("type") == "artist" and "id" in v


def _check_envelope(value: dict[str, Any], key: str, key_kind: str | None) -> dict[str, Any]:
    fmt = value.get("format")
    if fmt != FORMAT:
        raise MalformedRawObject(key, f"unknown format {fmt!r}: this version reads {FORMAT!r}")
    kind = value.get("kind")
    if kind not in KINDS:
        raise MalformedRawObject(key, f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")
    if key_kind is not None and key_kind != kind:
        raise MalformedRawObject(key, f"the key says {key_kind} but the envelope says {kind}")
    user = value.get("user")
    if user is not None and not isinstance(user, str):
        raise MalformedRawObject(key, f"'user' must be a string or null, got {describe(user)}")
    fetches = value["fetches"]
    if not isinstance(fetches, list):
        raise MalformedRawObject(key, f"'fetches' must be a list, got {describe(fetches)}")
    for i, fetch in enumerate(fetches):
        problem = fetch_problem(fetch)
        if problem:
            raise MalformedRawObject(key, f"fetch {i}: {problem}")
    return assemble_envelope(kind, user, fetches)


def _page_kind(page: Any) -> str | None:
    if isinstance(page, dict):
        if isinstance(page.get("items"), list):
            return "recently_played"
        artists = page.get("artists")
        if isinstance(artists, dict) and isinstance(artists.get("items"), list):
            return "following_artists"
    return None


def _kind_of_key(key: str) -> str | None:
    try:
        return parse_key(key).kind
    except ValueError:
        return None


def _user_of_key(key: str) -> str | None:
    try:
        return parse_key(key).user
    except ValueError:
        return None


def dump(envelope: Mapping[str, Any]) -> bytes:
    """Serialize: UTF-8, compact. Key order is the envelope's own (fixed by construction) and each
    response keeps Spotify's key order, so the same envelope always gives the same bytes."""
    return json_bytes(envelope, separators=(",", ":"))


# A lone UTF-16 surrogate (U+D800..U+DFFF) is what json.loads makes of Spotify's "\ud800" escape.
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_bytes(value: Any, **kwargs: Any) -> bytes:
    """JSON as UTF-8 bytes, non-ASCII kept as it is, except a lone surrogate, which UTF-8 cannot
    encode: it is written back as the ``\\udXXX`` escape Spotify sent, so the file holds exactly
    what was received and the rest of the page (the other 49 plays) is never lost over one name.
    Surrogates only ever stand inside JSON strings, where the escape means the same value."""
    text = json.dumps(value, ensure_ascii=False, **kwargs)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")
