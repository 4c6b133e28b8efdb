"""Spotify misbehaving: rate limits, quota, 5xx bursts, slow and dropped answers, token trouble.

SQLite + a local folder: the store does not matter here, the client's answers do. Each scenario
polls a few simulated hours as cron would and ends with the three checks (tests/faults/checks.py).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from tests.jobs.harness import World, make_world

from spotify_pipeline.errors import LoginRequired
from spotify_pipeline.jobs import download_followed_artists, download_recently_played, process
from spotify_pipeline.jobs.status import status
from spotify_pipeline.spotify.auth import token_from_grant
from spotify_pipeline.spotify.tokens import FileTokenStore

from .checks import assert_three_checks, cron, shown

RECENT = "/v1/me/player/recently-played"


def _poll(world: World, hours: float, every_minutes: int = 30) -> list[str]:
    told: list[str] = []
    end = world.clock.now() + timedelta(hours=hours)
    while world.clock.now() + timedelta(minutes=every_minutes) <= end:
        world.clock.advance(timedelta(minutes=every_minutes))
        told += cron(world)
    return told


def _world(tmp_path: Path, **kw: object) -> World:
    world = make_world(tmp_path, **kw)  # type: ignore[arg-type]
    world.sim.sleep = lambda s: world.clock.advance(s)  # slow faults wait on simulated time
    world.clock.advance(timedelta(hours=8))  # a morning's listening before the first poll
    return world


def test_retry_after_of_a_day_pauses_runs_and_resumes_after_it(tmp_path: Path) -> None:
    world = _world(tmp_path, profile="light")
    told = _poll(world, 2)
    world.sim.faults.add(path_prefix=RECENT, kind="penalty", retry_after=86400)
    paused = cron(world)
    calls = len(world.sim.calls)
    world.clock.advance(timedelta(hours=3))
    skipped = cron(world)
    assert len(world.sim.calls) == calls, "a paused run must not call Spotify"
    shown_status = status(world.settings, runtime=world.fresh_runtime())
    assert shown_status["paused_until"] is not None
    world.clock.advance(timedelta(hours=21, minutes=5))  # the day is over
    told += paused + skipped + _poll(world, 1) + [json.dumps(shown_status, default=str)]
    assert_three_checks(
        world, told, "download_recently_played: paused", "paused until", "later runs skip", "paused_until"
    )


def test_429_without_retry_after_pauses_an_hour_and_says_so(tmp_path: Path) -> None:
    world = _world(tmp_path)
    told = _poll(world, 1)
    world.sim.faults.add(path_prefix=RECENT, kind="rate_limit_no_header", count=None)
    told += cron(world)
    world.sim.faults.clear()
    told += _poll(world, 3)
    assert_three_checks(world, told, "download_recently_played: paused", "429")


def test_quota_exceeded_pauses_and_names_the_quota(tmp_path: Path) -> None:
    world = _world(tmp_path, profile="light")
    world.sim.faults.add(path_prefix=RECENT, kind="quota", retry_after=4 * 3600)
    told = cron(world)
    world.clock.advance(timedelta(hours=4, minutes=1))
    told += _poll(world, 2)
    assert_three_checks(world, told, "quota", "paused until")


@pytest.mark.parametrize("code", [500, 502, 503])
def test_a_burst_of_server_errors_is_retried(
    tmp_path: Path, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    world = _world(tmp_path)
    caplog.set_level(logging.WARNING)
    world.sim.faults.add(path_prefix=RECENT, kind="status", status=code, count=3)
    told = cron(world) + _poll(world, 2)
    told += [r.getMessage() for r in caplog.records]
    assert_three_checks(world, told, "recently-played failed", "retry 3 of 5", "download_recently_played: ok")


def test_server_errors_beyond_the_retries_fail_the_run_and_the_next_one_catches_up(tmp_path: Path) -> None:
    world = _world(tmp_path)
    world.sim.faults.add(path_prefix=RECENT, kind="status", status=502, count=world.settings.max_retries + 1)
    told = cron(world)
    assert told[0].startswith("error: Spotify answered 502")
    told += _poll(world, 1)
    assert_three_checks(world, told, "gave up after", "/v1/me/player/recently-played")


def test_slow_answers_and_timeouts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    world = _world(tmp_path)
    caplog.set_level(logging.WARNING)
    world.sim.faults.add(path_prefix=RECENT, kind="slow", delay=15, count=2)
    world.sim.faults.add(path_prefix="/v1/me/following", kind="timeout", count=2)
    before = world.clock.now()
    told = cron(world) + _poll(world, 2)
    assert world.clock.now() >= before + timedelta(seconds=30)  # the slow answers were waited for
    told += [r.getMessage() for r in caplog.records]
    assert_three_checks(world, told, "ReadTimeout", "retry 2 of")


@pytest.mark.parametrize("kind", ["drop", "malformed"])
def test_a_connection_dropped_mid_page_is_retried(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``drop``: the connection closes before an answer; ``malformed``: the body is cut mid-page."""
    world = _world(tmp_path)
    caplog.set_level(logging.WARNING)
    world.sim.faults.add(path_prefix=RECENT, kind=kind, count=2)
    told = cron(world) + _poll(world, 2)
    told += [r.getMessage() for r in caplog.records]
    phrase = "disconnected" if kind == "drop" else "not valid JSON"
    assert_three_checks(world, told, phrase, "download_recently_played: ok")


