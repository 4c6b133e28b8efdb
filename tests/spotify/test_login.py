"""`auth login`: the pasted-URL flow, the loopback browser flow, and what must be refused."""

from __future__ import annotations

import socket
import stat
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from tests.conftest import load_fixture

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.errors import AuthError, ConfigError
from spotify_pipeline.spotify.auth import login
from spotify_pipeline.spotify.tokens import FileTokenStore, MemoryTokenStore

from .conftest import CLIENT_ID, CLIENT_SECRET, FakeSpotify, basic_credentials, reply, settings

TOKEN_BODY = load_fixture("auth/token_authorization_code.json")


def consent(fake: FakeSpotify, authorize: str) -> str:
    """What a browser does on Spotify's consent page: follow /authorize to the redirect it gives."""
    with httpx.Client(transport=fake.transport) as browser:
        response = browser.get(authorize)
    assert response.status_code == 302
    return response.headers["location"]


def url_in(lines: list[str]) -> str:
    return next(
        word for line in lines for word in line.split() if word.startswith("https://accounts.spotify.com/")
    )


def test_no_browser_pkce_flow_saves_a_0600_token(
    fake: FakeSpotify, clock: ManualClock, tmp_path: Path
) -> None:
    fake.on("POST", "/api/token", fake.pkce_token_endpoint(TOKEN_BODY))
    store = FileTokenStore(tmp_path / "tokens.json")
    echoed: list[str] = []
    token = login(
        settings(),
        store,
        open_browser=False,
        prompt=lambda _q: consent(fake, url_in(echoed)),
        echo=echoed.append,
        clock=clock,
        transport=fake.transport,
    )

    authorize = parse_qs(urlsplit(url_in(echoed)).query)
    assert authorize["code_challenge_method"] == ["S256"]
    assert authorize["redirect_uri"] == ["http://127.0.0.1:8888/callback"]
    assert authorize["scope"] == ["user-read-recently-played user-follow-read"]
    assert fake.token_bodies[-1]["client_id"] == CLIENT_ID and "code_verifier" in fake.token_bodies[-1]
    assert token.access_token.get_secret_value() == TOKEN_BODY["access_token"]
    assert token.consented_at == clock.now()
    assert store.load() == token
    assert stat.S_IMODE((tmp_path / "tokens.json").stat().st_mode) == 0o600
    # The fixture's token lacks our scopes; the user is told.
    assert any("did not grant" in line for line in echoed)


def test_confidential_flow_uses_the_secret_and_no_pkce(fake: FakeSpotify, clock: ManualClock) -> None:
    fake.on("POST", "/api/token", reply(fixture="auth/token_authorization_code.json"))
    echoed: list[str] = []
    store = MemoryTokenStore()
    login(
        settings(client_secret=SecretStr(CLIENT_SECRET)),
        store,
        open_browser=False,
        prompt=lambda _q: consent(fake, url_in(echoed)),
        echo=echoed.append,
        clock=clock,
        transport=fake.transport,
    )
    assert "code_challenge" not in parse_qs(urlsplit(url_in(echoed)).query)
    token_request = [r for r in fake.requests if r.url.path == "/api/token"][0]
    assert basic_credentials(token_request) == (CLIENT_ID, CLIENT_SECRET)
    assert "code_verifier" not in fake.token_bodies[-1]
    assert store.load() is not None


def test_a_state_mismatch_is_rejected(fake: FakeSpotify, clock: ManualClock) -> None:
    echoed: list[str] = []

    def forged(_q: str) -> str:
        location = urlsplit(consent(fake, url_in(echoed)))
        params = parse_qs(location.query)
        return location._replace(query=urlencode({"code": params["code"][0], "state": "attacker"})).geturl()

    store = MemoryTokenStore()
    with pytest.raises(AuthError) as err:
        login(
            settings(),
            store,
            open_browser=False,
            prompt=forged,
            echo=echoed.append,
            clock=clock,
            transport=fake.transport,
        )
    assert "state" in str(err.value)
    assert fake.count("POST", "/api/token") == 0 and store.load() is None


def test_access_denied_is_a_clear_auth_error(fake: FakeSpotify, clock: ManualClock) -> None:
    echoed: list[str] = []

    def declined(_q: str) -> str:
        state = parse_qs(urlsplit(url_in(echoed)).query)["state"][0]
        return f"http://127.0.0.1:8888/callback?error=access_denied&state={state}"

    with pytest.raises(AuthError) as err:
        login(
            settings(),
            MemoryTokenStore(),
            open_browser=False,
            prompt=declined,
            echo=echoed.append,
            clock=clock,
            transport=fake.transport,
        )
    assert "declined" in str(err.value) and "auth login" in str(err.value)


