"""Everything a job needs, built once from Settings: engine, raw store, token and state stores, client.

Jobs take a ``Runtime`` (or build one); tests and the demo inject a clock, an HTTP transport (the
in-process simulator) and a token store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from ..clock import Clock, SystemClock
from ..errors import ConfigError
from ..landing.store import open_store
from ..redact import register_secrets
from ..settings import Settings
from ..spotify.client import SpotifyClient
from ..warehouse.engine import (
    DbTimeouts,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
    warehouse_errors,
)
from ..warehouse.state import OutageTolerantStateStore, WarehouseStateStore
from .token_stores import open_token_store

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.engine import Engine

    from ..landing.store import RawStore
    from ..spotify.client import SpotifyClient
    from ..spotify.tokens import TokenStore
    from ..warehouse.engine import DbTimeouts
    from ..warehouse.state import OutageTolerantStateStore

_migrate_lock = threading.Lock()


def migrated_engine(url: str, timeouts: DbTimeouts | None = None) -> Engine:
    """An engine whose schema is at the newest migration.

    The revision is checked every time (one cheap query), not remembered per URL: the same URL
    can name a new, empty database later in a long-lived process (a relative SQLite path after a
    chdir, a database dropped and recreated), and a remembered "migrated" would then be a lie.
    """

    engine = make_engine(url, timeouts)
    with _migrate_lock, warehouse_errors(url, timeouts):
        if current_revision(engine) != head_revision():
            upgrade(engine)
    return engine


def checked_engine(url: str, timeouts: DbTimeouts | None = None) -> Engine:
    """An engine whose schema must already be at the newest migration (``auto_migrate = false``:
    migrating is a deploy step, ``spotify-pipeline db upgrade``, never a side effect of a task)."""

    engine = make_engine(url, timeouts)
    with warehouse_errors(url, timeouts):
        current = current_revision(engine)
    if current != head_revision():
        raise ConfigError(
            f"the warehouse is at schema revision {current or 'none'}, this version needs {head_revision()}: "
            "run `spotify-pipeline db upgrade` (or the data pipeline DAG's migrate_warehouse task) first "
            "(setting auto_migrate is false)"
        )
    return engine


@dataclass
class Runtime:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    transport: httpx.BaseTransport | None = None
    token_store_override: TokenStore | None = None
    sleep: Callable[[float], None] = time.sleep
    # An engine the caller built and migrated (``rebuild`` builds into a staging database first).
    engine_override: Engine | None = None

    def __post_init__(self) -> None:
        register_secrets(self.settings.secret_values())

    @cached_property
    def engine(self) -> Engine:
        if self.engine_override is not None:
            return self.engine_override
        build = migrated_engine if self.settings.auto_migrate else checked_engine
        return build(self.settings.warehouse_url.get_secret_value(), DbTimeouts.from_settings(self.settings))

    def use_engine(self, engine: Engine) -> None:
        """Read and write through ``engine`` from now on (one the caller built, e.g. unmigrated)."""
        self.engine_override = engine
        self.__dict__.pop("engine", None)  # the cached_property's value, if it was built

    @cached_property
    def store(self) -> RawStore:
        return open_store(self.settings)

    @cached_property
    def token_store(self) -> TokenStore:
        if self.token_store_override is not None:
            return self.token_store_override

        return open_token_store(self.settings)

    @cached_property
    def state(self) -> OutageTolerantStateStore:
        # Built without connecting: a fetch lands its plays even when the warehouse is down.

        return OutageTolerantStateStore(WarehouseStateStore(lambda: self.engine))

    @cached_property
    def client(self) -> SpotifyClient:
        return SpotifyClient.from_settings(
            self.settings,
            self.token_store,
            self.state,
            clock=self.clock,
            transport=self.transport,
            sleep=self.sleep,
        )

    @classmethod
    def resolve(
        cls,
        settings: Settings,
        runtime: Runtime | None = None,
        *,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        token_store: TokenStore | None = None,
    ) -> Runtime:
        """The runtime a job uses: the caller's, or a new one from the job's keyword arguments."""
        if runtime is not None:
            return runtime
        rt = cls(settings, transport=transport, token_store_override=token_store)
        if clock is not None:
            rt.clock = clock
        return rt

    @property
    def partition_user(self) -> str | None:
        """The user part of raw keys: None keeps the original single-user layout."""
        return self.settings.user if self.settings.user_partition else None
