"""``dag.test()`` of the three DAGs against the simulator on a loopback port, moto S3 and MariaDB.

Connections come as ``AIRFLOW_CONN_*`` env vars, exactly as a deployment may define them. The
simulator's clock is frozen, so nothing new is played between two runs and "a second run of the
same interval changes no counts" is a statement about the pipeline, not about luck.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from spotify_pipeline.landing.decode import stored_json

pytestmark = [
    pytest.mark.airflow,
    pytest.mark.mysql,
    pytest.mark.s3,
    pytest.mark.slow,
    # Raised inside Airflow's own in-process execution API client, not by this project.
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`"),
]

# Interval [2026-11-28 10:10, 12:10) of `10 */2 * * *`: the bihourly object is named ...2026112812.
LOGICAL_DATE = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)
RECENT_KEY = "raw/recently_played/2026112812.json.gz"
# The daily interval before 12:30 is [Nov 27 00:00, Nov 28 00:00): named after its end.
FOLLOWING_KEY = "raw/following_artists/2026112800.json.gz"


@dataclass
class World:
    sim: Any
    refresh_token: str
    bucket: str
    s3: Any
    warehouse_url: str
    token_file: Path

    def keys(self, kinds: tuple[str, ...] = ("recently_played", "following_artists")) -> list[str]:
        """Raw objects of these kinds (enrich also lands its lookups, under metadata/)."""
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix="raw/")
        keys = (o["Key"] for o in listed.get("Contents", []))
        return sorted(k for k in keys if k.split("/")[1] in kinds)

    def distinct_plays_in(self, key: str) -> set[str]:
        body = json.loads(stored_json(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read(), key))
        return {
            item["played_at"] for fetch in body["fetches"] for item in (fetch["response"].get("items") or [])
        }

    def counts(self) -> dict[str, int]:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.warehouse_url)
        try:
            with engine.connect() as conn:
                return {
                    table: int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())  # noqa: S608
                    for table in ("plays", "tracks", "artists", "albums", "followed_artists", "landed_files")
                }
        finally:
            engine.dispose()


def _write_token_file(path: Path, body: dict[str, Any], client_id: str, expires_at: datetime) -> None:
    from pydantic import SecretStr

    from spotify_pipeline.spotify.tokens import FileTokenStore, TokenState

    now = datetime.now(UTC)
    FileTokenStore(path).save(
        TokenState(
            access_token=SecretStr(body["access_token"]),
            refresh_token=SecretStr(body["refresh_token"]),
            expires_at=expires_at,
            scope=body.get("scope", ""),
            consented_at=now,
            client_id=client_id,
        )
    )


@pytest.fixture()
def world(
    airflow_db: Path,
    s3_bucket: tuple[str, str],
    mysql_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    import boto3
    from sqlalchemy.engine import make_url

    from spotify_pipeline.clock import ManualClock
    from spotify_pipeline.simulator import Simulator, SimulatorConfig, serve

    # Keep a developer's SPOTIFY_PIPELINE_* settings, .env and TOML out of the run.
    for name in [n for n in os.environ if n.startswith("SPOTIFY_PIPELINE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)

    now = datetime.now(UTC).replace(microsecond=0)
    # A frozen clock: the Web API budget of a rolling window never refills, hence a large one.
    sim = Simulator(SimulatorConfig(seed=11, rate_limit_per_30s=5000), clock=ManualClock(now))
    sim.add_user("alice", "typical", since=now - timedelta(days=3))
    grant = sim.grant("alice", pkce=True)
    token_file = tmp_path / "shared" / "tokens.json"
    _write_token_file(
        token_file, grant, sim.default_app.client_id, now + timedelta(seconds=grant["expires_in"])
    )

    endpoint, bucket = s3_bucket
    url = make_url(mysql_url)
    # The deploy step (`spotify-pipeline db upgrade`): tasks never migrate the warehouse themselves.
    from spotify_pipeline.warehouse.engine import make_engine, upgrade

    engine = make_engine(mysql_url)
    upgrade(engine)
    engine.dispose()
    with serve(sim) as info:
        spotify = {
            "conn_type": "generic",
            "login": info.client_id,
            "password": "",  # a PKCE app: no secret
            "extra": {
                "redirect_uri": info.redirect_uri,
                "accounts_url": info.accounts_url,
                "api_url": info.api_url,
                "user": "alice",
                "token_file": str(token_file),
                "raw_zone": f"s3://{bucket}/raw",
            },
        }
        aws = {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
        warehouse = {
            "conn_type": "mysql",
            "host": url.host,
            "port": url.port,
            "login": url.username,
            "password": url.password or "",
            "schema": url.database,
        }
        monkeypatch.setenv("AIRFLOW_CONN_SPOTIFY_DEFAULT", json.dumps(spotify))
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(aws))
        monkeypatch.setenv("AIRFLOW_CONN_SPOTIFY_WAREHOUSE", json.dumps(warehouse))
        # The S3 keys must come from the connection, not from the fixture's environment.
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        yield World(sim, grant["refresh_token"], bucket, s3, str(mysql_url), token_file)


@pytest.fixture(scope="module")
def dags(airflow_db: Path) -> dict[str, Any]:
    """The DAGs as parsed, with retry delays of a second: an unexpected failure then ends the run
    in seconds instead of dag.test() waiting out minutes of backoff, and "no retry" is observable."""
    from airflow.models import DagBag

    from .conftest import DAGS

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    for dag in bag.dags.values():
        for task in dag.tasks:
            task.retry_delay = timedelta(seconds=1)
            task.max_retry_delay = timedelta(seconds=1)
    return dict(bag.dags)


def run_dag(dags: dict[str, Any], dag_id: str) -> dict[str, tuple[str, int, Any]]:
    """One ``dag.test()`` run for LOGICAL_DATE; task_id -> (state, try_number, XCom return value)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dag_run = dags[dag_id].test(logical_date=LOGICAL_DATE)
    out: dict[str, tuple[str, int, Any]] = {}
    with create_session() as session:
        for ti in dag_run.get_task_instances(session=session):
            value = session.scalar(
                select(XComModel.value).where(
                    XComModel.dag_id == dag_id,
                    XComModel.run_id == ti.run_id,
                    XComModel.task_id == ti.task_id,
                    XComModel.key == "return_value",
                )
            )
            out[ti.task_id] = (
                str(ti.state),
                ti.try_number,
                json.loads(value) if isinstance(value, str) else value,
            )
    return out


