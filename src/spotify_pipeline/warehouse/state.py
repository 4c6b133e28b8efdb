"""``StateStore`` backed by the ``app_state`` table: what the Spotify client remembers between runs
(a 429 "paused until", the endpoints this app may not use). It survives runs and is shared by
every worker that uses the same warehouse.

Never tokens: they live in the token store (a 0600 file). ``set`` refuses values that look like
credentials so a mistake cannot copy a secret into a database that backups and dashboards read.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..errors import ConfigError, WarehouseError
from . import schema as s
from .upsert import upsert

log = logging.getLogger(__name__)

_SECRET_WORDS = ("token", "secret", "password")

# What failing to reach the warehouse raises: the driver's connection errors (refused, timed out,
# gone away, a read-only or missing SQLite file), the OS's, a bad URL or a missing driver module.
# Not IntegrityError, DataError or ProgrammingError: those are about the data, and treating them
# as an outage would defer that data's bookkeeping forever.
WAREHOUSE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeout,
    OSError,
    ConfigError,
    WarehouseError,  # the engine layer's one-line wrapper of the errors above
    ImportError,
)


def describe_outage(exc: BaseException) -> str:
    """One line, without SQL or parameters: the driver's own words when there are some."""
    orig = getattr(exc, "orig", None)
    inner = orig if orig is not None else exc
    text = " ".join(str(inner).split())[:300]
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__


class WarehouseStateStore:
    def __init__(
        self, engine: Engine | Callable[[], Engine], now: Callable[[], datetime] | None = None
    ) -> None:
        # A callable is resolved at the first use: building the engine connects (and migrates), and
        # a fetch must get as far as landing its plays before it needs the warehouse.
        self._engine = engine
        self._now = now or (lambda: datetime.now(UTC))

    @property
    def engine(self) -> Engine:
        return self._engine if isinstance(self._engine, Engine) else self._engine()

    def get(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return get_in(conn, key)

    def set(self, key: str, value: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            set_in(conn, key, value, self._now())

    def keys(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(conn.execute(select(s.app_state.c.key)).scalars())


def get_in(conn: Connection, key: str) -> dict[str, Any] | None:
    """``key``'s value read on an open connection (inside the caller's transaction)."""
    value = conn.execute(select(s.app_state.c.value).where(s.app_state.c.key == key)).scalar()
    if value is None:
        return None
    loaded = json.loads(value)
    if not isinstance(loaded, dict):
        raise ValueError(f"app_state {key!r} holds {type(loaded).__name__}, expected a JSON object")
    return loaded


def set_in(conn: Connection, key: str, value: dict[str, Any], now: datetime) -> None:
    """Write ``key`` on an open connection, so it commits with the caller's other writes."""
    if not isinstance(value, dict):
        raise TypeError(f"state {key!r}: value must be a dict, not {type(value).__name__}")
    _refuse_secrets(key, value)
    row = {"key": key, "value": json.dumps(value, sort_keys=True, default=str), "updated_at": now}
    upsert(conn, s.app_state, [row], ["key"], ["value", "updated_at"])


class OutageTolerantStateStore:
    """The state the Spotify client reads (the pause, the app's capabilities): the warehouse's, or,
    once the warehouse cannot be reached, this run's memory.

    Capture must not depend on the warehouse: with the database down a fetch cannot see
    a recorded pause, so it calls Spotify and honours a 429 if one comes (this run stops; the pause
    is kept in ``unsaved`` for the bookkeeping to write once the warehouse is back). After the first
    failure the warehouse is not tried again in this run: each try could cost a connect timeout.
    """

    def __init__(self, inner: WarehouseStateStore) -> None:
        self.inner = inner
        self.outage: str | None = None
        self.unsaved: dict[str, dict[str, Any]] = {}
        self._memory: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        if self.outage is None:
            try:
                return self.inner.get(key)
            except WAREHOUSE_ERRORS as exc:
                self.unreachable(exc)
        value = self._memory.get(key)
        return copy.deepcopy(value) if value is not None else None

    def set(self, key: str, value: dict[str, Any]) -> None:
        _refuse_secrets(key, value)
        self._memory[key] = copy.deepcopy(value)
        if self.outage is None:
            try:
                self.inner.set(key, value)
                return
            except WAREHOUSE_ERRORS as exc:
                self.unreachable(exc)
        self.unsaved[key] = value

    def unreachable(self, exc: BaseException) -> str:
        """Remember that the warehouse failed (first reason wins) and return the reason."""
        if self.outage is None:
            self.outage = describe_outage(exc)
            log.warning(
                "the warehouse is unreachable (%s): a recorded rate-limit pause cannot be checked; "
                "fetching anyway and landing first",
                self.outage,
            )
        return self.outage


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
