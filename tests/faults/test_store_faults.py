"""The stores failing under the pipeline: the raw zone (S3 answering 500 or timing out mid-upload, a
full or unwritable local disk) and the warehouse (the connection dropping mid-load, the process
SIGKILLed during a load, two runs of one job at once).

Run where the store matters: the local-folder cases on SQLite + folder, the S3 and database cases
on MariaDB + S3 (moto server) as well. Three checks at the end of each (tests/faults/checks.py).
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from tests.jobs.harness import World, make_world

from spotify_pipeline.jobs import download_recently_played, process
from spotify_pipeline.jobs.runtime import Runtime
from spotify_pipeline.landing.decode import stored_json
from spotify_pipeline.landing.keys import is_raw_key

from .checks import assert_three_checks, cron, shown

ROOT = Path(__file__).resolve().parents[2]


def _world(tmp_path: Path, mysql_url: str | None = None, s3: tuple[str, str] | None = None) -> World:
    world = make_world(
        tmp_path,
        warehouse_url=mysql_url,
        raw_zone=f"s3://{s3[1]}/spotify" if s3 else None,
        s3_endpoint_url=s3[0] if s3 else None,
    )
    world.clock.advance(timedelta(hours=8))
    return world


def _poll(world: World, runs: int, every_minutes: int = 30) -> list[str]:
    told: list[str] = []
    for _ in range(runs):
        world.clock.advance(timedelta(minutes=every_minutes))
        told += cron(world)
    return told


# --- the raw zone -----------------------------------------------------------------------------------


@contextmanager
def _failing_os(monkeypatch: pytest.MonkeyPatch, name: str, code: int, under: Path) -> Iterator[list[int]]:
    """Make ``os.<name>`` fail with ``code`` for files under ``under`` (os.write: for every fd, since
    it only gets a number; the warehouse is SQLite, which writes through its own C code)."""
    real = getattr(os, name)
    hits: list[int] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        target = args[0]
        if name == "write" or str(target).startswith(str(under)):
            hits.append(1)
            raise OSError(code, os.strerror(code), str(target) if name != "write" else None)
        return real(*args, **kwargs)

    monkeypatch.setattr(os, name, failing)
    try:
        yield hits
    finally:
        monkeypatch.setattr(os, name, real)


@pytest.mark.parametrize(
    ("name", "code", "phrase"),
    [("write", errno.ENOSPC, "is full: free some space"), ("open", errno.EACCES, "is not writable")],
    ids=["disk-full", "unwritable"],
)
def test_a_full_or_unwritable_raw_folder_fails_the_fetch_and_keeps_the_old_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, code: int, phrase: str
) -> None:
    """(Unwritable is simulated: these tests run as root, for whom chmod does not bite.)"""
    world = _world(tmp_path)
    told = _poll(world, 2)
    objects = {p: p.read_bytes() for p in (tmp_path / "raw").rglob("*.json")}
    world.clock.advance(timedelta(minutes=30))
    rt = world.fresh_runtime()
    with _failing_os(monkeypatch, name, code, tmp_path / "raw") as hits:
        told += cron(world, rt)
    assert hits
    assert told[-1].startswith("error: could not write recently_played/")
    assert {p: p.read_bytes() for p in objects} == objects  # every landed object intact
    assert not [p for p in (tmp_path / "raw").rglob(".tmp-*")]  # no stray temp file
    told += _poll(world, 2)
    assert_three_checks(world, told, phrase, "the previous object is intact")


class _Raw:
    """The undecoded body botocore reads a response from."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


_S3_500 = b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"


def _s3_500(request: Any) -> AWSResponse:
    return AWSResponse(request.url, 500, {"Content-Type": "application/xml"}, _Raw(_S3_500))


def _s3_client(world: World, rt: Runtime) -> Any:
    return rt.store._client  # noqa: SLF001 - the fault is injected into the store's own client


