"""Several listeners: the registry, `run --all-users`, isolation of one user's failure, the app's pause."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.jobs.harness import START, World, make_world

from spotify_pipeline.clock import to_ms
from spotify_pipeline.errors import ConfigError
from spotify_pipeline.jobs.runtime import Runtime
from spotify_pipeline.jobs.token_stores import user_token_file
from spotify_pipeline.jobs.users import add_user, describe_users, for_user, remove_user, run_all_users
from spotify_pipeline.settings import Settings
from spotify_pipeline.spotify.auth import token_from_grant
from spotify_pipeline.spotify.pause import record_pause
from spotify_pipeline.spotify.tokens import FileTokenStore
from spotify_pipeline.warehouse import schema

USERS = ("alice", "bob", "carol")


def three_users(tmp_path: Path) -> World:
    world = make_world(tmp_path, user="alice")
    for name in USERS[1:]:
        world.sim.add_user(name, profile="typical", since=START)
    for name in USERS:
        assert add_user(world.settings, name, runtime=world.runtime)
        store = FileTokenStore(user_token_file(world.settings, name))
        store.save(
            token_from_grant(world.sim.grant(name), client_id=world.sim.default_app.client_id, now=START)
        )
    return world


def runtime_for(world: World) -> object:
    def make(settings: Settings) -> Runtime:
        rt = Runtime(settings, clock=world.clock, transport=world.sim.transport())
        rt.sleep = lambda s: world.clock.advance(s)
        return rt

    return make


def plays_by_user(world: World) -> dict[str, set[tuple[int, str]]]:
    engine = world.runtime.engine
    out: dict[str, set[tuple[int, str]]] = {}
    with engine.connect() as conn:
        for user, played, track in conn.execute(
            sa.select(schema.plays.c.user_id, schema.plays.c.played_at, schema.plays.c.track_id)
        ):
            out.setdefault(user, set()).add((to_ms(played), track))
    return out


def truth(world: World, user: str) -> set[tuple[int, str]]:
    return {
        (to_ms(p.ended_at), p.track_id) for p in world.sim.reachable_truth(user, START, world.clock.now())
    }


def test_the_registry_adds_lists_and_removes_listeners(tmp_path: Path) -> None:
    world = three_users(tmp_path)
    assert not add_user(world.settings, "bob", runtime=world.runtime)  # already there: no change
    listed = describe_users(world.settings, runtime=world.runtime)
    assert [u["user"] for u in listed] == list(USERS)
    assert all(u["logged_in"] and u["partition"] == f"users/{u['user']}/" for u in listed)
    done = remove_user(world.settings, "bob", runtime=world.runtime)
    assert done == {"registered": True, "tokens_deleted": True}
    assert not user_token_file(world.settings, "bob").exists()
    assert [u["user"] for u in describe_users(world.settings, runtime=world.runtime)] == ["alice", "carol"]


@pytest.mark.parametrize("bad", ["../etc", ".hidden", "a/b", "", "x" * 65])
def test_a_listener_name_that_cannot_be_a_partition_is_refused(tmp_path: Path, bad: str) -> None:
    world = make_world(tmp_path)
    with pytest.raises(ConfigError, match="partition"):
        add_user(world.settings, bad, runtime=world.runtime)


def test_each_user_has_their_own_token_file_and_partition(tmp_path: Path) -> None:
    world = make_world(tmp_path, user="alice")
    bob = for_user(world.settings, "bob", partition=True)
    assert bob.token_file == tmp_path / "tokens.bob.json"
    assert bob.user_partition and bob.user == "bob"
    assert for_user(world.settings, "alice", partition=False).token_file == world.settings.token_file


@pytest.mark.parametrize("parallel", [1, 3])
def test_run_all_users_lands_and_loads_every_users_plays_under_their_partition(
    tmp_path: Path, parallel: int
) -> None:
    world = three_users(tmp_path)
    for _ in world.poll_times(days=1, every_minutes=120):
        run = run_all_users(
            world.settings, runtime=world.runtime, runtime_for=runtime_for(world), parallel=parallel
        )  # type: ignore[arg-type]
        assert not run.failed, run.to_dict()
    got = plays_by_user(world)
    for name in USERS:
        assert truth(world, name) and got[name] == truth(world, name), name
        keys = list((tmp_path / "raw" / "users" / name / "recently_played").iterdir())
        assert keys, name
    assert not (tmp_path / "raw" / "recently_played").exists()  # nothing outside the partitions


def test_one_users_revoked_login_does_not_stop_the_others(tmp_path: Path) -> None:
    world = three_users(tmp_path)
    bob = FileTokenStore(user_token_file(world.settings, "bob"))
    state = bob.load()
    assert state is not None
    world.sim.revoke_refresh_token(state.refresh_token.get_secret_value())
    world.clock.advance(timedelta(hours=8))  # every access token expired: each user refreshes
    run = run_all_users(world.settings, runtime=world.runtime, runtime_for=runtime_for(world))  # type: ignore[arg-type]
    assert [r.status for r in run.users["bob"]] == ["failed"]
    assert "auth login --user bob" in (run.users["bob"][0].message or "")
    for name in ("alice", "carol"):
        assert run.users[name][0].status == "ok", run.to_dict()
    assert run.shared[0].status == "ok"
    got = plays_by_user(world)
    assert got["alice"] and got["carol"] and "bob" not in got


def test_a_429_pause_is_the_apps_and_holds_every_user(tmp_path: Path) -> None:
    world = three_users(tmp_path)
    world.clock.advance(timedelta(hours=1))
    record_pause(
        world.runtime.state,
        world.clock.now(),
        3600,
        timedelta(hours=1),
        reason="rate limited",
        kind="rate_limit",
        endpoint="GET /me/player/recently-played",
        max_pause=timedelta(days=1),
    )
    world.sim.clear_calls()
    run = run_all_users(world.settings, runtime=world.runtime, runtime_for=runtime_for(world))  # type: ignore[arg-type]
    for name in USERS:
        assert [r.status for r in run.users[name]] == ["paused"], run.to_dict()
    assert not run.failed
    assert [r.job for r in run.shared] == ["process"]  # no enrichment while the app is paused
    assert world.sim.calls == []  # nobody called Spotify during the app's pause


def test_without_a_registry_the_configured_user_runs_unpartitioned(tmp_path: Path) -> None:
    world = make_world(tmp_path, user="alice")
    world.clock.advance(timedelta(hours=1))
    run = run_all_users(world.settings, runtime=world.runtime, runtime_for=runtime_for(world))  # type: ignore[arg-type]
    assert list(run.users) == ["alice"] and not run.failed
    assert (tmp_path / "raw" / "recently_played").is_dir()
