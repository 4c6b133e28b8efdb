"""Injected faults: 5xx bursts, slow and malformed answers, dropped connections, 429 variants."""

from __future__ import annotations

import json

import httpx
import pytest
from tests.conftest import load_fixture

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.simulator import FaultPlan, Simulator, SimulatorConfig

from .conftest import API, api_client

RP = "/v1/me/player/recently-played"


def test_a_burst_of_503_then_normal_answers(api: httpx.Client, sim: Simulator) -> None:
    sim.faults.add(path_prefix=RP, kind="status", status=503, count=3)
    statuses = [api.get("/me/player/recently-played").status_code for _ in range(4)]
    assert statuses == [503, 503, 503, 200]
    assert api.get("/me").status_code == 200  # other paths are untouched


def test_502_uses_the_recorded_body(api: httpx.Client, sim: Simulator) -> None:
    sim.faults.add(path_prefix="/v1/", kind="status", status=502)
    resp = api.get("/me")
    assert (resp.status_code, resp.json()) == (502, load_fixture("errors/502_bad_gateway.json"))


def test_a_fault_without_count_lasts_until_removed(api: httpx.Client, sim: Simulator) -> None:
    fault = sim.faults.add(path_prefix="/v1/me", kind="status", status=500, count=None)
    assert [api.get("/me").status_code for _ in range(5)] == [500] * 5
    sim.faults.remove(fault)
    assert api.get("/me").status_code == 200


def test_slow_answers_sleep_through_the_injected_sleep(clock: ManualClock) -> None:
    slept: list[float] = []
    sim = Simulator(SimulatorConfig(), clock=clock, sleep=slept.append)
    sim.add_user("alice")
    sim.faults.add(path_prefix="/v1/me", kind="slow", delay=12.5)
    with api_client(sim, sim.grant("alice")["access_token"]) as client:
        before = clock.now()
        assert client.get("/me").status_code == 200
    assert slept == [12.5] and clock.now() == before  # the simulated clock is not moved


def test_malformed_body_is_truncated_json(api: httpx.Client, sim: Simulator) -> None:
    sim.faults.add(path_prefix=RP, kind="malformed")
    resp = api.get("/me/player/recently-played")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.content)
    assert api.get("/me/player/recently-played").json()["items"]


def test_dropped_connection_and_timeout_raise_httpx_errors(api: httpx.Client, sim: Simulator) -> None:
    sim.faults.add(path_prefix=RP, kind="drop")
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/me/player/recently-played")
    sim.faults.add(path_prefix="/api/token", kind="timeout")
    with pytest.raises(httpx.ReadTimeout):
        api.post("https://accounts.spotify.com/api/token", data={"grant_type": "refresh_token"})
    assert [(c.path, c.status) for c in sim.calls[-2:]] == [(RP, None), ("/api/token", None)]
    assert api.get("/me/player/recently-played").status_code == 200


def test_rate_limit_variants(api: httpx.Client, sim: Simulator) -> None:
    sim.faults.add(path_prefix=RP, kind="rate_limit", retry_after=7)
    limited = api.get("/me/player/recently-played")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "7")
    assert limited.json() == load_fixture("errors/429_rate_limited.json")

    sim.faults.add(path_prefix=RP, kind="rate_limit_no_header")
    bare = api.get("/me/player/recently-played")
    assert bare.status_code == 429 and "Retry-After" not in bare.headers and bare.content == b""

    sim.faults.add(path_prefix=RP, kind="penalty")
    penalty = api.get("/me/player/recently-played")
    assert (penalty.status_code, penalty.headers["Retry-After"]) == (429, "86400")

    sim.faults.add(path_prefix=RP, kind="quota")
    quota = api.get("/me/player/recently-played")
    assert quota.status_code == 429
    assert quota.json() == load_fixture("errors/429_quota_exceeded_devmode_UNVERIFIED.json")


def test_faults_match_method_and_order(http: httpx.Client, sim: Simulator) -> None:
    sim.faults.add(path_prefix="/api/token", method="POST", kind="status", status=504)
    sim.faults.add(path_prefix="/", kind="status", status=500)
    assert http.post("https://accounts.spotify.com/api/token").status_code == 504
    assert http.get(f"{API}/me").status_code == 500
    assert http.get(f"{API}/me").status_code == 401  # both used up


def test_fault_plan_rejects_nonsense() -> None:
    plan = FaultPlan()
    with pytest.raises(ValueError, match="unknown fault kind"):
        plan.add(kind="explode")
    with pytest.raises(ValueError, match="5xx"):
        plan.add(kind="status", status=404)
    with pytest.raises(ValueError, match="count"):
        plan.add(kind="drop", count=0)
