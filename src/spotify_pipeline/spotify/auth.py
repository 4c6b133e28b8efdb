"""The interactive login: authorization code flow (with PKCE when there is no client secret).

``login`` opens the browser and catches Spotify's redirect on 127.0.0.1 (or, over SSH, prints the
URL and reads the pasted redirect back), checks it (``parse_callback``) and trades the code for
tokens. The request helpers it uses live in ``oauth.py`` and are importable from here too.
Facts used here are in spotify-api.md §3.
"""

from __future__ import annotations

import html
import logging
import secrets
import threading
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

from ..clock import Clock
from ..errors import AuthError, ConfigError, SpotifyUnreachable
from ..settings import SCOPES
from .oauth import (
    RELOGIN,
    TOKEN_ENDPOINT,
    TokenEndpointError,
    authorize_url,
    exchange_code,
    make_pkce_pair,
    pkce_challenge,
    refresh,
    token_from_grant,
)
from .retry import no_answer
from .tokens import TokenState, TokenStore

log = logging.getLogger(__name__)

__all__ = [
    "TOKEN_ENDPOINT",
    "TokenEndpointError",
    "authorize_url",
    "exchange_code",
    "login",
    "make_pkce_pair",
    "parse_callback",
    "pkce_challenge",
    "refresh",
    "token_from_grant",
]


class _LoginSettings(Protocol):
    """The part of Settings that login needs (kept narrow so tests can pass a stand-in)."""

    client_id: str | None
    client_secret: SecretStr | None
    redirect_uri: str
    accounts_url: str
    request_timeout_seconds: float


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
        raise AuthError(f"Spotify's authorization failed (error={params['error']}): {RELOGIN}")
    if "code" not in params:
        raise AuthError(
            "that is not the redirect URL: it has no `code` parameter. Paste the whole address the "
            "browser was sent to after you agreed (it starts with your redirect URI)"
        )
    # Constant-time compare; the state is what ties this redirect to this login attempt (CSRF).
    if not secrets.compare_digest(params.get("state", ""), expected_state):
        raise AuthError(
            "the redirect's `state` does not match this login attempt (a stale or forged redirect): "
            f"{RELOGIN} and use the URL it prints"
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

    def url_for(redirect_uri: str) -> str:
        return authorize_url(settings.accounts_url, client_id, redirect_uri, scopes, state, challenge)

    if open_browser:
        received, redirect_uri = _redirect_by_browser(
            settings.redirect_uri, url_for, echo, browser, callback_timeout
        )
    else:
        redirect_uri = settings.redirect_uri
        echo("Open this URL in a browser, log in and agree:\n" + url_for(redirect_uri))
        received = prompt(
            f"Then paste the full address the browser was sent to (it starts with {redirect_uri})"
        )
    code = parse_callback(received, state)
    with httpx.Client(transport=transport, timeout=settings.request_timeout_seconds) as http:
        try:
            token = exchange_code(
                http, settings.accounts_url, client_id, secret, code, redirect_uri, verifier, clock.now()
            )
        except httpx.TransportError as exc:
            raise SpotifyUnreachable(
                httpx.URL(settings.accounts_url).host,
                f"{no_answer(exc)}; run `spotify-pipeline auth login` again",
                TOKEN_ENDPOINT,
            ) from None

    missing = [s for s in scopes if s not in token.scopes]
    if token.scope and missing:
        echo("Warning: Spotify did not grant " + ", ".join(missing) + "; the calls needing them will fail.")
    token_store.save(token)
    log.info("logged in to Spotify app %s (%s flow)", client_id, "PKCE" if secret is None else "confidential")
    return token


def _redirect_by_browser(
    configured_uri: str,
    url_for: Callable[[str], str],
    echo: Callable[[str], None],
    browser: Callable[[str], bool],
    callback_timeout: float,
) -> tuple[str, str]:
    """Open the authorize URL in the browser and wait for Spotify's redirect on 127.0.0.1.

    Returns what the redirect carried and the redirect URI used (its port may have been chosen here)."""
    with _CallbackServer(configured_uri) as server:
        redirect_uri = server.redirect_uri
        url = url_for(redirect_uri)
        echo("Opening your browser to log in to Spotify. If it does not open, visit:\n" + url)
        if not browser(url):
            echo("Could not start a browser: open the URL above yourself.")
        received = server.wait(callback_timeout)
    if received is None:
        raise AuthError(
            f"no answer from Spotify on {redirect_uri} within {callback_timeout:.0f} s: run "
            "`spotify-pipeline auth login` again (or with --no-browser over SSH)"
        )
    return received, redirect_uri
