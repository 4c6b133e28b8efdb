"""Token state and where it is kept.

``TokenState`` is what a login produces and every refresh updates. The consent time is kept
across refreshes because Spotify's refresh tokens die 6 months after the user consented, and
refreshing does not extend that (spotify-api.md §3.2).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from pydantic import SecretStr

from ..errors import ConfigError
from ..fsutil import fsync_dir
from ..redact import register_secrets

log = logging.getLogger(__name__)

# "Refresh tokens ... have a lifetime of 6 months"; 182 days is the shortest 6 months can be.
REFRESH_TOKEN_LIFETIME = timedelta(days=182)
TOKEN_FILE_FORMAT = "spotify-pipeline.tokens/1"
_RELOGIN = "run `spotify-pipeline auth login` again"


@dataclass
class TokenState:
    access_token: SecretStr
    refresh_token: SecretStr
    expires_at: datetime
    scope: str
    consented_at: datetime
    client_id: str
    token_type: str = "Bearer"
    # The store's version of this state: 0 until stored. A refresh saves its result only when the
    # store still holds the version it refreshed (compare-and-set, ``TokenStore.replace``).
    version: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        for name in ("expires_at", "consented_at"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"TokenState.{name} must be timezone-aware")
        # Every token this process holds is masked in logs from the moment it exists.
        register_secrets([self.access_token, self.refresh_token])

    @property
    def refresh_expires_at(self) -> datetime:
        return self.consented_at + REFRESH_TOKEN_LIFETIME

    def days_left(self, now: datetime) -> float:
        """Days left of the refresh token's 6-month life (negative once it is past)."""
        return (self.refresh_expires_at - now) / timedelta(days=1)

    def access_expired(self, now: datetime, margin: timedelta = timedelta(seconds=60)) -> bool:
        """True when the access token is gone or will be within ``margin`` (refresh before, not after)."""
        return now >= self.expires_at - margin

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())

    # --- storage only: these carry the secrets in clear -----------------------------------
    def to_json(self) -> str:
        return json.dumps(
            {
                "format": TOKEN_FILE_FORMAT,
                "access_token": self.access_token.get_secret_value(),
                "refresh_token": self.refresh_token.get_secret_value(),
                "token_type": self.token_type,
                "expires_at": self.expires_at.isoformat(),
                "scope": self.scope,
                "consented_at": self.consented_at.isoformat(),
                "client_id": self.client_id,
                "version": self.version,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> TokenState:
        """Parse what ``to_json`` wrote. Raises ValueError (never showing a token) when it is not that."""
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON (line {exc.lineno}, column {exc.colno})") from None
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        missing = [
            k
            for k in ("access_token", "refresh_token", "expires_at", "consented_at", "client_id")
            if not isinstance(data.get(k), str) or not data.get(k)
        ]
        if missing:
            raise ValueError("missing or empty field(s): " + ", ".join(missing))
        try:
            expires_at = datetime.fromisoformat(data["expires_at"])
            consented_at = datetime.fromisoformat(data["consented_at"])
        except ValueError:
            raise ValueError("expires_at/consented_at are not ISO-8601 times") from None
        if expires_at.tzinfo is None or consented_at.tzinfo is None:
            raise ValueError("expires_at/consented_at have no time zone")
        return cls(
            access_token=SecretStr(data["access_token"]),
            refresh_token=SecretStr(data["refresh_token"]),
            expires_at=expires_at,
            scope=str(data.get("scope", "")),
            consented_at=consented_at,
            client_id=data["client_id"],
            token_type=str(data.get("token_type", "Bearer")),
            version=_version(data.get("version")),
        )


def _version(value: Any) -> int:
    # Files written before versions existed hold none: version 0.
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


class TokenStore(Protocol):
    """One user's token state. ``save`` (a login) writes unconditionally; ``replace`` and
    ``delete_if`` write only while the store still holds ``old``'s version, so a worker that lost a
    refresh race to another never overwrites or deletes the newer token (it re-reads instead)."""

    def load(self) -> TokenState | None: ...
    def save(self, state: TokenState) -> None: ...
    def delete(self) -> bool | None: ...
    def replace(self, old: TokenState, new: TokenState) -> bool: ...
    def delete_if(self, old: TokenState) -> bool: ...


class MemoryTokenStore:
    """Keeps the token in memory: tests and the demo."""

    def __init__(self, state: TokenState | None = None) -> None:
        self._state = state
        self.saves = 0

    def load(self) -> TokenState | None:
        return self._state

    def save(self, state: TokenState) -> None:
        state.version = (self._state.version if self._state is not None else 0) + 1
        self._state = state
        self.saves += 1

    def delete(self) -> bool:
        had, self._state = self._state is not None, None
        return had

    def replace(self, old: TokenState, new: TokenState) -> bool:
        if self._state is None or self._state.version != old.version:
            return False
        self.save(new)
        return True

    def delete_if(self, old: TokenState) -> bool:
        if self._state is None or self._state.version != old.version:
            return False
        return self.delete()

    def __repr__(self) -> str:
        return f"MemoryTokenStore(holds_token={self._state is not None})"


class FileTokenStore:
    """A JSON file readable by its owner only (0600), in a 0700 folder, replaced atomically.

    A crash while saving leaves the previous file intact: the new content goes to a temporary
    file in the same folder (created 0600, so the token is never world-readable, not even for a
    moment), is fsynced, then renamed over the old one.

    The path comes from a setting, so it may name anything (as root, ``/etc/hosts``): the file is
    changed (tightened to 0600, replaced, deleted) only once it is known to be a token store of
    ours. A symbolic link is refused: the rename would replace the link with a file and leave the
    rotated-out refresh token behind in the link's target.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> TokenState | None:
        text = self._read()
        if text is None:
            return None
        try:
            state = TokenState.from_json(text)
        except ValueError as exc:
            if not _looks_ours(text):
                raise self._foreign(str(exc)) from None
            raise ConfigError(f"token file {self.path} is corrupt ({exc}): {_RELOGIN}") from None
        mode = self.path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning(
                "token file %s is readable by others (mode %o); tightening it to 0600", self.path, mode
            )
            with contextlib.suppress(OSError):
                os.chmod(self.path, 0o600)
        return state

    def save(self, state: TokenState) -> None:
        with self._locked():
            text = self._read()
            if text is not None and text.strip() and not _looks_ours(text):
                raise self._foreign("it would be overwritten")
            state.version = self._stored_version(text) + 1
            self._write(state)

    def replace(self, old: TokenState, new: TokenState) -> bool:
        """Save ``new`` only while the file still holds ``old``'s version (under a lock file)."""
        with self._locked():
            text = self._read()
            if text is None or not text.strip() or self._stored_version(text) != old.version:
                return False
            new.version = old.version + 1
            self._write(new)
            return True

    def delete_if(self, old: TokenState) -> bool:
        """Delete only while the file still holds ``old``'s version: never a newer login or refresh."""
        with self._locked():
            text = self._read()
            if text is None or self._stored_version(text) != old.version:
                return False
            self.path.unlink(missing_ok=True)
            return True

    @staticmethod
    def _stored_version(text: str | None) -> int:
        try:
            data = json.loads(text or "")
        except (ValueError, RecursionError):
            return 0
        return _version(data.get("version")) if isinstance(data, dict) else 0

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock on the token folder itself (no lock file left behind): compare and write
        are one step for every process of this host. Across hosts, use the shared token store
        (``token_store_url``): locks on network file systems are not to be relied on."""
        import fcntl  # deferred: POSIX only; the rest of the module (and MemoryTokenStore) works anywhere

        folder = self.path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _write(self, state: TokenState) -> None:
        folder = self.path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file with mode 0600.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(state.to_json())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        fsync_dir(folder)

    def delete(self) -> bool:
        """Remove the stored tokens; False when there were none. A foreign file is never removed."""
        text = self._read()
        if text is None:
            return False
        if text.strip() and not _looks_ours(text):
            raise self._foreign("it would be deleted")
        with self._locked():
            self.path.unlink(missing_ok=True)
        return True

    def _read(self) -> str | None:
        """The file's text, None when there is none; refuses links, devices, folders, huge files."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"token file {self.path} cannot be read ({exc.strerror}): {_RELOGIN}") from None
        if stat.S_ISLNK(st.st_mode):
            raise ConfigError(
                f"token file {self.path} is a symbolic link: refusing it, since saving a refreshed token "
                "would replace the link and leave the old token in its target. Set token_file "
                "(SPOTIFY_PIPELINE_TOKEN_FILE) to the real path"
            )
        if not stat.S_ISREG(st.st_mode):
            raise self._foreign("it is not a regular file")
        if st.st_size > _MAX_TOKEN_FILE:
            raise self._foreign(f"{st.st_size} bytes is far more than a token store holds")
        try:
            return self.path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise self._foreign("it is not UTF-8 text") from None
        except OSError as exc:
            raise ConfigError(f"token file {self.path} cannot be read ({exc.strerror}): {_RELOGIN}") from None

    def _foreign(self, why: str) -> ConfigError:
        return ConfigError(
            f"token file {self.path} is not a spotify-pipeline token store ({why}); it was left untouched. "
            "Set token_file (SPOTIFY_PIPELINE_TOKEN_FILE) to a path of its own, then run "
            "`spotify-pipeline auth login` again"
        )

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"


_MAX_TOKEN_FILE = 64 * 1024


def _looks_ours(text: str) -> bool:
    """A token store of ours (possibly damaged by hand): a JSON object in our format, or one holding
    a refresh token. Anything else is someone else's file, whatever its name."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and (data.get("format") == TOKEN_FILE_FORMAT or "refresh_token" in data)
