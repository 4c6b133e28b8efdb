"""The project's own errors. Every message is meant for a person: it names the file, record or
setting at fault and says what to do. No message ever contains a secret."""

from __future__ import annotations

from datetime import datetime


class PipelineError(Exception):
    """Base class: a failure the user should read. ``str(err)`` is a one-line reason."""


class ConfigError(PipelineError):
    """A setting is missing or wrong. The message names the setting (and its env var)."""


class AuthError(PipelineError):
    """Authorization failed in a way a retry will not fix."""


class LoginRequired(AuthError):
    """The refresh token is gone, revoked or expired (``invalid_grant``): the user must log in again."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason}: run `spotify-pipeline auth login` again")
        self.reason = reason


class SpotifyApiError(PipelineError):
    """An error answer from the Web API that the client could not recover from."""

    def __init__(self, status: int, message: str, endpoint: str) -> None:
        super().__init__(f"Spotify answered {status} on {endpoint}: {message}")
        self.status = status
        self.api_message = message
        self.endpoint = endpoint


class SpotifyUnreachable(SpotifyApiError):
    """No answer at all (connection refused, DNS, TLS, timeouts) after the retries: there is no
    status to report, so the message names the host that could not be reached."""

    def __init__(self, host: str, message: str, endpoint: str) -> None:
        PipelineError.__init__(self, f"could not reach {host}: {message} ({endpoint})")
        self.status = 0
        self.api_message = message
        self.endpoint = endpoint
        self.host = host


class PagingLoopError(PipelineError):
    """A paginator saw the same cursor twice: stop instead of looping forever."""


class RateLimitPaused(PipelineError):
    """Spotify asked us to wait longer than we wait inside a run. Later runs skip until ``until``."""

    def __init__(self, until: datetime, reason: str) -> None:
        super().__init__(f"{reason}; paused until {until.isoformat()}, later runs skip until then")
        self.until = until
        self.reason = reason


class QuotaExceeded(RateLimitPaused):
    """The app's quota is used up (429 with reason QUOTA_EXCEEDED)."""


class WarehouseError(PipelineError):
    """The warehouse cannot be reached, opened or used (names the warehouse, never its password)."""


class StoreError(PipelineError):
    """The raw zone could not be read or written."""


class MalformedRawObject(PipelineError):
    """A landed object could not be parsed. It is quarantined; the rest of the batch loads."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"malformed raw object {key}: {reason}")
        self.key = key
        self.reason = reason


class MalformedRecord(PipelineError):
    """One record of a file is malformed. Names the file and the record's index."""

    def __init__(self, source: str, index: int | str, reason: str) -> None:
        super().__init__(f"{source} record {index}: {reason}")
        self.source = source
        self.index = index
        self.reason = reason
