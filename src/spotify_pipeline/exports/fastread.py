"""Decode a whole export file at once with msgspec, or say that the exact streaming path must read it.

A Spotify export file is at most ~15 MB of small records. msgspec decodes such a file straight into
``shapes`` Structs about 10x faster than the streaming reader (``jsonstream``) walks it, but on the
first problem it can only say "this file is not clean", not which record is bad or why. So a file
takes the fast path only when everything the exact path would report is known to be absent:

* the file is at most ``FAST_MAX_FILE_BYTES`` (memory: its bytes and its records at once);
* every byte is UTF-8 (the exact path names the offset of the first one that is not; msgspec
  does not even look at the bytes of a key it skips);
* it decodes as one JSON array of objects, with nothing after it (msgspec refuses NaN, a lone
  surrogate escape, a number beyond a double, a non-object element: all left to the exact path);
* no element is longer than ``FAST_MAX_RECORD_BYTES``, nor, above ``_DEPTH_CHECK_BYTES``, holds more
  than ``_MAX_OPENERS`` brackets: so no record can be over the record cap, nested deeper than the
  standard library's decoder goes, or hold a number too long to convert (4,300 digits), which are
  the exact path's "skipped" records.

Anything else returns None and the caller streams the file exactly as before (``FileReader``): a
good file is fast, a bad one is reported record by record. ``tests/property/test_fastread.py``
checks on arbitrary and damaged input that both paths give the same records and the same reports.
"""

from __future__ import annotations

from typing import IO

import msgspec

from .shapes import AccountFields, ExtendedFields, Fields

#: Largest file decoded whole; a larger one (never a Spotify file) is streamed, in bounded memory.
FAST_MAX_FILE_BYTES = 24 * 1024 * 1024
#: Longest record (bytes of its JSON) the fast path takes: real ones are under 2 KB, and 4,096 bytes
#: cannot hold a 4,300-digit number nor come near ``limits.MAX_RECORD_CHARS``.
FAST_MAX_RECORD_BYTES = 4096
_DEPTH_CHECK_BYTES = 512
_MAX_OPENERS = 100
_BOM = b"\xef\xbb\xbf"

_RAW = msgspec.json.Decoder(list[msgspec.Raw])
_DECODERS: dict[
    bool, msgspec.json.Decoder[list[AccountFields]] | msgspec.json.Decoder[list[ExtendedFields]]
] = {
    True: msgspec.json.Decoder(list[AccountFields]),
    False: msgspec.json.Decoder(list[ExtendedFields]),
}


def read_capped(stream: IO[bytes], declared: int, limit: int | None = None) -> bytes | None:
    """The stream's bytes, or None when its declared size or what it gives is over ``limit`` (then it
    is streamed instead). Read in chunks: nothing is allocated for bytes the file does not hold."""
    limit = FAST_MAX_FILE_BYTES if limit is None else limit
    if declared > limit:
        return None
    parts, total = [], 0
    while chunk := stream.read(1 << 20):
        parts.append(chunk)
        total += len(chunk)
        if total > limit:
            return None
    return b"".join(parts)


def decode_fast(data: bytes, account: bool) -> list[Fields] | None:
    """Every record of an export file's bytes, or None when the exact path must read it (see above)."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    try:
        elements = _RAW.decode(data)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None
    for raw in elements:
        size = len(raw)
        if size > _DEPTH_CHECK_BYTES:
            if size > FAST_MAX_RECORD_BYTES:
                return None
            text = bytes(raw)
            if text.count(b"[") + text.count(b"{") > _MAX_OPENERS:
                return None
    del elements
    try:
        records: list[Fields] = list(_DECODERS[account].decode(data))
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError, RecursionError):
        return None
    return records
