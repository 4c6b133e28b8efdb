"""The whole flow against the simulator: fetch, land, process, enrich, on SQLite + folder and on
MariaDB + S3 (moto server on loopback). Counts are checked against the simulator's ground truth."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from spotify_pipeline.clock import to_ms
from spotify_pipeline.jobs import download_followed_artists, download_recently_played, enrich, process
from spotify_pipeline.landing.decode import stored_json
from spotify_pipeline.warehouse import reads

from .harness import START, World, make_world


def _cycle(world: World, days: float, every_minutes: int = 120) -> None:
    next_daily = START.replace(hour=6)
    for t in world.poll_times(days, every_minutes):
        rt = world.fresh_runtime()
        download_recently_played(world.settings, runtime=rt)
        if t >= next_daily:
            download_followed_artists(world.settings, runtime=rt)
            process(world.settings, runtime=rt)
            enrich(world.settings, runtime=rt, force=True)
            next_daily += timedelta(days=1)
    rt = world.fresh_runtime()
    process(world.settings, runtime=rt)
    enrich(world.settings, runtime=rt, force=True)


def _stored(world: World) -> Counter[tuple[int, str]]:
    with world.runtime.engine.connect() as conn:
        return Counter((to_ms(at), track) for at, track in reads.play_keys(conn, world.settings.user))


def _assert_complete(world: World) -> None:
    truth = world.true_keys()
    stored = _stored(world)
    assert truth, "the simulated user listened to nothing"
    assert set(stored) == truth, (len(truth - set(stored)), len(set(stored) - truth))
    assert max(stored.values()) == 1


def _table_count(world: World, table: str) -> int:
    with world.runtime.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one())  # noqa: S608 - fixed names


def test_typical_listener_every_two_hours_on_sqlite_and_folder(tmp_path: Path) -> None:
    world = make_world(tmp_path, late_share=0.05)
    _cycle(world, days=3)
    _assert_complete(world)
    with world.runtime.engine.connect() as conn:
        assert reads.gaps(conn, world.settings.user) == []
    # the original key layout, one object per poll hour (gzip-compressed), nothing else at the top level
    keys = [
        p.relative_to(tmp_path / "raw").as_posix()
        for p in (tmp_path / "raw").rglob("*.json*")
        if not p.name.startswith(".")  # the lock files and the etag cache are hidden
    ]
    pattern = r"(recently_played|following_artists|metadata)/\d{10}\.json\.gz"
    assert all(re.fullmatch(pattern, k) for k in keys), keys
    assert sum(k.startswith("recently_played/") for k in keys) == 3 * 12
    # every raw object keeps Spotify's answer untouched next to the fetch metadata
    name = "recently_played/2026110202.json.gz"
    obj = json.loads(stored_json((tmp_path / "raw" / name).read_bytes(), name))
    fetch = obj["fetches"][0]
    assert fetch["request"] == "GET /v1/me/player/recently-played?limit=50"
    assert set(fetch["response"]) == {"items", "next", "cursors", "limit", "href"}


def test_reprocessing_and_overlapping_objects_change_no_counts(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    _cycle(world, days=1, every_minutes=60)  # hourly polls overlap heavily
    before = {t: _table_count(world, t) for t in ("plays", "tracks", "artists", "albums", "track_artists")}
    rt = world.fresh_runtime()
    report = process(world.settings, runtime=rt)
    assert report.counts.get("objects_loaded", 0) == 0  # the manifest lists them all
    # forget the manifest: loading every object again adds nothing
    with rt.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM landed_files"))
    report = process(world.settings, runtime=world.fresh_runtime())
    assert report.counts["objects_loaded"] > 0
    assert report.counts.get("plays_inserted", 0) == 0
    after = {t: _table_count(world, t) for t in before}
    assert after == before
    _assert_complete(world)


def test_a_second_fetch_in_the_same_hour_merges_and_loses_nothing(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.clock.advance(timedelta(hours=10))
    hour = world.clock.now()
    download_recently_played(world.settings, runtime=world.fresh_runtime(), hour=hour)
    world.clock.advance(timedelta(minutes=50))
    download_recently_played(world.settings, runtime=world.fresh_runtime(), hour=hour)
    name = hour.strftime("recently_played/%Y%m%d%H.json.gz")
    envelope = json.loads(stored_json((tmp_path / "raw" / name).read_bytes(), name))
    assert len(envelope["fetches"]) == 2
    process(world.settings, runtime=world.fresh_runtime())
    _assert_complete(world)


def test_malformed_object_is_quarantined_and_the_rest_loads(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    _cycle(world, days=0.5)
    bad = tmp_path / "raw" / "recently_played" / "2026010100.json"
    bad.write_text('{"format": "spotify-pipeline.raw/1", "fetches": [{"response": {"items": [')
    empty = tmp_path / "raw" / "recently_played" / "2026010101.json"
    empty.write_text("")
    report = process(world.settings, runtime=world.fresh_runtime())
    assert report.status == "partial"
    assert report.counts["objects_quarantined"] == 2
    assert any("2026010100.json" in p for p in report.problems)
    assert (tmp_path / "raw" / "_quarantine" / "recently_played" / "2026010100.json").exists()
    _assert_complete(world)
    # quarantined objects are not retried until they change
    again = process(world.settings, runtime=world.fresh_runtime())
    assert again.counts.get("objects_quarantined", 0) == 0


def test_enrich_looks_up_each_artist_and_album_once_in_development_mode(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    _cycle(world, days=1)
    artist_calls = [c.path for c in world.sim.calls if c.path.startswith("/v1/artists/")]
    album_calls = [c.path for c in world.sim.calls if c.path.startswith("/v1/albums/")]
    batch_calls = Counter(c.path for c in world.sim.calls if c.path in ("/v1/artists", "/v1/albums"))
    assert len(artist_calls) == len(set(artist_calls)) > 0  # each id looked up once
    assert len(album_calls) == len(set(album_calls)) > 0
    # development mode: each batch endpoint answers 403 once, and is not asked again
    assert batch_calls == {"/v1/artists": 1, "/v1/albums": 1}
    assert all(c.status == 403 for c in world.sim.calls if c.path in batch_calls)
    assert _table_count(world, "artists") >= len(set(artist_calls))
    with world.runtime.engine.connect() as conn:
        assert reads.missing_artist_ids(conn) == []
        assert reads.missing_album_ids(conn) == []
    n_before = len(world.sim.calls)
    enrich(world.settings, runtime=world.fresh_runtime(), force=True)
    assert len(world.sim.calls) == n_before  # nothing left to look up, batch 403 remembered


def test_followed_artists_are_kept_as_history(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    for day in range(1, 15):
        world.clock.set(START + timedelta(days=day, hours=6))
        download_followed_artists(world.settings, runtime=world.fresh_runtime())
    process(world.settings, runtime=world.fresh_runtime())
    user = world.settings.user
    now_following = set(world.sim.model.followed_artists(user, world.clock.now()))
    with world.runtime.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT artist_id, unfollowed_at FROM followed_artists WHERE user_id = :u"), {"u": user}
        ).all()
    open_ids = {r[0] for r in rows if r[1] is None}
    assert open_ids == now_following
    first = set(world.sim.model.followed_artists(user, START + timedelta(days=1, hours=6)))
    if first != now_following:  # the simulator changes follows over two weeks
        assert any(r[1] is not None for r in rows)


def test_binge_listener_polled_every_two_hours_reports_gaps(tmp_path: Path) -> None:
    world = make_world(tmp_path, profile="binge")
    _cycle(world, days=7)
    truth = world.true_keys()
    stored = _stored(world)
    missed = truth - set(stored)
    with world.runtime.engine.connect() as conn:
        gaps = reads.gaps(conn, world.settings.user)
    assert missed, "a binge listener polled every 2 h must lose plays to the 50-play window"
    assert gaps, "lost plays must be reported as gaps"
    for ms, _track in missed:  # every lost play lies inside a recorded gap: nothing lost silently
        assert any(to_ms(g["gap_from"]) < ms < to_ms(g["gap_to"]) for g in gaps), ms
    assert max(stored.values()) == 1


@pytest.mark.s3
@pytest.mark.parametrize(
    "engine_url",
    [
        pytest.param("mysql_url", marks=pytest.mark.mysql),
        pytest.param("postgres_url", marks=pytest.mark.postgres),
    ],
)
def test_whole_flow_on_mariadb_and_s3(
    tmp_path: Path, engine_url: str, s3_bucket: tuple[str, str], request: pytest.FixtureRequest
) -> None:
    mysql_url = request.getfixturevalue(engine_url)  # MariaDB or PostgreSQL
    endpoint, bucket = s3_bucket
    world = make_world(
        tmp_path, warehouse_url=mysql_url, raw_zone=f"s3://{bucket}/spotify", s3_endpoint_url=endpoint
    )
    _cycle(world, days=2)
    _assert_complete(world)
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="spotify/")["Contents"]]
    assert "spotify/recently_played/2026110202.json.gz" in keys
    before = _table_count(world, "plays")
    with world.runtime.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM landed_files"))
    process(world.settings, runtime=world.fresh_runtime())
    assert _table_count(world, "plays") == before


def test_a_recreated_database_at_the_same_url_is_migrated_again(tmp_path: Path) -> None:
    """Regression: the migration was remembered per URL, so a database recreated at the same URL
    in the same process (the demo removes its folder on every run) had no tables."""
    from spotify_pipeline.jobs.runtime import migrated_engine

    url = f"sqlite:///{tmp_path / 'again.db'}"
    migrated_engine(url).dispose()
    (tmp_path / "again.db").unlink()
    engine = migrated_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM plays")).scalar_one() == 0


def test_run_all_fetches_followed_artists_once_a_day(tmp_path: Path) -> None:
    from spotify_pipeline.jobs import run_all

    world = make_world(tmp_path)
    following_calls = lambda: sum(1 for c in world.sim.calls if c.path == "/v1/me/following")  # noqa: E731
    for _ in range(3):  # a cron `run` every 20 minutes
        world.clock.advance(timedelta(minutes=20))
        reports = run_all(world.settings, runtime=world.fresh_runtime())
    assert [r.job for r in reports][:2] == ["download_recently_played", "download_followed_artists"]
    assert reports[1].status == "skipped" and "following_every_hours" in reports[1].message
    pages = following_calls()
    assert pages >= 1
    world.clock.advance(timedelta(hours=24))
    reports = run_all(world.settings, runtime=world.fresh_runtime())
    assert reports[1].status == "ok"
    assert following_calls() == 2 * pages


def test_two_users_share_one_raw_zone_and_warehouse(tmp_path: Path) -> None:
    """Several users: raw keys under users/<name>/, one process run loads everyone's objects."""
    from spotify_pipeline.jobs.runtime import Runtime
    from spotify_pipeline.spotify.auth import token_from_grant
    from spotify_pipeline.spotify.tokens import FileTokenStore

    world = make_world(tmp_path, user="alice")
    world.sim.add_user("bob", profile="heavy", since=START)
    alice = world.settings.model_copy(update={"user_partition": True})
    bob = alice.model_copy(update={"user": "bob", "token_file": tmp_path / "bob-tokens.json"})
    FileTokenStore(bob.token_file).save(
        token_from_grant(
            world.sim.grant("bob", pkce=True), client_id=bob.client_id or "", now=world.clock.now()
        )
    )

    def runtime(settings):  # noqa: ANN001, ANN202
        rt = Runtime(
            settings,
            clock=world.clock,
            transport=world.sim.transport(),
            token_store_override=FileTokenStore(settings.token_file),
        )
        rt.sleep = lambda s: world.clock.advance(s)
        return rt

    for _ in world.poll_times(1, 120):
        download_recently_played(alice, runtime=runtime(alice))
        download_recently_played(bob, runtime=runtime(bob))
    process(alice, runtime=runtime(alice))
    keys = sorted(
        p.relative_to(tmp_path / "raw").as_posix()
        for p in (tmp_path / "raw").rglob("*.json*")
        if not p.name.startswith(".")  # the etag cache is hidden
    )
    assert keys and all(re.fullmatch(r"users/(alice|bob)/recently_played/\d{10}\.json\.gz", k) for k in keys)
    with world.runtime.engine.connect() as conn:
        for user in ("alice", "bob"):
            stored = {(to_ms(at), track) for at, track in reads.play_keys(conn, user)}
            truth = {
                (to_ms(p.ended_at), p.track_id)
                for p in world.sim.reachable_truth(user, START, world.clock.now())
            }
            assert stored == truth and truth, user