def test_three_dags_land_load_and_enrich_then_a_rerun_changes_nothing(
    world: World, dags: dict[str, Any]
) -> None:
    recent = run_dag(dags, "spotify_bihourly_download")
    state, tries, summary = recent["fetch_recently_played"]
    assert (state, tries) == ("success", 1)
    assert summary["status"] == "ok" and summary["counts"]["plays_fetched"] == 50
    assert world.keys() == [RECENT_KEY]

    following = run_dag(dags, "spotify_daily_download")
    assert following["fetch_followed_artists"][0] == "success"
    assert world.keys() == [FOLLOWING_KEY, RECENT_KEY]

    pipeline = run_dag(dags, "spotify_daily_data_pipeline")
    assert {t: s[0] for t, s in pipeline.items()} == {
        "migrate_warehouse": "success",
        "listeners": "success",
        "process_landed": "success",
        "enrich_metadata": "success",
    }
    assert pipeline["listeners"][2] == [
        {"user": "alice", "partition": False, "conn_id": "spotify_default", "process_partition": None}
    ]
    assert pipeline["process_landed"][2]["counts"]["plays_inserted"] == 50
    counts = world.counts()
    assert counts["plays"] == 50
    assert counts["landed_files"] >= 2  # both raw objects (+ the metadata enrich landed)
    assert counts["tracks"] > 0 and counts["artists"] > 0 and counts["albums"] > 0
    assert counts["followed_artists"] == following["fetch_followed_artists"][2]["counts"]["artists_fetched"]
    plays_landed = world.distinct_plays_in(RECENT_KEY)
    assert len(plays_landed) == 50
    metadata_objects = world.keys(("metadata",))
    assert metadata_objects  # enrich lands what it looked up: the raw zone stays the source of truth

    # The same intervals again: the fetch merges into the same hour object, loads change nothing.
    again = run_dag(dags, "spotify_bihourly_download")
    assert again["fetch_recently_played"][0] == "success"
    run_dag(dags, "spotify_daily_download")
    second = run_dag(dags, "spotify_daily_data_pipeline")
    assert second["process_landed"][0] == "success"
    assert second["process_landed"][2]["counts"].get("plays_inserted", 0) == 0
    assert world.keys() == [FOLLOWING_KEY, RECENT_KEY]
    assert world.keys(("metadata",)) == metadata_objects  # nothing left to look up
    assert world.distinct_plays_in(RECENT_KEY) == plays_landed
    assert world.counts() == counts


