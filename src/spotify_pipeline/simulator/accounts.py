"""accounts.spotify.com: ``GET /authorize`` and ``POST /api/token``, as strict as Spotify.

Facts from docs/spotify-api.md §3: redirect URIs match exactly (a loopback URI registered without
a port accepts any port), PKCE uses S256, codes are single-use, PKCE refreshes rotate the refresh
token (the old one then answers "Refresh token revoked"), confidential refreshes return none, and a
refresh token dies 6 months after consent whatever refreshing happened.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Request, Response

from ..clock import Clock
from . import bodies
from .state import AuthCode, RefreshToken, SimState, SimulatorConfig, new_token

# Scopes Spotify knows (developer.spotify.com/documentation/web-api/concepts/scopes).
KNOWN_SCOPES = frozenset(
    {
        "ugc-image-upload", "user-read-playback-state", "user-modify-playback-state",
        "user-read-currently-playing", "app-remote-control", "streaming", "playlist-read-private",
        "playlist-read-collaborative", "playlist-modify-private", "playlist-modify-public",
        "user-follow-modify", "user-follow-read", "user-read-playback-position", "user-top-read",
        "user-read-recently-played", "user-library-modify", "user-library-read", "user-read-email",
        "user-read-private", "user-personalized",
    }
)  # fmt: skip
LOOPBACK_HOSTS = ("127.0.0.1", "[::1]")


def json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    resp = Response(bodies.dumps(body), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


def token_error(body: dict[str, str], status: int = 400) -> Response:
    return json_response(body, status)


def error_page(message: str) -> Response:
    """Spotify shows an HTML error page, never a redirect, when client or redirect URI is wrong."""
    html = f"<!DOCTYPE html><html><head><title>Error</title></head><body><h1>{message}</h1></body></html>"
    return Response(html, status=400, content_type="text/html; charset=utf-8")


def redirect_uri_allowed(requested: str, registered: list[str]) -> bool:
    """Exact match, except that a loopback URI registered without a port accepts any port."""
    if requested in registered:
        return True
    parts = urlsplit(requested)
    if parts.scheme != "http" or parts.hostname is None or parts.port is None:
        return False
    host = "[::1]" if parts.hostname == "::1" else parts.hostname
    if host not in LOOPBACK_HOSTS:
        return False
    portless = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return portless in registered


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _with_query(uri: str, params: dict[str, str]) -> str:
    sep = "&" if urlsplit(uri).query else "?"
    return uri + sep + urlencode(params)


class AccountsService:
    """The two accounts endpoints, plus consent without a browser for tests and the demo."""

    def __init__(
        self,
        state: SimState,
        clock: Clock,
        config: Callable[[], SimulatorConfig],
        browser_user: Callable[[], str | None],
    ) -> None:
        self.state = state
        self.clock = clock
        self._config = config
        self._browser_user = browser_user

    # --- GET /authorize -----------------------------------------------------------------------
    def authorize(self, request: Request) -> Response:
        args = request.args
        app = self.state.apps.get(args.get("client_id", ""))
        if app is None:
            return error_page("INVALID_CLIENT: Invalid client")
        redirect_uri = args.get("redirect_uri", "")
        if not redirect_uri_allowed(redirect_uri, app.redirect_uris):
            return error_page("INVALID_CLIENT: Invalid redirect URI")
        # From here on errors go back to the (registered) redirect URI, as OAuth requires.
        state = args.get("state")

        def back(params: dict[str, str]) -> Response:
            if state is not None:
                params["state"] = state
            return Response(status=302, headers={"Location": _with_query(redirect_uri, params)})

        if args.get("response_type") != "code":
            return back({"error": "unsupported_response_type"})
        challenge = args.get("code_challenge")
        method = args.get("code_challenge_method")
        if (challenge is None) != (method is None) or (method is not None and method != "S256"):
            return back({"error": "invalid_request"})
        scopes = tuple(s for s in args.get("scope", "").split(" ") if s)
        if any(s not in KNOWN_SCOPES for s in scopes):
            return back({"error": "invalid_scope"})
        if self._config().deny_authorize:
            return back({"error": "access_denied"})
        user_id = self._browser_user()
        if user_id is None:
            return error_page("No user is signed in to the simulator: add one with Simulator.add_user")
        code = self.issue_code(app.client_id, user_id, redirect_uri, scopes, challenge)
        return back({"code": code})

    def issue_code(
        self,
        client_id: str,
        user_id: str,
        redirect_uri: str,
        scopes: tuple[str, ...],
        code_challenge: str | None,
    ) -> str:
        now = self.clock.now()
        ttl = timedelta(seconds=self._config().authorization_code_ttl)
        code = AuthCode(new_token(), client_id, user_id, redirect_uri, scopes, code_challenge, now, now + ttl)
        with self.state.lock:
            self.state.codes[code.code] = code
        return code.code

    # --- POST /api/token ----------------------------------------------------------------------
    def token(self, request: Request) -> Response:
        if request.method != "POST":
            return Response("Method Not Allowed", status=405, headers={"Allow": "POST"})
        if request.mimetype == "application/json":
            return token_error(bodies.UNSUPPORTED_MEDIA_TYPE, 415)
        # Only a form body is read: anything else (e.g. JSON sent as text) has no grant_type.
        form = request.form if request.mimetype == "application/x-www-form-urlencoded" else {}
        grant_type = form.get("grant_type")
        if not grant_type:
            return token_error(bodies.GRANT_TYPE_MISSING)
        try:
            credentials = _client_credentials(request, form)
        except ValueError:  # a Basic header that does not decode to id:secret
            return token_error(bodies.INVALID_CLIENT)
        with self.state.lock:
            if grant_type == "authorization_code":
                return self._exchange_code(form, credentials)
            if grant_type == "refresh_token":
                return self._refresh(form, credentials)
        return token_error(
            {
                "error": "unsupported_grant_type",
                "error_description": "grant_type must be client_credentials, authorization_code or refresh_token",
            }
        )

    def _authenticate(self, credentials: tuple[str, str | None] | None) -> Response | str:
        """The client id, or the error answer. A secret, when sent, must be right."""
        if credentials is None:
            return token_error(bodies.INVALID_CLIENT_NO_CREDENTIALS)
        client_id, secret = credentials
        app = self.state.apps.get(client_id)
        if app is None:
            return token_error(bodies.INVALID_CLIENT)
        if secret is not None and not hmac.compare_digest(secret.encode(), app.client_secret.encode()):
            return token_error(bodies.INVALID_CLIENT_SECRET)
        return client_id

    def _exchange_code(self, form: Any, credentials: tuple[str, str | None] | None) -> Response:
        client = self._authenticate(credentials)
        if isinstance(client, Response):
            return client
        confidential = credentials is not None and credentials[1] is not None
        verifier = form.get("code_verifier")
        if not confidential and verifier is None:
            return token_error({"error": "invalid_request", "error_description": "code_verifier required"})
        now = self.clock.now()
        code = self.state.codes.get(form.get("code", ""))
        if code is None or code.used or code.client_id != client or now >= code.expires_at:
            return token_error(bodies.INVALID_AUTHORIZATION_CODE)
        if form.get("redirect_uri") != code.redirect_uri:
            return token_error(bodies.INVALID_REDIRECT_URI)
        if code.code_challenge is not None or verifier is not None:
            if verifier is None or code.code_challenge is None:
                return token_error(bodies.CODE_VERIFIER_INCORRECT)
            if not hmac.compare_digest(s256(verifier), code.code_challenge):
                return token_error(bodies.CODE_VERIFIER_INCORRECT)
        code.used = True
        return json_response(
            self._token_body(client, code.user_id, code.scopes, pkce=not confidential, consented_at=now), 200
        )

    def _refresh(self, form: Any, credentials: tuple[str, str | None] | None) -> Response:
        supplied = form.get("refresh_token")
        if not supplied:
            return token_error(
                {"error": "invalid_request", "error_description": "refresh_token must be supplied"}
            )
        client = self._authenticate(credentials)
        if isinstance(client, Response):
            return client
        record = self.state.refresh_tokens.get(supplied)
        if record is None or record.client_id != client:
            return token_error(bodies.INVALID_REFRESH_TOKEN)
        confidential = credentials is not None and credentials[1] is not None
        if not record.pkce and not confidential:
            # A confidential client's token needs its secret (Basic header or body).
            return token_error(bodies.INVALID_CLIENT_NO_CREDENTIALS)
        if record.revoked:
            return token_error(bodies.REFRESH_TOKEN_REVOKED)
        now = self.clock.now()
        if now >= record.consented_at + self._config().refresh_token_lifetime:
            return token_error(bodies.REFRESH_TOKEN_EXPIRED)
        if record.pkce:
            record.revoked = True  # rotation: the old token is single-use
            body = self._token_body(
                client, record.user_id, record.scopes, pkce=True, consented_at=record.consented_at
            )
            # Key order of the recorded PKCE refresh (auth/token_refresh_pkce_rotated.json).
            order = ("access_token", "token_type", "expires_in", "refresh_token", "scope")
            return json_response({k: body[k] for k in order}, 200)
        access, _ = self.state.issue_tokens(
            client_id=client,
            user_id=record.user_id,
            scopes=record.scopes,
            pkce=False,
            now=now,
            ttl=self._config().access_token_ttl,
            consented_at=record.consented_at,
            with_refresh=False,
        )
        return json_response(
            {
                "access_token": access.token,
                "token_type": "Bearer",
                "scope": " ".join(record.scopes),
                "expires_in": self._config().access_token_ttl,
            },
            200,
        )

    def _token_body(
        self, client_id: str, user_id: str, scopes: tuple[str, ...], *, pkce: bool, consented_at: datetime
    ) -> dict[str, Any]:
        access, refresh = self.state.issue_tokens(
            client_id=client_id,
            user_id=user_id,
            scopes=scopes,
            pkce=pkce,
            now=self.clock.now(),
            ttl=self._config().access_token_ttl,
            consented_at=consented_at,
            with_refresh=True,
        )
        assert refresh is not None
        return {
            "access_token": access.token,
            "token_type": "Bearer",
            "scope": " ".join(scopes),
            "expires_in": self._config().access_token_ttl,
            "refresh_token": refresh.token,
        }

    # --- consent without a browser ------------------------------------------------------------
    def consent(self, client_id: str, user_id: str, scopes: tuple[str, ...], *, pkce: bool) -> dict[str, Any]:
        """What a user approving the app and the app exchanging the code would produce."""
        with self.state.lock:
            return self._token_body(client_id, user_id, scopes, pkce=pkce, consented_at=self.clock.now())

    def refresh_record(self, token: str) -> RefreshToken | None:
        with self.state.lock:
            return self.state.refresh_tokens.get(token)


def _client_credentials(request: Request, form: Any) -> tuple[str, str | None] | None:
    """(client_id, secret or None) from a Basic header or the body; None when nothing was sent.

    Raises ValueError for a Basic header that does not decode to ``id:secret``.
    """
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError("malformed Basic header") from None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise ValueError("malformed Basic header")
        return client_id, secret
    client_id = form.get("client_id")
    if not client_id:
        return None
    return client_id, form.get("client_secret")
