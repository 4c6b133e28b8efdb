"""The simulator on a real loopback socket: startup, the OAuth flow, faults and concurrency."""

from __future__ import annotations

import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.simulator import Simulator, SimulatorConfig, serve, serve_forever_cli

from .conftest import pkce_pair, query_of


def test_serves_the_pkce_flow_and_api_on_loopback(sim: Simulator) -> None:
    started = time.perf_counter()
    with serve(sim) as info:
        ready = time.perf_counter() - started
        print(f"\nsimulator server ready in {ready * 1000:.1f} ms")  # benchmark figure (target: under 1 s)
        assert info.api_url == f"http://127.0.0.1:{info.port}/v1"
        assert info.client_secret not in repr(info)
        verifier, challenge = pkce_pair()
        with httpx.Client(timeout=5) as http:
            auth = http.get(
                f"{info.accounts_url}/authorize",
                params={
                    "client_id": info.client_id,
                    "response_type": "code",
                    "redirect_uri": info.redirect_uri,
                    "state": "s1",
                    "scope": "user-read-recently-played user-follow-read",
                    "code_challenge_method": "S256",
                    "code_challenge": challenge,
                },
            )
            assert auth.status_code == 302
            tokens = http.post(
                f"{info.accounts_url}/api/token",
                data={
                    "grant_type": "authorization_code",
                    "code": query_of(auth.headers["Location"])["code"],
                    "redirect_uri": info.redirect_uri,
                    "client_id": info.client_id,
                    "code_verifier": verifier,
                },
            ).json()
            page = http.get(
                f"{info.api_url}/me/player/recently-played",
                params={"limit": 10},
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            ).json()
    assert len(page["items"]) == 10
    # Links stay on the origin the client called, so a client that checks them can follow them.
    assert page["next"].startswith(f"{info.api_url}/me/player/recently-played?before=")


def test_a_dropped_connection_over_the_socket(sim: Simulator) -> None:
    token = sim.grant("alice")["access_token"]
    sim.faults.add(path_prefix="/v1/me", kind="drop")
    with serve(sim) as info, httpx.Client(timeout=5) as http:
        headers = {"Authorization": f"Bearer {token}"}
        with pytest.raises(httpx.RemoteProtocolError):
            http.get(f"{info.api_url}/me", headers=headers)
        assert http.get(f"{info.api_url}/me", headers=headers).status_code == 200


def test_concurrent_clients(clock: ManualClock) -> None:
    sim = Simulator(SimulatorConfig(rate_limit_per_30s=10_000), clock=clock)
    users = ["u1", "u2", "u3", "u4", "u5"]
    for user in users:
        sim.add_user(user, profile="binge")
    tokens = {u: sim.grant(u)["access_token"] for u in users}

    def fetch(user: str) -> list[str]:
        with httpx.Client(timeout=10) as http:
            return [
                http.get(
                    f"{info.api_url}/me/player/recently-played",
                    params={"limit": 50},
                    headers={"Authorization": f"Bearer {tokens[user]}"},
                ).json()["cursors"]["after"]
                for _ in range(5)
            ]

    with serve(sim) as info, ThreadPoolExecutor(max_workers=5) as pool:
        results = dict(zip(users, pool.map(fetch, users), strict=True))
    for user in users:
        assert len(set(results[user])) == 1  # the clock stands still: every answer agrees
    assert len(sim.calls) == 25 and all(c.status == 200 for c in sim.calls)


def test_serve_refuses_anything_but_loopback(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="127.0.0.1"):
        with serve(sim, host="0.0.0.0"):  # noqa: S104 - the point of the test
            pass


def test_cli_prints_one_json_line_first_then_serves() -> None:
    out = io.StringIO()
    stop = threading.Event()
    runner = threading.Thread(
        target=serve_forever_cli,
        kwargs={
            "port": 0,
            "seed": 3,
            "mode": "development",
            "users": ["alice"],
            "profile": "light",
            "out": out,
            "stop": stop,
        },
    )
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while "\n" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        first = json.loads(out.getvalue().splitlines()[0])
        assert set(first) == {"accounts_url", "api_url", "client_id", "client_secret", "redirect_uri"}
        assert first["redirect_uri"] == "http://127.0.0.1:8888/callback"
        with httpx.Client(timeout=5) as http:
            missing = http.get(f"{first['api_url']}/me")
        assert missing.status_code == 401
    finally:
        stop.set()
        runner.join(timeout=5)
    assert not runner.is_alive()
