"""Capture under hostile conditions: the warehouse down at fetch time, an unreadable
object in the current hour, a Retry-After that names no sane time. Each polls as cron would and
ends with the three checks (tests/faults/checks.py)."""

from __future__ import annotations

import gzip
import socket
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.jobs.harness import World, make_world

from spotify_pipeline.jobs.runtime import Runtime
from spotify_pipeline.settings import Settings
from spotify_pipeline.spotify.tokens import FileTokenStore

from .checks import assert_three_checks, cron

RECENT = "/v1/me/player/recently-played"


def _world(
    tmp_path: Path, mysql_url: str | None = None, s3: tuple[str, str] | None = None, **kw: object
) -> World:
    world = make_world(
        tmp_path,
        warehouse_url=mysql_url,
        raw_zone=f"s3://{s3[1]}/spotify" if s3 else None,
        s3_endpoint_url=s3[0] if s3 else None,
        **kw,  # type: ignore[arg-type]
    )
    world.sim.sleep = lambda s: world.clock.advance(s)
    world.clock.advance(timedelta(hours=8))
    return world


def _poll(world: World, runs: int, every_minutes: int = 30, runtime: Runtime | None = None) -> list[str]:
    told: list[str] = []
    for _ in range(runs):
        world.clock.advance(timedelta(minutes=every_minutes))
        told += cron(world, runtime)
    return told


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _runtime(world: World, settings: Settings) -> Runtime:
    rt = Runtime(
        settings,
        clock=world.clock,
        transport=world.sim.transport(),
        token_store_override=FileTokenStore(settings.token_file),
    )
    rt.sleep = lambda s: world.clock.advance(s)
    return rt


@pytest.mark.parametrize(
    "stores",
    ["sqlite", pytest.param("mariadb-s3", marks=[pytest.mark.mysql, pytest.mark.s3])],
)
def test_the_warehouse_down_at_fetch_time_loses_no_poll(
    tmp_path: Path, stores: str, request: pytest.FixtureRequest
) -> None:
    if stores == "mariadb-s3":
        world = _world(
            tmp_path,
            request.getfixturevalue("mysql_url"),
            request.getfixturevalue("s3_bucket"),
            profile="heavy",
        )
        down_url = f"mysql+pymysql://root@127.0.0.1:{_closed_port()}/spotify"  # refused
    else:
        world = _world(tmp_path, profile="heavy")
        (tmp_path / "a-file").write_text("a file where the database's folder should be")
        down_url = f"sqlite:///{tmp_path / 'a-file' / 'warehouse.db'}"
    told = _poll(world, 20)  # polled all day: by evening a page holds 50 plays
    down = Settings.model_validate({**world.settings.model_dump(), "warehouse_url": down_url})
    outage: list[str] = []
    for _ in range(3):  # an hour and a half without a database
        outage += _poll(world, 1, runtime=_runtime(world, down))
    assert all("landed 50 plays" in line for line in outage[0::2])
    told += outage + _poll(world, 2)  # the database is back
    with world.runtime.engine.connect() as conn:
        runs = conn.execute(
            sa.text("SELECT status, message FROM fetch_runs WHERE kind = 'recently_played'")
        ).all()
    assert len(runs) == 25 and {r[0] for r in runs} == {"ok"}
    assert sum("recorded late: the warehouse was unreachable" in (r[1] or "") for r in runs) == 3
    assert_three_checks(
        world,
        told,
        "download_recently_played: partial - landed 50 plays",
        "the warehouse is unreachable (",
        "bookkeeping will catch up on the next run",
        "process: failed - not run: the warehouse is unreachable",
        "bookkeeping_caught_up=3",
    )


@pytest.mark.parametrize(
    "stores",
    ["sqlite-folder", pytest.param("mariadb-s3", marks=[pytest.mark.mysql, pytest.mark.s3])],
)
def test_an_unreadable_object_in_the_current_hour_is_set_aside_and_runs_go_on(
    tmp_path: Path, stores: str, request: pytest.FixtureRequest
) -> None:
    if stores == "mariadb-s3":
        world = _world(tmp_path, request.getfixturevalue("mysql_url"), request.getfixturevalue("s3_bucket"))
    else:
        world = _world(tmp_path)
    told = _poll(world, 1)  # 08:30: the object of hour 08 exists and is loaded
    rt = world.fresh_runtime()
    key = "recently_played/2026110208.json.gz"  # raw_compression gzip, the default
    assert rt.store.get(key) is not None
    damaged = gzip.compress(b'{"format": "spotify-pipeline.raw/1", "fetches": [{"response": {"items": [')
    if stores == "mariadb-s3":
        bucket = request.getfixturevalue("s3_bucket")[1]
        rt.store._client.put_object(Bucket=bucket, Key=f"spotify/{key}", Body=damaged)  # noqa: SLF001
    else:
        (tmp_path / "raw" / key).write_bytes(damaged)
    told += _poll(world, 2, every_minutes=10)  # 08:40 and 08:50: the same hour
    assert rt.store.get("_quarantine/" + key) == damaged
    notices = [line for line in told if f"moved it to _quarantine/{key}" in line]
    assert len(notices) == 1, told  # told once
    told += _poll(world, 3)
    assert_three_checks(world, told, f"{key} could not be read (truncated JSON", "landed this fetch in a new")


@pytest.mark.parametrize("value", ["99999999999", "inf", "1e20", "soon"])
def test_an_absurd_retry_after_pauses_a_day_at_most_and_runs_resume(tmp_path: Path, value: str) -> None:
    world = _world(tmp_path, profile="light")
    told = _poll(world, 2)
    world.sim.faults.add(path_prefix=RECENT, kind="penalty", retry_after=value)  # type: ignore[arg-type]
    told += cron(world)
    world.sim.faults.clear()
    world.clock.advance(timedelta(days=1, minutes=1))  # no pause outlives max_pause_seconds
    told += _poll(world, 2)
    with world.runtime.engine.connect() as conn:
        statuses = conn.execute(sa.text("SELECT status FROM fetch_runs ORDER BY id")).scalars().all()
    assert statuses[-2:] == ["ok", "ok"] and "paused" in statuses
    assert_three_checks(world, told, "download_recently_played: paused", "paused until")
