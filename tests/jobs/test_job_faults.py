"""Jobs facing Spotify's failure modes: token rotation, long 429 pauses, invalid_grant, 5xx bursts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from spotify_pipeline.errors import LoginRequired
from spotify_pipeline.jobs import download_recently_played, process
from spotify_pipeline.jobs.status import status

from .harness import make_world


def test_pkce_refresh_token_rotation_is_saved_across_runs(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    first = json.loads(world.settings.token_file.read_text())
    for _ in range(3):  # each run after an hour needs a refresh, which rotates the refresh token
        world.clock.advance(timedelta(hours=2))
        report = download_recently_played(world.settings, runtime=world.fresh_runtime())
        assert report.status == "ok"
    last = json.loads(world.settings.token_file.read_text())
    assert last["refresh_token"] != first["refresh_token"]
    assert last["consented_at"] == first["consented_at"]  # refreshing does not extend the 6 months
    assert (world.settings.token_file.stat().st_mode & 0o777) == 0o600


def test_a_long_retry_after_pauses_and_later_runs_skip_without_calling(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.clock.advance(timedelta(hours=2))
    world.sim.faults.add(path_prefix="/v1/me/player/recently-played", kind="penalty", count=1)
    report = download_recently_played(world.settings, runtime=world.fresh_runtime())
    assert report.status == "paused"
    assert report.paused_until is not None and report.paused_until > world.clock.now() + timedelta(hours=1)
    shown = status(world.settings, runtime=world.fresh_runtime())
    assert shown["paused_until"] is not None
    calls = len(world.sim.calls)
    world.clock.advance(timedelta(hours=2))
    skipped = download_recently_played(world.settings, runtime=world.fresh_runtime())
    assert skipped.status == "paused"
    assert len(world.sim.calls) == calls  # Spotify was not called while paused
    world.clock.set(report.paused_until + timedelta(minutes=1))
    resumed = download_recently_played(world.settings, runtime=world.fresh_runtime())
    assert resumed.status == "ok"


def test_invalid_grant_stops_with_log_in_again(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.clock.advance(timedelta(days=183))  # the refresh token's 6 months are over
    with pytest.raises(LoginRequired, match="spotify-pipeline auth login"):
        download_recently_played(world.settings, runtime=world.fresh_runtime())
    token_calls = [c for c in world.sim.calls if c.path == "/api/token"]
    assert len(token_calls) == 1  # no retry of a terminal error


def test_a_burst_of_server_errors_is_retried(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.clock.advance(timedelta(hours=22))
    world.sim.faults.add(path_prefix="/v1/me/player/recently-played", kind="status", status=503, count=3)
    report = download_recently_played(world.settings, runtime=world.fresh_runtime())
    assert report.status == "ok"
    assert report.counts["plays_fetched"] > 0
    process(world.settings, runtime=world.fresh_runtime())
