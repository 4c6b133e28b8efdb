"""Spotify client and auth: tokens, retries, paging, capabilities, typed errors (network only)."""

from .auth import (
    authorize_url,
    exchange_code,
    login,
    make_pkce_pair,
    pkce_challenge,
    refresh,
    token_from_grant,
)
from .capabilities import Capabilities
from .client import PAUSE_KEY, FetchMeta, SpotifyClient
from .paging import CursorNextPaginator, Paginator, same_origin
from .state import MemoryStateStore, StateStore
from .tokens import REFRESH_TOKEN_LIFETIME, FileTokenStore, MemoryTokenStore, TokenState, TokenStore

__all__ = [
    "PAUSE_KEY",
    "REFRESH_TOKEN_LIFETIME",
    "Capabilities",
    "CursorNextPaginator",
    "FetchMeta",
    "FileTokenStore",
    "MemoryStateStore",
    "MemoryTokenStore",
    "Paginator",
    "SpotifyClient",
    "StateStore",
    "TokenState",
    "TokenStore",
    "authorize_url",
    "exchange_code",
    "login",
    "make_pkce_pair",
    "pkce_challenge",
    "refresh",
    "same_origin",
    "token_from_grant",
]
