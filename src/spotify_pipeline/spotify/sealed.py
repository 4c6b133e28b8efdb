"""Token state encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256, as Airflow encrypts its
connections), with a key kept apart from the store that holds the ciphertext.

``token_key`` may list several keys separated by commas: the first encrypts, every one decrypts,
so a key is rotated by putting the new one first and logging in (or waiting for a refresh) again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError
from .tokens import TokenState

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

_KEY_HINT = (
    "set token_key (SPOTIFY_PIPELINE_TOKEN_KEY) to a Fernet key: "
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


def sealer(keys: str | None) -> MultiFernet:
    """The cipher for ``keys`` (comma-separated Fernet keys); one line naming the setting if unusable."""
    try:  # deferred: optional extra (`shared-tokens`: cryptography), named when missing
        from cryptography.fernet import Fernet, MultiFernet
    except ImportError:
        raise ConfigError(
            "the shared token store needs the cryptography package: pip install 'spotify-pipeline[shared-tokens]'"
        ) from None
    parts = [k.strip() for k in (keys or "").split(",") if k.strip()]
    if not parts:
        raise ConfigError(f"the shared token store (token_store_url) keeps tokens encrypted: {_KEY_HINT}")
    try:
        return MultiFernet([Fernet(k.encode()) for k in parts])
    except ValueError:
        raise ConfigError(
            f"token_key is not a valid Fernet key (32 url-safe base64 bytes): {_KEY_HINT}"
        ) from None


def seal(state: TokenState, cipher: MultiFernet) -> str:
    return cipher.encrypt(state.to_json().encode("utf-8")).decode("ascii")


def unseal(ciphertext: str, cipher: MultiFernet, *, user: str, version: int) -> TokenState:
    """The token state in ``ciphertext``; a ConfigError naming the user when the key does not open it."""
    from cryptography.fernet import InvalidToken  # deferred: optional extra (`shared-tokens`)

    try:
        text = cipher.decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        raise ConfigError(
            f"the stored token of user {user!r} cannot be decrypted with token_key: set the key it was "
            f"saved with (keys may be listed, comma-separated), or run `spotify-pipeline auth login --user {user}`"
        ) from None
    try:
        state = TokenState.from_json(text)
    except ValueError as exc:
        raise ConfigError(f"the stored token of user {user!r} is damaged ({exc}): log in again") from None
    state.version = version
    return state