def test_pasting_something_else_says_what_to_paste(fake: FakeSpotify, clock: ManualClock) -> None:
    with pytest.raises(AuthError) as err:
        login(
            settings(),
            MemoryTokenStore(),
            open_browser=False,
            prompt=lambda _q: "yes",
            echo=lambda _l: None,
            clock=clock,
            transport=fake.transport,
        )
    assert "no `code`" in str(err.value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("with_port", [True, False])
def test_browser_flow_receives_the_callback_on_loopback(
    fake: FakeSpotify, clock: ManualClock, with_port: bool
) -> None:
    fake.on("POST", "/api/token", fake.pkce_token_endpoint(TOKEN_BODY))
    port = _free_port() if with_port else None
    redirect = f"http://127.0.0.1:{port}/callback" if port else "http://127.0.0.1/callback"
    opened: list[str] = []
    failures: list[BaseException] = []

    def browser(url: str) -> bool:
        opened.append(url)

        def visit() -> None:
            try:
                location = consent(fake, url)
                with httpx.Client() as real:  # a real HTTP request to the login's loopback server
                    real.get(location.replace("/callback", "/favicon.ico"))  # noise is ignored
                    page = real.get(location)
                assert page.status_code == 200 and "close this window" in page.text
            except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
                failures.append(exc)

        threading.Thread(target=visit, daemon=True).start()
        return True

    store = MemoryTokenStore()
    token = login(
        settings(redirect_uri=redirect),
        store,
        open_browser=True,
        prompt=lambda _q: pytest.fail("no prompt"),
        echo=lambda _l: None,
        clock=clock,
        transport=fake.transport,
        browser=browser,
        callback_timeout=10,
    )
    assert failures == []
    used_redirect = parse_qs(urlsplit(opened[0]).query)["redirect_uri"][0]
    if port:
        assert used_redirect == redirect
    else:  # a loopback redirect registered without a port may use any port
        assert urlsplit(used_redirect).port and urlsplit(used_redirect).path == "/callback"
    assert fake.token_bodies[-1]["redirect_uri"] == used_redirect
    assert store.load() == token


def test_browser_flow_times_out_with_advice(fake: FakeSpotify, clock: ManualClock) -> None:
    with pytest.raises(AuthError) as err:
        login(
            settings(redirect_uri="http://127.0.0.1/callback"),
            MemoryTokenStore(),
            open_browser=True,
            prompt=lambda _q: "",
            echo=lambda _l: None,
            clock=clock,
            transport=fake.transport,
            browser=lambda _u: False,
            callback_timeout=0.2,
        )
    assert "--no-browser" in str(err.value)


def test_browser_flow_needs_a_127_0_0_1_redirect(fake: FakeSpotify, clock: ManualClock) -> None:
    with pytest.raises(ConfigError) as err:
        login(
            settings(redirect_uri="https://example.com/callback"),
            MemoryTokenStore(),
            open_browser=True,
            prompt=lambda _q: "",
            echo=lambda _l: None,
            clock=clock,
            transport=fake.transport,
            browser=lambda _u: True,
            callback_timeout=0.2,
        )
    assert "SPOTIFY_PIPELINE_REDIRECT_URI" in str(err.value)


def test_login_needs_a_client_id(fake: FakeSpotify, clock: ManualClock) -> None:
    with pytest.raises(ConfigError) as err:
        login(
            settings(client_id=None),
            MemoryTokenStore(),
            open_browser=False,
            prompt=lambda _q: "",
            echo=lambda _l: None,
            clock=clock,
            transport=fake.transport,
        )
    assert "SPOTIFY_PIPELINE_CLIENT_ID" in str(err.value)


def test_an_unreachable_accounts_service_at_login_is_one_line(
    fake: FakeSpotify, clock: ManualClock, tmp_path: Path
) -> None:
    from spotify_pipeline.errors import SpotifyUnreachable

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    fake.on("POST", "/api/token", refuse)
    echoed: list[str] = []
    with pytest.raises(SpotifyUnreachable, match=r"^could not reach accounts\.spotify\.com: no answer"):
        login(
            settings(),
            FileTokenStore(tmp_path / "tokens.json"),
            open_browser=False,
            prompt=lambda _q: consent(fake, url_in(echoed)),
            echo=echoed.append,
            clock=clock,
            transport=fake.transport,
        )
    assert not (tmp_path / "tokens.json").exists()