@pytest.mark.mysql
@pytest.mark.s3
@pytest.mark.parametrize("fault", ["500", "timeout"])
def test_s3_failing_mid_upload_is_retried(
    tmp_path: Path, mysql_url: str, s3_bucket: tuple[str, str], fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    world = _world(tmp_path, mysql_url, s3_bucket)
    told = _poll(world, 1)
    world.clock.advance(timedelta(minutes=30))
    rt = world.fresh_runtime()
    failures = {"left": 2}

    def upload_fails(request: Any, **_: Any) -> AWSResponse | None:
        if failures["left"] <= 0:
            return None
        failures["left"] -= 1
        if fault == "timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        return _s3_500(request)

    _s3_client(world, rt).meta.events.register("before-send.s3.PutObject", upload_fails)
    report = download_recently_played(world.settings, runtime=rt)
    told.append(shown(report))
    assert failures["left"] == 0 and report.status == "ok"
    told += _poll(world, 1)
    assert_three_checks(world, told, "download_recently_played: ok", "s3://")


@pytest.mark.mysql
@pytest.mark.s3
def test_s3_failing_beyond_its_retries_fails_the_fetch_and_the_next_run_catches_up(
    tmp_path: Path, mysql_url: str, s3_bucket: tuple[str, str]
) -> None:
    world = _world(tmp_path, mysql_url, s3_bucket)
    told = _poll(world, 1)
    world.clock.advance(timedelta(minutes=30))
    rt = world.fresh_runtime()
    _s3_client(world, rt).meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: _s3_500(request)
    )
    told += cron(world, rt)
    assert told[-1].startswith("error: could not write s3://")
    told += _poll(world, 2)
    assert_three_checks(world, told, "S3 answered 500", "previous object is intact", "run again later")


# --- the warehouse ----------------------------------------------------------------------------------


def _on_second_object(engine: sa.engine.Engine, action: Callable[[Any], None]) -> None:
    """Call ``action(connection)`` inside the batch's transaction, at the second object's savepoint.

    Keyed on the savepoint, which every object opens: an object whose plays all came in an earlier
    object of the same run sends no INSERT into plays at all (the run's write memo), and the
    manifest rows of a batch are written in one statement at its commit."""
    seen = {"n": 0}

    @sa.event.listens_for(engine, "before_cursor_execute")
    def hook(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("SAVEPOINT"):
            seen["n"] += 1
            if seen["n"] == 2:
                action(conn)


def _land(world: World, runs: int) -> list[str]:
    told: list[str] = []
    for _ in range(runs):
        world.clock.advance(timedelta(minutes=60))
        told.append(shown(download_recently_played(world.settings, runtime=world.fresh_runtime())))
    return told


def _kill_sqlite(conn: Any) -> None:
    import sqlite3

    raise sqlite3.OperationalError("disk I/O error")  # what SQLite says when its file goes away


def _kill_mysql(conn: Any) -> None:
    import pymysql

    url = conn.engine.url
    thread_id = conn.connection.dbapi_connection.thread_id()
    killer = pymysql.connect(
        host=url.host, port=url.port or 3306, user=url.username, password=url.password or ""
    )
    try:
        with killer.cursor() as cur:
            cur.execute("KILL %s", (thread_id,))
    finally:
        killer.close()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("mariadb", marks=pytest.mark.mysql)])
