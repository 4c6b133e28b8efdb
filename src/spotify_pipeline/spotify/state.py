"""A small key/value store for what the client must remember between runs.

Keys the client uses: ``paused_until`` (a 429 pause) and ``capabilities:<client_id>`` (endpoints
this app may not use). The warehouse provides a store that survives runs; ``MemoryStateStore``
serves tests and one-off runs.
"""

from __future__ import annotations

import copy
from typing import Any, Protocol


class StateStore(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...
    def set(self, key: str, value: dict[str, Any]) -> None: ...


class MemoryStateStore:
    """In-memory store. Values are copied in and out, as a database-backed store would."""

    def __init__(self) -> None:
        self._data: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._data.get(key)
        return copy.deepcopy(value) if value is not None else None

    def set(self, key: str, value: dict[str, Any]) -> None:
        self._data[key] = copy.deepcopy(value)

    def keys(self) -> list[str]:
        return sorted(self._data)
