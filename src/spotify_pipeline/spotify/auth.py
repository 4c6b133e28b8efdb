"""Authorization code flow (with PKCE when there is no client secret) against accounts.spotify.com.

Pure request helpers (``make_pkce_pair``, ``authorize_url``, ``exchange_code``, ``refresh``) and
the interactive ``login``. Facts used here are in spotify-api.md §3.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import secrets
import threading
import webbrowser
from collections.abc import Callable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

from ..clock import Clock
from ..errors import AuthError, ConfigError, LoginRequired, SpotifyApiError, SpotifyUnreachable
from ..redact import redact, register_secret
from ..settings import SCOPES
from .tokens import TokenState, TokenStore

log = logging.getLogger(__name__)

TOKEN_ENDPOINT = "POST /api/token"
_RELOGIN = "run `spotify-pipeline auth login` again"


class _LoginSettings(Protocol):
    """The part of Settings that login needs (kept narrow so tests can pass a stand-in)."""

    client_id: str | None
    client_secret: SecretStr | None
    redirect_uri: str
    accounts_url: str
    request_timeout_seconds: float


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
        raise AuthError(f"Spotify's token response carried no refresh token: {_RELOGIN}")
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
                f"Spotify refused the authorization code ({exc.description or exc.error}): {_RELOGIN}"
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


# --- interactive login ------------------------------------------------------------------------


def parse_callback(url_or_query: str, expected_state: str) -> str:
    """The authorization code from a redirect URL (or its query string), checked against ``state``."""
    text = url_or_query.strip()
    # A full URL, a path with a query (what the loopback server sees), or a bare query string.
    query = urlsplit(text).query if "?" in text else text
    params = {k: v[0] for k, v in parse_qs(query).items() if v}
    if "error" in params:
        if params["error"] == "access_denied":
            raise AuthError(
                "you declined access on Spotify's consent page (error=access_denied): "
                "run `spotify-pipeline auth login` again and choose Agree"
            )
        raise AuthError(f"Spotify's authorization failed (error={params['error']}): {_RELOGIN}")
    if "code" not in params:
        raise AuthError(
            "that is not the redirect URL: it has no `code` parameter. Paste the whole address the "
            "browser was sent to after you agreed (it starts with your redirect URI)"
        )
    # Constant-time compare; the state is what ties this redirect to this login attempt (CSRF).
    if not secrets.compare_digest(params.get("state", ""), expected_state):
        raise AuthError(
            "the redirect's `state` does not match this login attempt (a stale or forged redirect): "
            f"{_RELOGIN} and use the URL it prints"
        )
    return params["code"]


class _CallbackServer:
    """A one-shot HTTP server on 127.0.0.1 that waits for Spotify's redirect."""

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname != "127.0.0.1":
            raise ConfigError(
                f"redirect_uri {redirect_uri!r}: the browser login listens on http://127.0.0.1:PORT/...; "
                "set SPOTIFY_PIPELINE_REDIRECT_URI to such a URI (registered in the Spotify Developer "
                "Dashboard) or use `auth login --no-browser`"
            )
        self.path = parts.path or "/"
        self.result: str | None = None
        self._done = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                target = urlsplit(self.path)
                if target.path != owner.path or not target.query:
                    self._reply(404, "Not the Spotify callback.")
                    return
                owner.result = self.path
                self._reply(
                    200, "Spotify login received. You can close this window and go back to the terminal."
                )
                owner._done.set()

            def _reply(self, status: int, text: str) -> None:
                body = f"<!doctype html><title>spotify-pipeline</title><p>{html.escape(text)}</p>".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                # The default writes the request line, authorization code included, to stderr.
                return

        try:
            self._server = HTTPServer(("127.0.0.1", parts.port or 0), Handler)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on 127.0.0.1:{parts.port} for the login callback ({exc.strerror}): free "
                "the port, or use `auth login --no-browser`"
            ) from None
        port = self._server.server_address[1]
        # A loopback redirect URI registered without a port may use any port (spotify-api.md §3.1).
        netloc = f"127.0.0.1:{port}"
        self.redirect_uri = urlunsplit(("http", netloc, parts.path, parts.query, ""))
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="spotify-login-callback", daemon=True
        )

    def __enter__(self) -> _CallbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait(self, timeout: float) -> str | None:
        self._done.wait(timeout)
        return self.result


def login(
    settings: _LoginSettings,
    token_store: TokenStore,
    *,
    open_browser: bool,
    prompt: Callable[[str], str],
    echo: Callable[[str], None],
    clock: Clock,
    transport: httpx.BaseTransport | None = None,
    callback_timeout: float = 300,
    browser: Callable[[str], bool] = webbrowser.open,
    scopes: tuple[str, ...] = SCOPES,
) -> TokenState:
    """Run the authorization code flow and save the tokens.

    PKCE when ``settings.client_secret`` is None, confidential otherwise. ``open_browser``: listen on
    the redirect URI's 127.0.0.1 port and open the browser; else print the URL and read the pasted
    redirect URL (for use over SSH).
    """
    if not settings.client_id:
        raise ConfigError(
            "client_id is not set (env SPOTIFY_PIPELINE_CLIENT_ID): create an app in the "
            "Spotify Developer Dashboard and set its client id"
        )
    client_id = settings.client_id
    secret = settings.client_secret.get_secret_value() if settings.client_secret is not None else None
    verifier, challenge = make_pkce_pair() if secret is None else (None, None)
    state = secrets.token_urlsafe(24)

    with httpx.Client(transport=transport, timeout=settings.request_timeout_seconds) as http:
        if open_browser:
            with _CallbackServer(settings.redirect_uri) as server:
                redirect_uri = server.redirect_uri
                url = authorize_url(settings.accounts_url, client_id, redirect_uri, scopes, state, challenge)
                echo("Opening your browser to log in to Spotify. If it does not open, visit:\n" + url)
                if not browser(url):
                    echo("Could not start a browser: open the URL above yourself.")
                received = server.wait(callback_timeout)
            if received is None:
                raise AuthError(
                    f"no answer from Spotify on {redirect_uri} within {callback_timeout:.0f} s: run "
                    "`spotify-pipeline auth login` again (or with --no-browser over SSH)"
                )
        else:
            redirect_uri = settings.redirect_uri
            url = authorize_url(settings.accounts_url, client_id, redirect_uri, scopes, state, challenge)
            echo("Open this URL in a browser, log in and agree:\n" + url)
            received = prompt(
                f"Then paste the full address the browser was sent to (it starts with {redirect_uri})"
            )
        code = parse_callback(received, state)
        try:
            token = exchange_code(
                http, settings.accounts_url, client_id, secret, code, redirect_uri, verifier, clock.now()
            )
        except httpx.TransportError as exc:
            raise SpotifyUnreachable(
                httpx.URL(settings.accounts_url).host,
                f"no answer ({type(exc).__name__}: {redact(str(exc))[:120]}); run `spotify-pipeline auth login` again",
                TOKEN_ENDPOINT,
            ) from None

    missing = [s for s in scopes if s not in token.scopes]
    if token.scope and missing:
        echo("Warning: Spotify did not grant " + ", ".join(missing) + "; the calls needing them will fail.")
    token_store.save(token)
    log.info("logged in to Spotify app %s (%s flow)", client_id, "PKCE" if secret is None else "confidential")
    return token