def test_the_database_connection_dropping_mid_load(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("mysql_url") if backend == "mariadb" else None
    world = _world(tmp_path, url)
    told = _land(world, 4)
    rt = world.fresh_runtime()
    _on_second_object(rt.engine, _kill_sqlite if backend == "sqlite" else _kill_mysql)
    told += cron(world, rt)  # process stops at the broken object, saying which
    assert told[-1].startswith("error: the warehouse failed while loading recently_played/")
    with world.runtime.engine.connect() as conn:
        loaded = conn.execute(sa.text("SELECT COUNT(*) FROM landed_files")).scalar_one()
    # The batch it was in was rolled back whole (objects commit in batches of up to a second): what
    # committed before it stays loaded, and the next run loads exactly the rest.
    landed = sum(1 for i in world.fresh_runtime().store.list() if is_raw_key(i.key))
    assert loaded < landed
    report = process(world.settings, runtime=world.fresh_runtime())
    told.append(shown(report))
    assert report.counts["objects_loaded"] == landed - loaded
    assert_three_checks(world, told, "rolled back", "run `spotify-pipeline process` again", "process: ok")


_KILLED_LOAD = """
import os, sys, time
import sqlalchemy as sa
from spotify_pipeline.settings import load_settings
from spotify_pipeline.jobs import process
from spotify_pipeline.jobs.runtime import Runtime

settings = load_settings(raw_zone=sys.argv[1], warehouse_url=sys.argv[2], user="alice")
rt = Runtime(settings)

@sa.event.listens_for(rt.engine, "after_cursor_execute")
def stall(conn, cursor, statement, *args):
    if "INTO plays" in statement:  # mid-load: the first object's plays are written, not committed
        open(sys.argv[3], "w").close()
        time.sleep(120)

process(settings, runtime=rt)
"""


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("mariadb", marks=pytest.mark.mysql)])
def test_sigkill_during_a_load_then_run_again(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("mysql_url") if backend == "mariadb" else None
    world = _world(tmp_path, url)
    told = _land(world, 3)
    world.runtime.engine  # noqa: B018 - migrate before the child starts, as `init` would have
    marker = tmp_path / "loading"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _KILLED_LOAD,
            world.settings.raw_zone,
            world.settings.warehouse_url.get_secret_value(),
            str(marker),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert child.poll() is None, "the loader exited before it was killed"
        assert time.monotonic() < deadline, "the loader never reached the plays insert"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    with world.runtime.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM plays")).scalar_one() == 0  # rolled back
        assert conn.execute(sa.text("SELECT COUNT(*) FROM landed_files")).scalar_one() == 0
    report = process(world.settings, runtime=world.fresh_runtime())
    told.append(shown(report))
    assert report.counts["objects_loaded"] == 3
    assert_three_checks(world, told, "process: ok - loaded 3 objects")


def _together(n: int, job: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = job()
        except Exception as exc:  # noqa: BLE001 - collected and asserted on below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.mark.parametrize(
    "stores", ["sqlite-folder", pytest.param("mariadb-s3", marks=[pytest.mark.mysql, pytest.mark.s3])]
)
def test_two_runs_of_the_same_job_at_the_same_time(
    tmp_path: Path, stores: str, request: pytest.FixtureRequest
) -> None:
    if stores == "mariadb-s3":
        world = _world(tmp_path, request.getfixturevalue("mysql_url"), request.getfixturevalue("s3_bucket"))
    else:
        world = _world(tmp_path)
    told = _poll(world, 1)  # logged in and refreshed: both runs below share one access token
    hour = world.clock.now()
    key = f"recently_played/{hour:%Y%m%d%H}.json.gz"  # raw_compression gzip, the default
    before = stored_json(world.fresh_runtime().store.get(key) or b"", key).count(b'"run_id"')
    for minutes in (10, 20):
        world.clock.set(hour + timedelta(minutes=minutes))
        fetched = _together(
            2, lambda: download_recently_played(world.settings, runtime=world.fresh_runtime(), hour=hour)
        )
        assert all(getattr(r, "status", None) == "ok" for r in fetched), fetched
        told += [shown(r) for r in fetched]
    rt = world.fresh_runtime()
    envelope = rt.store.get(key)
    assert envelope is not None and stored_json(envelope, key).count(b'"run_id"') == before + 4  # all kept
    loaded = _together(2, lambda: process(world.settings, runtime=world.fresh_runtime()))
    assert all(getattr(r, "status", None) == "ok" for r in loaded), loaded
    told += [shown(r) for r in loaded]
    assert_three_checks(world, told, "process: ok")
