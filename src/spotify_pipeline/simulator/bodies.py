"""Spotify's error bodies, exactly as the real services send them.

Each constant names the recorded fixture it reproduces (tests/fixtures/spotify/errors/ and auth/);
test_conformance.py compares them with those files. Bodies without a fixture say where the text
comes from, so that nobody mistakes an assumption for an observation.
"""

from __future__ import annotations

import json
from typing import Any

# --- accounts.spotify.com /api/token (RFC 6749 shape) ---------------------------------------------
INVALID_CLIENT = {"error": "invalid_client", "error_description": "Invalid client"}
INVALID_CLIENT_SECRET = {"error": "invalid_client", "error_description": "Invalid client secret"}
INVALID_CLIENT_NO_CREDENTIALS = {"error": "invalid_client"}
INVALID_AUTHORIZATION_CODE = {"error": "invalid_grant", "error_description": "Invalid authorization code"}
INVALID_REDIRECT_URI = {"error": "invalid_grant", "error_description": "Invalid redirect URI"}
CODE_VERIFIER_INCORRECT = {"error": "invalid_grant", "error_description": "code_verifier was incorrect"}
REFRESH_TOKEN_REVOKED = {"error": "invalid_grant", "error_description": "Refresh token revoked"}
REFRESH_TOKEN_EXPIRED = {"error": "invalid_grant", "error_description": "Refresh token expired"}
# An unknown refresh token: Spotify answers "Invalid refresh token" (spotify/web-api#1106 era reports).
INVALID_REFRESH_TOKEN = {"error": "invalid_grant", "error_description": "Invalid refresh token"}
GRANT_TYPE_MISSING = {
    "error": "unsupported_grant_type",
    "error_description": "grant_type parameter is missing",
}
# docs/spotify-api.md §3.2: a JSON Content-Type on /api/token gives 415 server_error.
UNSUPPORTED_MEDIA_TYPE = {"error": "server_error", "error_description": "Unexpected status: 415"}

# --- api.spotify.com -------------------------------------------------------------------------------
TOKEN_INVALID_2026 = {"error": {"status": 401, "message": "Missing/invalid/expired access token"}}
FORBIDDEN_DEVMODE = {"error": {"status": 403, "message": "Forbidden"}}
FORBIDDEN_AUDIO_FEATURES = {"error": {"status": 403}}
USER_NOT_REGISTERED_TEXT = "User not registered in the Developer Dashboard"
# The long-standing scope error (spotify/web-api#387, #1518; spotipy#830): a missing scope is 403,
# re-authorizing with the right scopes fixes it.
INSUFFICIENT_SCOPE = {"error": {"status": 403, "message": "Insufficient client scope"}}
RATE_LIMITED = {"error": {"status": 429, "message": "API rate limit exceeded"}}
QUOTA_EXCEEDED = {"error": {"status": 429, "message": "Too many requests", "reason": "QUOTA_EXCEEDED"}}
BAD_GATEWAY = {"error": {"status": 502, "message": "Bad gateway."}}
NOT_FOUND = {"error": {"status": 404, "message": "Not found."}}
NON_EXISTING_ID = {"error": {"status": 404, "message": "non existing id"}}
INVALID_ID = {"error": {"status": 400, "message": "invalid id"}}
TOO_MANY_IDS = {"error": {"status": 400, "message": "too many ids requested"}}

# Status texts for injected 5xx bursts. 502 is recorded; the others follow the same shape with the
# HTTP reason phrase, which is what Spotify's gateway sends for them (web-api#221, #1591).
SERVER_ERRORS: dict[int, dict[str, Any]] = {
    500: {"error": {"status": 500, "message": "Server error."}},
    502: BAD_GATEWAY,
    503: {"error": {"status": 503, "message": "Service unavailable"}},
    504: {"error": {"status": 504, "message": "Gateway Timeout"}},
}


def api_error(status: int, message: str) -> dict[str, Any]:
    """A regular Web API error object: ``{"error": {"status": ..., "message": ...}}``."""
    return {"error": {"status": status, "message": message}}


def dumps(body: Any) -> bytes:
    """Compact JSON as Spotify sends it (no spaces after separators)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
