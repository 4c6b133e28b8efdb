"""The registry of listeners: one ``app_state`` row ``listener:<name>`` per user the pipeline serves.

In the warehouse because every worker reaches it (an Airflow run reads the list at run time and maps
its tasks over it); one row per name, so adding or removing one is a single-row write that never
races another. The values hold no credentials (``app_state`` refuses them): tokens live in the
token store.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, delete, select

from . import schema as s

PREFIX = "listener:"


def add(conn: Connection, name: str, now: datetime) -> bool:
    """Register ``name``; False when it already was (nothing changes then)."""
    key = PREFIX + name
    if conn.execute(select(s.app_state.c.key).where(s.app_state.c.key == key)).first() is not None:
        return False
    value = json.dumps({"added_at": now.isoformat()}, sort_keys=True)
    conn.execute(s.app_state.insert().values(key=key, value=value, updated_at=now))
    return True


def remove(conn: Connection, name: str) -> bool:
    """Forget ``name``; False when it was not registered."""
    return conn.execute(delete(s.app_state).where(s.app_state.c.key == PREFIX + name)).rowcount == 1


def names(conn: Connection) -> list[str]:
    """Every registered listener, sorted."""
    keys = conn.execute(
        select(s.app_state.c.key).where(s.app_state.c.key.startswith(PREFIX, autoescape=True))
    )
    return sorted(k[len(PREFIX) :] for k in keys.scalars())
