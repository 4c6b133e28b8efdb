"""The shared token store's table: one row per listener, holding only ciphertext and a version.

Apart from the warehouse schema (own ``MetaData``, created on first use, no migration): it may live
in the warehouse's database or in any other database every worker reaches (``token_store_url``).
The row never holds a readable token: the jobs layer encrypts before it writes (``spotify/sealed``).
Every write is a compare-and-set on ``version``, so two workers refreshing the same login at once
cannot overwrite or delete each other's newer token.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, Text, delete, select, update
from sqlalchemy.exc import IntegrityError

from .schema import MYSQL_OPTIONS
from .types import UtcDateTime

token_metadata = MetaData()
token_state = Table(
    "spotify_token_state",
    token_metadata,
    Column("user_name", String(191), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("ciphertext", Text, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    **MYSQL_OPTIONS,
)

_created: set[str] = set()
_create_lock = threading.Lock()


class Sealed(NamedTuple):
    version: int
    ciphertext: str


class TokenTable:
    """Compare-and-set access to ``spotify_token_state`` for one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        key = repr(engine.url)
        with _create_lock:
            if key not in _created:
                token_metadata.create_all(engine, checkfirst=True)
                _created.add(key)

    def read(self, user: str) -> Sealed | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(token_state.c.version, token_state.c.ciphertext).where(token_state.c.user_name == user)
            ).first()
        return Sealed(int(row[0]), str(row[1])) if row is not None else None

    def put(self, user: str, ciphertext: str) -> int:
        """Write unconditionally (a login); returns the new version."""
        for _ in range(3):
            with self.engine.begin() as conn:
                current = conn.execute(
                    select(token_state.c.version).where(token_state.c.user_name == user)
                ).scalar()
                if current is None:
                    try:
                        conn.execute(token_state.insert().values(self._row(user, 1, ciphertext)))
                        return 1
                    except IntegrityError:  # another login inserted first: update over it
                        continue
            swapped = self.swap(user, int(current), ciphertext)
            if swapped is not None:
                return swapped
        raise RuntimeError(f"the token of user {user!r} kept changing while a login was saved")

    def swap(self, user: str, expected: int, ciphertext: str) -> int | None:
        """Write only while the row is at ``expected``; the new version, or None when it was not."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(token_state)
                .where(token_state.c.user_name == user, token_state.c.version == expected)
                .values(version=expected + 1, ciphertext=ciphertext, updated_at=datetime.now(UTC))
            )
        return expected + 1 if done.rowcount == 1 else None

    def remove(self, user: str, expected: int | None = None) -> bool:
        """Delete the row (only while at ``expected`` when given); True when a row went."""
        stmt = delete(token_state).where(token_state.c.user_name == user)
        if expected is not None:
            stmt = stmt.where(token_state.c.version == expected)
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def users(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(conn.execute(select(token_state.c.user_name)).scalars())

    @staticmethod
    def _row(user: str, version: int, ciphertext: str) -> dict[str, object]:
        return {
            "user_name": user,
            "version": version,
            "ciphertext": ciphertext,
            "updated_at": datetime.now(UTC),
        }