def test_the_access_token_expiring_mid_run_is_refreshed(tmp_path: Path) -> None:
    world = _world(tmp_path)
    told: list[str] = []
    for _ in range(4):
        world.clock.advance(timedelta(minutes=30))
        rt = world.fresh_runtime()
        told.append(shown(download_recently_played(world.settings, runtime=rt)))
        world.sim.expire_access_tokens()  # the hour is over between two calls of one run
        told.append(shown(download_followed_artists(world.settings, runtime=rt)))
        told.append(shown(process(world.settings, runtime=rt)))
    refreshes = [c for c in world.sim.calls if c.path == "/api/token"]
    assert len(refreshes) >= 4
    assert not [c for c in world.sim.calls if c.status == 401 and c.path.startswith("/v1/me/following")][4:]
    assert_three_checks(world, told, "download_followed_artists: ok", "landed")


def test_pkce_refresh_token_rotation_across_runs(tmp_path: Path) -> None:
    """Each run after an hour refreshes, and Spotify rotates the PKCE refresh token; the old one is
    dead (the simulator revokes it), so a run that did not save the new one would end the login."""
    world = _world(tmp_path)
    seen = {json.loads(world.settings.token_file.read_text())["refresh_token"]}
    told: list[str] = []
    for _ in range(4):
        told += _poll(world, 1.5, every_minutes=90)
        seen.add(json.loads(world.settings.token_file.read_text())["refresh_token"])
    assert len(seen) == 5
    assert (world.settings.token_file.stat().st_mode & 0o777) == 0o600
    assert_three_checks(world, told, "download_recently_played: ok")


def test_a_revoked_refresh_token_asks_to_log_in_again_and_the_next_login_catches_up(tmp_path: Path) -> None:
    world = _world(tmp_path)
    told = _poll(world, 1)
    world.clock.advance(timedelta(hours=1))  # the access token needs a refresh
    world.sim.revoke_refresh_token(json.loads(world.settings.token_file.read_text())["refresh_token"])
    told += cron(world)
    assert told[-1].startswith("error: ") and "revoked" in told[-1].lower()
    told.append(json.dumps(status(world.settings, runtime=world.fresh_runtime())["token"], default=str))
    world.clock.advance(timedelta(minutes=20))
    _log_in_again(world)
    told += _poll(world, 1)
    assert_three_checks(world, told, "spotify-pipeline auth login", "not logged in")


def test_an_expired_refresh_token_asks_to_log_in_again(tmp_path: Path) -> None:
    """The refresh token dies six months after consent: the stored login is six months old here."""
    world = _world(tmp_path)
    told = _poll(world, 1)
    old = world.sim.config.refresh_token_lifetime
    world.sim.config = world.sim.config.__class__(
        **{**world.sim.config.__dict__, "refresh_token_lifetime": timedelta(hours=9)}
    )
    world.clock.advance(timedelta(hours=1))
    with pytest.raises(LoginRequired) as info:
        download_recently_played(world.settings, runtime=world.fresh_runtime())
    told.append(str(info.value))
    world.sim.config = world.sim.config.__class__(
        **{**world.sim.config.__dict__, "refresh_token_lifetime": old}
    )
    _log_in_again(world)
    told += _poll(world, 1)
    assert_three_checks(world, told, "refresh token expired", "run `spotify-pipeline auth login` again")


def _log_in_again(world: World) -> None:
    store = FileTokenStore(world.settings.token_file)
    grant = world.sim.grant(world.settings.user, pkce=True)
    store.save(token_from_grant(grant, client_id=world.sim.default_app.client_id, now=world.clock.now()))
