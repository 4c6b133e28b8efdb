"""No token or client secret in any exception or log record, on every error path; and the
redaction filter that the CLI installs as a second line of defence."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.redact import MASK, RedactingFilter, install, redact, register_secret
from spotify_pipeline.spotify import auth
from spotify_pipeline.spotify.client import SpotifyClient
from spotify_pipeline.spotify.state import MemoryStateStore
from spotify_pipeline.spotify.tokens import MemoryTokenStore

from .conftest import ALL_SECRETS, CLIENT_ID, CLIENT_SECRET, FakeSpotify, make_token, reply, settings

RP = "/v1/me/player/recently-played"


def echo_auth_header(request: httpx.Request) -> httpx.Response:
    """A misbehaving server that quotes the request's Authorization header back in its error."""
    return httpx.Response(
        400, json={"error": {"status": 400, "message": f"bad header {request.headers['authorization']}"}}
    )


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout(f"timed out sending {request.headers['authorization']}", request=request)


ERROR_PATHS: dict[str, tuple[list[tuple[str, str, Callable[[httpx.Request], httpx.Response]]], str]] = {
    "401 twice": (
        [("GET", RP, reply(401, fixture="errors/401_missing_invalid_expired_token_2026.json"))],
        "recent",
    ),
    "refresh revoked": (
        [
            ("GET", RP, reply(401, body={})),
            ("POST", "/api/token", reply(400, fixture="auth/error_invalid_grant_refresh_revoked.json")),
        ],
        "recent",
    ),
    "refresh expired": (
        [
            ("GET", RP, reply(401, body={})),
            (
                "POST",
                "/api/token",
                reply(400, fixture="auth/error_invalid_grant_refresh_token_expired_2026.json"),
            ),
        ],
        "recent",
    ),
    "invalid client": (
        [
            ("GET", RP, reply(401, body={})),
            ("POST", "/api/token", reply(401, fixture="auth/error_invalid_client_bad_secret.json")),
        ],
        "recent",
    ),
    "token endpoint down": (
        [("GET", RP, reply(401, body={})), ("POST", "/api/token", reply(503, text="down"))],
        "recent",
    ),
    "5xx exhausted": ([("GET", RP, reply(502, fixture="errors/502_bad_gateway.json"))], "recent"),
    "timeouts": ([("GET", RP, timeout)], "recent"),
    "malformed": ([("GET", RP, reply(200, text="{oops"))], "recent"),
    "server echoes the header": ([("GET", RP, echo_auth_header)], "recent"),
    "429 long": (
        [("GET", RP, reply(429, fixture="errors/429_rate_limited.json", headers={"Retry-After": "86400"}))],
        "recent",
    ),
    "429 bare": ([("GET", RP, lambda r: httpx.Response(429))], "recent"),
    "quota": (
        [("GET", RP, reply(429, fixture="errors/429_quota_exceeded_devmode_UNVERIFIED.json"))],
        "recent",
    ),
    "not registered": ([("GET", RP, reply(403, fixture="errors/403_user_not_registered.txt"))], "recent"),
    "403 batch": (
        [
            ("GET", "/v1/artists", reply(403, fixture="errors/403_forbidden_devmode_removed_endpoint.json")),
            ("GET", "/v1/artists/x", reply(404, fixture="errors/404_not_found.json")),
        ],
        "artists",
    ),
    "paging off origin": (
        [
            (
                "GET",
                "/v1/me/following",
                reply(
                    body={
                        "artists": {
                            "items": [],
                            "cursors": {"after": "a"},
                            "next": "https://evil.example/v1/x",
                        }
                    }
                ),
            )
        ],
        "following",
    ),
    "paging loop": (
        [
            (
                "GET",
                "/v1/me/following",
                reply(
                    body={
                        "artists": {
                            "items": [],
                            "cursors": {"after": "a"},
                            "next": "https://api.spotify.com/v1/me/following?after=a",
                        }
                    }
                ),
            )
        ],
        "following",
    ),
}


def _chain(exc: BaseException | None) -> list[BaseException]:
    out = []
    while exc is not None and exc not in out:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


