"""Playlists written back: dry run by default, created once, updated in place, created again when
deleted, and a missing scope named with the way to opt in."""

from __future__ import annotations

from pathlib import Path

import pytest

from spotify_pipeline.errors import AuthError
from spotify_pipeline.insights.recommend import lists_for
from spotify_pipeline.jobs import process, run_all
from spotify_pipeline.jobs.recommend import write_playlists
from spotify_pipeline.settings import PLAYLIST_SCOPES, SCOPES
from spotify_pipeline.spotify.auth import token_from_grant
from spotify_pipeline.spotify.tokens import FileTokenStore
from spotify_pipeline.warehouse.releases import remembered_playlist

from .harness import World, make_world


def _world(tmp_path: Path, *, scope: bool = True) -> World:
    world = make_world(tmp_path, profile="heavy")
    world.clock.set(world.clock.now().replace(hour=22))
    run_all(world.settings.model_copy(update={"release_artists_per_day": 0}), runtime=world.runtime)
    process(world.settings, runtime=world.runtime)
    if scope:
        app = world.sim.default_app
        grant = world.sim.grant("alice", pkce=True, scopes=SCOPES + PLAYLIST_SCOPES)
        FileTokenStore(world.settings.token_file).save(
            token_from_grant(grant, client_id=app.client_id, now=world.clock.now())
        )
    return world


def _writes(world: World) -> list[tuple[str, str]]:
    return [
        (c.method, c.path)
        for c in world.sim.calls
        if c.method in ("POST", "PUT") and c.path.startswith("/v1/")
    ]


def _lists(world: World) -> dict[str, list]:  # type: ignore[type-arg]
    import sqlalchemy as sa

    from spotify_pipeline.warehouse import schema

    with world.runtime.engine.connect() as conn:
        seed = (
            conn.execute(sa.select(schema.plays.c.track_id).order_by(schema.plays.c.played_at))
            .scalars()
            .first()
        )
    assert seed is not None
    lists = lists_for(
        world.runtime.engine, "alice", now=world.clock.now(), kind="similar", seed=seed, limit=10
    )
    assert lists["similar"], "the simulated day gives a similar list"
    return lists


def test_the_default_is_a_dry_run_that_writes_nothing(tmp_path: Path) -> None:
    world = _world(tmp_path)
    report, plans = write_playlists(world.settings, _lists(world), "Mine", runtime=world.fresh_runtime())
    assert [p.action for p in plans] == ["create"] and plans[0].name == "Mine · similar"
    assert "dry run" in report.message and _writes(world) == []
    with world.runtime.engine.connect() as conn:
        assert remembered_playlist(conn, "alice", "similar") is None


def test_apply_creates_once_then_updates_in_place_and_is_idempotent(tmp_path: Path) -> None:
    world = _world(tmp_path)
    lists = _lists(world)
    _r, plans = write_playlists(world.settings, lists, "Mine", apply=True, runtime=world.fresh_runtime())
    pid = plans[0].playlist_id
    assert pid is not None and world.sim.library.playlists[pid].public is False
    assert world.sim.library.playlists[pid].uris == plans[0].uris
    assert [m for m, _ in _writes(world)] == ["POST", "PUT"]
    world.sim.clear_calls()
    _r, again = write_playlists(world.settings, lists, "Mine", apply=True, runtime=world.fresh_runtime())
    assert again[0].action == "unchanged" and again[0].playlist_id == pid
    assert _writes(world) == []  # nothing to change, nothing written
    shorter = {"similar": lists["similar"][:4]}
    _r, update = write_playlists(world.settings, shorter, "Mine", apply=True, runtime=world.fresh_runtime())
    assert update[0].action == "update" and len(update[0].removed) == len(lists["similar"]) - 4
    assert [m for m, _ in _writes(world)] == ["PUT"] and len(world.sim.library.playlists) == 1
    with world.runtime.engine.connect() as conn:
        assert remembered_playlist(conn, "alice", "similar")["track_count"] == 4  # type: ignore[index]


def test_a_deleted_playlist_is_created_again(tmp_path: Path) -> None:
    world = _world(tmp_path)
    lists = _lists(world)
    _r, plans = write_playlists(world.settings, lists, "Mine", apply=True, runtime=world.fresh_runtime())
    old = plans[0].playlist_id
    assert old is not None
    world.sim.library.delete_playlist(old)
    _r, again = write_playlists(world.settings, lists, "Mine", apply=True, runtime=world.fresh_runtime())
    assert again[0].action == "recreate" and again[0].playlist_id not in (None, old)
    with world.runtime.engine.connect() as conn:
        assert remembered_playlist(conn, "alice", "similar")["playlist_id"] == again[0].playlist_id  # type: ignore[index]


def test_without_the_playlist_scope_it_says_how_to_opt_in(tmp_path: Path) -> None:
    world = _world(tmp_path, scope=False)
    with pytest.raises(AuthError, match=r"auth login --scope playlists"):
        write_playlists(world.settings, _lists(world), "Mine", apply=True, runtime=world.fresh_runtime())
    with world.runtime.engine.connect() as conn:
        assert remembered_playlist(conn, "alice", "similar") is None
