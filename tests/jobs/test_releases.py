"""The release check: budgeted, landed like every fetch, loaded by process, replayed by rebuild."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from spotify_pipeline.jobs import download_followed_artists, process, run_all
from spotify_pipeline.jobs.rebuild import rebuild
from spotify_pipeline.jobs.releases import MAX_PAGES, check_releases
from spotify_pipeline.landing.decode import stored_json
from spotify_pipeline.landing.keys import parse_key
from spotify_pipeline.warehouse import schema

from .harness import World, make_world


def _world(tmp_path: Path, **kw: object) -> World:
    world = make_world(tmp_path, structured_taste=True, **kw)  # type: ignore[arg-type]
    download_followed_artists(world.settings, runtime=world.runtime)
    process(world.settings, runtime=world.runtime)
    return world


def _calls(world: World, prefix: str) -> int:
    return sum(1 for c in world.sim.calls if c.path.startswith(prefix))


def _artist_album_calls(world: World) -> int:
    return sum(1 for c in world.sim.calls if c.path.startswith("/v1/artists/") and c.path.endswith("/albums"))


def test_a_check_lands_the_answers_and_process_keeps_the_releases(tmp_path: Path) -> None:
    world = _world(tmp_path)
    report = check_releases(
        world.settings.model_copy(update={"release_artists_per_day": 5}), runtime=world.runtime
    )
    assert report.status == "ok", report
    assert report.counts["artists_checked"] == 5
    keys = [
        k for k in (p.relative_to(tmp_path / "raw").as_posix() for p in (tmp_path / "raw").rglob("*.json.gz"))
    ]
    landed = [k for k in keys if k.startswith("artist_albums/")]
    assert len(landed) == 1 and parse_key(landed[0]).kind == "artist_albums"
    envelope = json.loads(stored_json((tmp_path / "raw" / landed[0]).read_bytes(), landed[0]))
    assert envelope["format"] == "spotify-pipeline.raw/1" and envelope["kind"] == "artist_albums"
    assert all(
        f["request"].startswith("GET /v1/artists/") and f["status"] == 200 for f in envelope["fetches"]
    )
    assert _artist_album_calls(world) <= 5 * MAX_PAGES
    with world.runtime.engine.connect() as conn:
        checks = conn.execute(sa.select(schema.release_checks)).all()
        releases = conn.execute(sa.select(schema.releases)).all()
    assert len(checks) == 5 and releases
    artists = {c.artist_id for c in checks}
    assert {r.artist_id for r in releases} <= artists


def test_each_artist_once_a_week_and_at_most_n_a_day(tmp_path: Path) -> None:
    world = _world(tmp_path)
    settings = world.settings.model_copy(update={"release_artists_per_day": 4})
    first = check_releases(settings, runtime=world.runtime)
    again = check_releases(settings, runtime=world.fresh_runtime())
    assert first.counts["artists_checked"] == 4
    assert (
        again.status == "skipped" and "release_artists_per_day" in again.message
    )  # the day's budget is used
    calls = _artist_album_calls(world)
    checked: set[str] = set()
    for day in range(1, 15):
        world.clock.set(world.clock.now() + timedelta(days=1))
        rt = world.fresh_runtime()
        check_releases(settings, runtime=rt)
        with rt.engine.connect() as conn:
            rows = conn.execute(
                sa.select(schema.release_checks.c.artist_id, schema.release_checks.c.last_checked_at)
            ).all()
        checked |= {r.artist_id for r in rows}
        recent = [r for r in rows if world.clock.now() - r.last_checked_at < timedelta(days=1)]
        assert len(recent) <= 4, f"day {day}: more than the daily budget"
    assert _artist_album_calls(world) - calls <= 14 * 4 * MAX_PAGES
    with world.runtime.engine.connect() as conn:
        firsts = conn.execute(sa.select(schema.release_checks)).all()
    # Nobody is checked twice within a week: a second check is at least 7 days after the first.
    assert all(
        r.last_checked_at == r.first_checked_at or r.last_checked_at - r.first_checked_at >= timedelta(days=7)
        for r in firsts
    )


def test_run_checks_releases_within_the_budget_and_rebuild_replays_them(tmp_path: Path) -> None:
    world = make_world(tmp_path, structured_taste=True)
    world.clock.set(world.clock.now() + timedelta(hours=6))
    settings = world.settings.model_copy(update={"release_artists_per_day": 3})
    reports = run_all(settings, runtime=world.runtime)
    assert reports[-1].job == "check_releases" and reports[-1].counts["artists_checked"] == 3
    with world.runtime.engine.connect() as conn:
        before = sorted(
            conn.execute(sa.select(schema.releases.c.album_id, schema.releases.c.first_seen_at)).all()
        )
        checks = sorted(conn.execute(sa.select(schema.release_checks)).all())
    assert before
    rebuild(settings, runtime=world.fresh_runtime())
    rt = world.fresh_runtime()
    with rt.engine.connect() as conn:
        after = sorted(
            conn.execute(sa.select(schema.releases.c.album_id, schema.releases.c.first_seen_at)).all()
        )
        checks_after = sorted(conn.execute(sa.select(schema.release_checks)).all())
    assert after == before and checks_after == checks


def test_run_without_a_budget_makes_no_release_call(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    reports = run_all(world.settings.model_copy(update={"release_artists_per_day": 0}), runtime=world.runtime)
    assert all(r.job != "check_releases" for r in reports)
    assert _artist_album_calls(world) == 0
