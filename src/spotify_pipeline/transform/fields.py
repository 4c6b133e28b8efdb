"""Checked access to fields of untrusted JSON objects.

Every reader raises ``BadField`` with a reason that names the field; the callers turn it into
``MalformedRecord``/``MalformedRawObject`` with the file and record index. Checking types here,
once, is what lets the transform promise that junk input raises only those two errors.

The limits below are the warehouse's columns (``warehouse/schema.py`` declares its columns with
them): a value that would not fit is refused here, naming the field, instead of being truncated or
clamped by one engine and kept by the other. Every string is also checked to be valid Unicode: a
lone surrogate (JSON allows ``"\\ud800"``) cannot be stored as UTF-8 by SQLite or MySQL.
"""

from __future__ import annotations

import math
from typing import Any

# Identifiers and codes: bounded columns (VARCHAR), so their indexes stay small.
ID = 64  # Spotify ids are 22 characters; room for other id schemes (users, local ids)
URI = 255
SHORT = 32  # type words: context.type, album_type, metadata kinds
RELEASE_DATE = 10  # "2014-12-29", "2014-12" or "2014"
PRECISION = 8  # "day", "month", "year"
ISRC = 32
# Names and other free text: Spotify sets no limit, so they are TEXT (MEDIUMTEXT on MySQL, which
# holds 16 MiB; a character takes at most 4 bytes in UTF-8).
TEXT_CHARS = (2**24 - 1) // 4
# Counts Spotify keeps small (popularity, track numbers) are signed 32-bit INTEGER columns;
# milliseconds and follower counts can pass 2**31 and are BIGINT.
INT_MAX = 2**31 - 1
BIG_MAX = 2**63 - 1


class BadField(ValueError):
    """A field is missing or has the wrong type. ``str()`` is the reason, naming the field."""


def obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadField(f"{where} is {describe(value)}, expected an object")
    return value


def opt_obj(parent: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = parent.get(key)
    return None if value is None else obj(value, f"{where}.{key}")


def req_list(parent: dict[str, Any], key: str, where: str) -> list[Any]:
    value = parent.get(key)
    if not isinstance(value, list):
        raise BadField(f"{where}.{key} is {describe(value)}, expected a list")
    return value


def opt_list(parent: dict[str, Any], key: str, where: str) -> list[Any] | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise BadField(f"{where}.{key} is {describe(value)}, expected a list")
    return value


def req_str(parent: dict[str, Any], key: str, where: str, limit: int = TEXT_CHARS) -> str:
    """A non-empty string of at most ``limit`` characters."""
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise BadField(f"{where}.{key} is {describe(value)}, expected a non-empty string")
    return text(value, f"{where}.{key}", limit, repair=limit == TEXT_CHARS)


def opt_str(parent: dict[str, Any], key: str, where: str, limit: int = TEXT_CHARS) -> str | None:
    """A string of at most ``limit`` characters, or None."""
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadField(f"{where}.{key} is {describe(value)}, expected a string")
    return text(value, f"{where}.{key}", limit, repair=limit == TEXT_CHARS)


def text(value: str, where: str, limit: int = TEXT_CHARS, *, repair: bool = False) -> str:
    """``value`` if it fits ``limit`` characters and is valid Unicode (storable as UTF-8).

    With ``repair`` (free text such as a track name), a lone surrogate becomes U+FFFD instead of
    refusing the value: the play is real and the rest of its page must load, and the raw zone still
    holds the escape Spotify sent. An identifier or code is never repaired: it would name another
    thing."""
    if len(value) > limit:
        raise BadField(f"{where} is {len(value):,} characters long; the warehouse keeps at most {limit:,}")
    if not value.isascii():  # the usual case skips the encoding
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            if repair:
                return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value)
            raise BadField(
                f"{where} holds a lone surrogate (\\u{ord(value[exc.start]):04x}) at character {exc.start}: "
                "not valid Unicode text"
            ) from None
    return value


def opt_int(parent: dict[str, Any], key: str, where: str, maximum: int = INT_MAX) -> int | None:
    """A count in 0..``maximum`` (INT_MAX for INTEGER columns, BIG_MAX for BIGINT), or None."""
    value = parent.get(key)
    if value is None:
        return None
    # bool is an int in Python; JSON true is not a count.
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadField(f"{where}.{key} is {describe(value)}, expected an integer")
    if not 0 <= value <= maximum:
        raise BadField(f"{where}.{key} = {number(value)} is out of range 0..{maximum}")
    return value


def opt_bool(parent: dict[str, Any], key: str, where: str) -> bool | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise BadField(f"{where}.{key} is {describe(value)}, expected true or false")
    return value


def opt_float(parent: dict[str, Any], key: str, where: str) -> float | None:
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadField(f"{where}.{key} is {describe(value)}, expected a number")
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        raise BadField(f"{where}.{key} is {number(value)}, expected a finite number")
    return result


def describe(value: Any) -> str:
    if value is None:
        return "missing or null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}" if value else "an empty string"
    if isinstance(value, int | float):
        return f"the number {number(value)}"
    return f"a {type(value).__name__}"


def number(value: int | float) -> str:
    # A 5000-digit integer in a reason would be unreadable (and str() of it refuses past 4300 digits).
    if isinstance(value, int) and abs(value) >= 10**30:
        return f"a {'negative ' if value < 0 else ''}{value.bit_length()}-bit integer"
    return repr(value)
