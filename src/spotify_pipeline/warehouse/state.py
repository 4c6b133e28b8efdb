"""``StateStore`` backed by the ``app_state`` table: what the Spotify client remembers between runs
(a 429 "paused until", the endpoints this app may not use). It survives runs and is shared by
every worker that uses the same warehouse.

Never tokens: they live in the token store (a 0600 file). ``set`` refuses values that look like
credentials so a mistake cannot copy a secret into a database that backups and dashboards read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from . import schema as s
from .upsert import upsert

_SECRET_WORDS = ("token", "secret", "password")


class WarehouseStateStore:
    def __init__(self, engine: Engine, now: Callable[[], datetime] | None = None) -> None:
        self._engine = engine
        self._now = now or (lambda: datetime.now(UTC))

    def get(self, key: str) -> dict[str, Any] | None:
        with self._engine.connect() as conn:
            value = conn.execute(select(s.app_state.c.value).where(s.app_state.c.key == key)).scalar()
        if value is None:
            return None
        loaded = json.loads(value)
        if not isinstance(loaded, dict):
            raise ValueError(f"app_state {key!r} holds {type(loaded).__name__}, expected a JSON object")
        return loaded

    def set(self, key: str, value: dict[str, Any]) -> None:
        if not isinstance(value, dict):
            raise TypeError(f"state {key!r}: value must be a dict, not {type(value).__name__}")
        _refuse_secrets(key, value)
        row = {"key": key, "value": json.dumps(value, sort_keys=True, default=str), "updated_at": self._now()}
        with self._engine.begin() as conn:
            upsert(conn, s.app_state, [row], ["key"], ["value", "updated_at"])

    def keys(self) -> list[str]:
        with self._engine.connect() as conn:
            return sorted(conn.execute(select(s.app_state.c.key)).scalars())


def _refuse_secrets(where: str, value: Any) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and any(word in k.lower() for word in _SECRET_WORDS):
                raise ValueError(
                    f"state {where!r}: field {k!r} looks like a credential; keep it in the token store"
                )
            _refuse_secrets(where, v)
    elif isinstance(value, list):
        for v in value:
            _refuse_secrets(where, v)
