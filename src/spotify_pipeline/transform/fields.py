"""Checked access to fields of untrusted JSON objects.

Every reader raises ``BadField`` with a reason that names the field; the callers turn it into
``MalformedRecord``/``MalformedRawObject`` with the file and record index. Checking types here,
once, is what lets the transform promise that junk input raises only those two errors.
"""

from __future__ import annotations

import math
from typing import Any

# The warehouse stores counts in signed 32-bit INTEGER columns on every engine.
INT_MAX = 2**31 - 1


class BadField(ValueError):
    """A field is missing or has the wrong type. ``str()`` is the reason, naming the field."""


def obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadField(f"{where} is {_kind(value)}, expected an object")
    return value


def opt_obj(parent: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = parent.get(key)
    return None if value is None else obj(value, f"{where}.{key}")


def req_list(parent: dict[str, Any], key: str, where: str) -> list[Any]:
    value = parent.get(key)
    if not isinstance(value, list):
        raise BadField(f"{where}.{key} is {_kind(value)}, expected a list")
    return value


def opt_list(parent: dict[str, Any], key: str, where: str) -> list[Any] | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise BadField(f"{where}.{key} is {_kind(value)}, expected a list")
    return value


def req_str(parent: dict[str, Any], key: str, where: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise BadField(f"{where}.{key} is {_kind(value)}, expected a non-empty string")
    return value


def opt_str(parent: dict[str, Any], key: str, where: str) -> str | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadField(f"{where}.{key} is {_kind(value)}, expected a string")
    return value


def opt_int(parent: dict[str, Any], key: str, where: str) -> int | None:
    value = parent.get(key)
    if value is None:
        return None
    # bool is an int in Python; JSON true is not a count.
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadField(f"{where}.{key} is {_kind(value)}, expected an integer")
    if not 0 <= value <= INT_MAX:
        raise BadField(f"{where}.{key} = {value} is out of range 0..{INT_MAX}")
    return value


def opt_bool(parent: dict[str, Any], key: str, where: str) -> bool | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise BadField(f"{where}.{key} is {_kind(value)}, expected true or false")
    return value


def opt_float(parent: dict[str, Any], key: str, where: str) -> float | None:
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadField(f"{where}.{key} is {_kind(value)}, expected a number")
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        raise BadField(f"{where}.{key} is {value!r}, expected a finite number")
    return result


def _kind(value: Any) -> str:
    if value is None:
        return "missing or null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}" if value else "an empty string"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return f"a {type(value).__name__}"
