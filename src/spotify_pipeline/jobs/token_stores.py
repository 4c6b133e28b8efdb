"""Which token store a run uses: the 0600 file (one host, the default), or the shared table
(``token_store_url``: encrypted rows every worker and host reaches, compare-and-set per user)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..settings import Settings
from ..spotify.sealed import seal, sealer, unseal
from ..spotify.tokens import FileTokenStore
from ..warehouse.engine import DbTimeouts, make_engine, warehouse_errors
from ..warehouse.token_table import TokenTable

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

    from ..spotify.tokens import TokenState, TokenStore
    from ..warehouse.token_table import TokenTable


class SharedTokenStore:
    """One user's row of the shared table, encrypted with ``token_key``."""

    def __init__(self, table: TokenTable, user: str, cipher: MultiFernet) -> None:
        self.table, self.user, self._cipher = table, user, cipher

    def load(self) -> TokenState | None:
        row = self.table.read(self.user)
        if row is None:
            return None
        return unseal(row.ciphertext, self._cipher, user=self.user, version=row.version)

    def save(self, state: TokenState) -> None:
        state.version = self.table.put(self.user, seal(state, self._cipher))

    def replace(self, old: TokenState, new: TokenState) -> bool:
        version = self.table.swap(self.user, old.version, seal(new, self._cipher))
        if version is None:
            return False
        new.version = version
        return True

    def delete(self) -> bool:
        return self.table.remove(self.user)

    def delete_if(self, old: TokenState) -> bool:
        return self.table.remove(self.user, old.version)

    def __repr__(self) -> str:
        return f"SharedTokenStore(user={self.user!r})"


def user_token_file(settings: Settings, user: str) -> Path:
    """The 0600 file of ``user``: ``token_file`` for the configured user, ``tokens.<user>.json``
    beside it for every other listener of the registry."""
    base = settings.token_file
    if user == settings.user:
        return base
    return base.with_name(f"{base.stem}.{user}{base.suffix or '.json'}")


def open_token_store(settings: Settings) -> TokenStore:
    """The token store of ``settings.user``."""
    if settings.token_store_url is None:
        return FileTokenStore(settings.token_file)

    url = settings.token_store_url.get_secret_value()
    key = settings.token_key.get_secret_value() if settings.token_key is not None else None
    cipher = sealer(key)
    timeouts = DbTimeouts.from_settings(settings)
    with warehouse_errors(url, timeouts):
        table = TokenTable(make_engine(url, timeouts))
    return SharedTokenStore(table, settings.user, cipher)