def test_long_429_pause_skips_the_task_with_its_reason(
    world: World, dags: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    world.sim.faults.add(kind="penalty", path_prefix="/v1/me/player/recently-played", count=None)
    result = run_dag(dags, "spotify_bihourly_download")
    state, tries, summary = result["fetch_recently_played"]
    assert (state, tries, summary) == ("skipped", 1, None)
    task_log = capfd.readouterr().out
    assert "download_recently_played skipped: Spotify asked to wait 86400 s" in task_log
    assert world.keys() == []  # nothing landed, nothing half-written
    # The pause is remembered: the next run skips at once instead of asking Spotify again.
    calls_before = len(world.sim.calls)
    assert run_dag(dags, "spotify_bihourly_download")["fetch_recently_played"][0] == "skipped"
    recent_calls = [c for c in world.sim.calls[calls_before:] if "recently-played" in c.path]
    assert recent_calls == []


def test_invalid_grant_fails_at_once_without_retry(
    world: World, dags: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    grant_body = {"access_token": "expired-access", "refresh_token": world.refresh_token, "scope": ""}
    _write_token_file(world.token_file, grant_body, world.sim.default_app.client_id, datetime.now(UTC))
    world.sim.revoke_refresh_token(world.refresh_token)
    result = run_dag(dags, "spotify_bihourly_download")
    state, tries, summary = result["fetch_recently_played"]
    # AirflowFailException: failed on the first try although the task has retries left.
    assert (state, tries, summary) == ("failed", 1, None)
    task_log = capfd.readouterr().out
    assert (
        "AirflowFailException" in task_log
        and "log in again with `spotify-pipeline auth login --user alice`" in task_log
    )
    assert world.refresh_token not in task_log  # the dead token is still a secret
    assert dags["spotify_bihourly_download"].get_task("fetch_recently_played").retries == 3
    assert world.keys() == []


def test_weekly_recommendations_check_releases_then_refresh_only_opted_in_playlists(
    world: World, dags: dict[str, Any]
) -> None:
    from sqlalchemy import create_engine

    from spotify_pipeline.settings import PLAYLIST_SCOPES, SCOPES
    from spotify_pipeline.warehouse.releases import remember_playlist

    assert dags["spotify_weekly_recommendations"].is_paused_upon_creation is True  # opt-in
    run_dag(dags, "spotify_daily_download")
    run_dag(dags, "spotify_daily_data_pipeline")
    weekly = run_dag(dags, "spotify_weekly_recommendations")
    state, tries, summary = weekly["check_new_releases"]
    assert (state, tries) == ("success", 1)
    assert 0 < summary["counts"]["artists_checked"] <= 25
    assert world.keys(("artist_albums",)), "the answers are landed like every fetch"
    refresh = weekly["refresh_playlists"]
    assert refresh[0] == "success" and refresh[2]["status"] == "skipped"  # nobody opted in yet
    calls = [c for c in world.sim.calls if c.path.endswith("/albums") and c.path.startswith("/v1/artists/")]
    assert len(calls) <= 25 * 2

    # Opt in: a login with the playlist scope, and a playlist written once.
    grant = world.sim.grant("alice", pkce=True, scopes=SCOPES + PLAYLIST_SCOPES)
    _write_token_file(
        world.token_file, grant, world.sim.default_app.client_id, datetime.now(UTC) + timedelta(hours=1)
    )
    playlist = world.sim.library
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from spotify_pipeline.simulator.webapi import Caller

    token = world.sim.state.access_tokens[grant["access_token"]]
    request = Request(
        EnvironBuilder(method="POST", json={"name": "Mine · similar", "public": False}).get_environ()
    )
    body, _status = playlist.create_playlist(request, Caller(token), "/me/playlists")
    engine = create_engine(world.warehouse_url)
    with engine.begin() as conn:
        remember_playlist(
            conn, "alice", "similar", name="Mine · similar", playlist_id=body["id"], snapshot_id=None,
            track_count=0, at=datetime.now(UTC), created=True,
        )  # fmt: skip
    engine.dispose()
    stale = f"spotify:track:{next(iter(world.sim.catalog.tracks))}"
    playlist.playlists[body["id"]].uris = [stale]  # last week's list, now out of date
    before = playlist.playlists[body["id"]].snapshot
    again = run_dag(dags, "spotify_weekly_recommendations")
    assert again["check_new_releases"][0] == "success"
    assert again["refresh_playlists"][0] == "success" and again["refresh_playlists"][2]["status"] == "ok"
    assert playlist.playlists[body["id"]].snapshot != before  # rewritten in place, not created anew
    assert stale not in playlist.playlists[body["id"]].uris
    assert len(playlist.playlists) == 1
