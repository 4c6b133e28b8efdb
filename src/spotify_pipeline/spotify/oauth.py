"""PKCE and the token endpoint of accounts.spotify.com: pure request helpers, no interaction.

``make_pkce_pair``/``pkce_challenge`` (RFC 7636), ``authorize_url``, and the three ways a token
comes to be: ``exchange_code`` (a login), ``refresh`` (every hour) and ``token_from_grant`` (a body
obtained another way). Facts used here are in spotify-api.md §3.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from ..errors import AuthError, ConfigError, LoginRequired, SpotifyApiError
from ..redact import redact, register_secret
from .tokens import TokenState

TOKEN_ENDPOINT = "POST /api/token"
RELOGIN = "run `spotify-pipeline auth login` again"


# --- PKCE (RFC 7636) ------------------------------------------------------------------------


def pkce_challenge(verifier: str) -> str:
    """S256 challenge: base64url(SHA-256(verifier)) without '=' padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def make_pkce_pair() -> tuple[str, str]:
    """(verifier, challenge). 64 random bytes give an 86-character base64url verifier (43..128 allowed)."""
    verifier = secrets.token_urlsafe(64)
    return verifier, pkce_challenge(verifier)


def authorize_url(
    accounts_url: str,
    client_id: str,
    redirect_uri: str,
    scopes: list[str] | tuple[str, ...],
    state: str,
    code_challenge: str | None,
) -> str:
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
        "scope": " ".join(scopes),
    }
    if code_challenge is not None:
        params["code_challenge_method"] = "S256"
        params["code_challenge"] = code_challenge
    return f"{accounts_url.rstrip('/')}/authorize?{urlencode(params)}"


# --- token endpoint ---------------------------------------------------------------------------


class TokenEndpointError(AuthError):
    """The token endpoint refused a grant (a 4xx with an RFC 6749 error body)."""

    def __init__(self, message: str, status: int, error: str, description: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.description = description


def _basic(client_id: str, client_secret: str) -> str:
    raw = f"{client_id}:{client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _post_token(
    http: httpx.Client, accounts_url: str, data: dict[str, str], client_id: str, client_secret: str | None
) -> dict[str, Any]:
    """POST the form; return the JSON body of a 200. Raises TokenEndpointError on a refused grant,
    SpotifyApiError on a server failure (5xx, garbage), httpx.TransportError on no answer."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if client_secret is not None:
        # Confidential client: credentials in the Basic header (the documented form).
        headers["Authorization"] = _basic(client_id, client_secret)
    else:
        data = {**data, "client_id": client_id}
    response = http.post(f"{accounts_url.rstrip('/')}/api/token", data=data, headers=headers)
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200:
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise SpotifyApiError(200, "the token response is not the expected JSON object", TOKEN_ENDPOINT)
        return body
    # Anything but an RFC 6749 error body (a 5xx, a 429, a proxy's page) is a server failure.
    if (
        response.status_code >= 500
        or response.status_code == 429
        or not isinstance(body, dict)
        or not isinstance(body.get("error"), str)
    ):
        text = redact(response.text[:200]).strip() or response.reason_phrase
        raise SpotifyApiError(response.status_code, text, TOKEN_ENDPOINT)
    error = str(body.get("error", "unknown_error"))
    description = redact(str(body.get("error_description", "")))
    detail = f"{error}: {description}" if description else error
    if error == "invalid_client":
        message = (
            f"Spotify rejected the app credentials ({detail}): check client_id and client_secret "
            "(SPOTIFY_PIPELINE_CLIENT_ID, SPOTIFY_PIPELINE_CLIENT_SECRET; leave the secret empty for PKCE)"
        )
    else:
        message = f"Spotify's token endpoint refused the request ({detail})"
    raise TokenEndpointError(message, response.status_code, error, description)


def _token_state(
    body: dict[str, Any],
    now: datetime,
    *,
    client_id: str,
    consented_at: datetime,
    previous_refresh: SecretStr | None,
    previous_scope: str,
) -> TokenState:
    refresh_token = body.get("refresh_token")
    if isinstance(refresh_token, str) and refresh_token:
        new_refresh = SecretStr(refresh_token)
    elif previous_refresh is not None:
        # "When a refresh token is not returned, continue using the existing token."
        new_refresh = previous_refresh
    else:
        raise AuthError(f"Spotify's token response carried no refresh token: {RELOGIN}")
    try:
        expires_in = float(body.get("expires_in", 3600))
    except (TypeError, ValueError):
        expires_in = 3600.0
    scope = body.get("scope")
    return TokenState(
        access_token=SecretStr(str(body["access_token"])),
        refresh_token=new_refresh,
        expires_at=now + timedelta(seconds=expires_in),
        scope=scope if isinstance(scope, str) else previous_scope,
        consented_at=consented_at,
        client_id=client_id,
        token_type=str(body.get("token_type", "Bearer")),
    )


def token_from_grant(body: dict[str, Any], client_id: str, now: datetime) -> TokenState:
    """TokenState from a code-exchange response body received at ``now`` (the consent time).

    For callers that obtained the body another way: the demo (``Simulator.grant``) and the
    import of the original system's ``tokens.json``.
    """
    if not isinstance(body.get("access_token"), str):
        raise AuthError("the token response has no access_token")
    return _token_state(
        body, now, client_id=client_id, consented_at=now, previous_refresh=None, previous_scope=""
    )


def exchange_code(
    http: httpx.Client,
    accounts_url: str,
    client_id: str,
    client_secret: str | None,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
    now: datetime,
) -> TokenState:
    """Trade an authorization code for tokens. The consent time is ``now``."""
    register_secret(code)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if code_verifier is not None:
        data["code_verifier"] = code_verifier
    if client_secret is None and code_verifier is None:
        raise ConfigError("no client_secret and no PKCE code_verifier: one of them is needed to log in")
    try:
        body = _post_token(http, accounts_url, data, client_id, client_secret)
    except TokenEndpointError as exc:
        if exc.error == "invalid_grant":
            raise AuthError(
                f"Spotify refused the authorization code ({exc.description or exc.error}): {RELOGIN}"
            ) from None
        raise
    return token_from_grant(body, client_id, now)


def refresh(
    http: httpx.Client, accounts_url: str, state: TokenState, client_secret: str | None, now: datetime
) -> TokenState:
    """A fresh access token. Keeps the old refresh token when none comes back, and the consent time.

    ``invalid_grant`` (revoked, or past its 6-month life) raises LoginRequired: retrying cannot help.
    """
    data = {"grant_type": "refresh_token", "refresh_token": state.refresh_token.get_secret_value()}
    try:
        body = _post_token(http, accounts_url, data, state.client_id, client_secret)
    except TokenEndpointError as exc:
        if exc.error == "invalid_grant":
            raise LoginRequired(
                f"Spotify refused the refresh token ({exc.description or exc.error})"
            ) from None
        raise
    return _token_state(
        body,
        now,
        client_id=state.client_id,
        consented_at=state.consented_at,
        previous_refresh=state.refresh_token,
        previous_scope=state.scope,
    )