@pytest.mark.parametrize("path", sorted(ERROR_PATHS))
def test_no_secret_in_exceptions_or_logs(
    path: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    register_secret(CLIENT_SECRET)  # as the client does; here we check the raw records, unfiltered
    fake = FakeSpotify()
    for method, route, responder in ERROR_PATHS[path][0]:
        fake.on(method, route, responder)
    client = SpotifyClient.from_settings(
        settings(client_secret=SecretStr(CLIENT_SECRET), max_retries=2),
        MemoryTokenStore(make_token(clock)),
        MemoryStateStore(),
        clock=clock,
        transport=fake.transport,
        sleep=lambda _s: None,
    )
    calls: dict[str, Callable[[], object]] = {
        "recent": client.recently_played,
        "following": client.followed_artists,
        "artists": lambda: client.artists(["x"]),
    }
    call = calls[ERROR_PATHS[path][1]]
    caplog.set_level(logging.DEBUG)
    error: BaseException | None = None
    try:
        call()
    except Exception as raised:  # noqa: BLE001 - each path raises its own type
        error = raised
    # Every path fails, except the 403 batch, which falls back to single lookups (404 -> None).
    assert (error is None) == (path == "403 batch")

    texts = [repr(client), repr(client.token_store)]
    for exc in _chain(error):
        texts += [str(exc), repr(exc), *map(str, exc.args), "".join(traceback.format_exception(exc))]
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append("".join(traceback.format_exception(*record.exc_info)))
    for secret in ALL_SECRETS:
        leaked = [t for t in texts if secret in t]
        assert leaked == [], f"{path}: secret leaked into {leaked[0][:200]!r}"


def test_exchange_errors_do_not_show_the_secret_or_code(fake: FakeSpotify, clock: ManualClock) -> None:
    fake.on("POST", "/api/token", reply(400, fixture="auth/error_invalid_client_bad_secret.json"))
    with pytest.raises(Exception) as err:  # noqa: PT011
        auth.exchange_code(
            httpx.Client(transport=fake.transport),
            "https://accounts.spotify.com",
            CLIENT_ID,
            CLIENT_SECRET,
            "AQ-secret-code-123456",
            "http://127.0.0.1:8888/callback",
            None,
            clock.now(),
        )
    assert CLIENT_SECRET not in str(err.value) and "AQ-secret-code-123456" not in str(err.value)


def test_redact_masks_registered_secrets_and_auth_headers() -> None:
    register_secret("REGISTERED-SECRET-42")
    register_secret("abc")  # too short to mask safely: ignored
    text = redact(
        "token REGISTERED-SECRET-42 | Authorization: Bearer eyJunregistered.value | 'authorization': 'Basic dXNlcjpwYXNz'"
        ' | access_token=zzz999 | {"refresh_token": "rrr888"} | client_secret: sss777 | callback?code=AQcode&state=s'
        " | status code: 502 | abc"
    )
    for secret in (
        "REGISTERED-SECRET-42",
        "eyJunregistered.value",
        "dXNlcjpwYXNz",
        "zzz999",
        "rrr888",
        "sss777",
        "AQcode",
    ):
        assert secret not in text
    assert f"Bearer {MASK}" in text and "status code: 502" in text and text.endswith("| abc")


def test_the_filter_masks_messages_args_and_tracebacks(clock: ManualClock) -> None:
    token = make_token(clock)  # creating a TokenState registers its tokens
    secret = token.access_token.get_secret_value()
    logger = logging.getLogger("spotify_pipeline.test_redaction")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.setLevel(logging.DEBUG)
        install(logger)
        install(logger)  # idempotent
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
        logger.info("sending %s with header %s", secret, {"Authorization": f"Bearer {secret}"})
        try:
            raise RuntimeError(f"failed with {secret}")
        except RuntimeError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True

    formatted = [logging.Formatter().format(r) for r in records]
    assert all(secret not in text for text in formatted)
    assert MASK in formatted[0] and "RuntimeError: failed with ***" in formatted[1]


def test_a_refreshed_token_is_registered_for_masking(fake: FakeSpotify, clock: ManualClock) -> None:
    fake.on("POST", "/api/token", reply(fixture="auth/token_refresh_pkce_rotated.json"))
    new = auth.refresh(
        httpx.Client(transport=fake.transport),
        "https://accounts.spotify.com",
        make_token(clock, expires_in=-1),
        None,
        clock.now() + timedelta(seconds=1),
    )
    assert redact(f"x {new.refresh_token.get_secret_value()} y") == f"x {MASK} y"


def test_a_registered_secret_equal_to_a_pattern_word_does_not_unmask_the_token(monkeypatch) -> None:  # noqa: ANN001
    """Regression: registered secrets were masked before the header pattern ran, so a secret
    "Bearer" (registered by another test) turned `Bearer <token>` into `*** <token>`."""
    from spotify_pipeline import redact as redact_module
    from spotify_pipeline.redact import redact, register_secret

    monkeypatch.setattr(redact_module, "_secrets", set(redact_module._secrets))  # keep it to this test
    register_secret("Bearer")
    text = redact("Authorization: Bearer eyJunregistered.value2")
    assert "eyJunregistered.value2" not in text
