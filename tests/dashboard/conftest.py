"""A dashboard over a warehouse the real jobs filled from the simulator: two listeners (bob's plays
added by hand), one track named like an XSS attack, served by uvicorn on a free 127.0.0.1 port in a
thread for the length of a test."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from tests.insights.conftest import add_plays, add_track
from tests.jobs.harness import START, World, make_world

from spotify_pipeline.dashboard.server import bind, make_server, url_of
from spotify_pipeline.dashboard.views import Source
from spotify_pipeline.jobs import download_followed_artists, download_recently_played, process
from spotify_pipeline.spotify.tokens import FileTokenStore

ZONE = "America/New_York"
DAYS = 14 if os.environ.get("UPDATE_SCREENSHOTS") == "1" else 3  # a fuller picture for docs/images
XSS = "<img src=x onerror=alert(1)>"
XSS_ID = "7" * 22


@dataclass
class Dash:
    world: World
    url: str  # http://127.0.0.1:PORT/
    src: Source


def fill(world: World) -> None:
    for _t in world.poll_times(DAYS, 60):
        download_recently_played(world.settings, runtime=world.fresh_runtime())
    download_followed_artists(world.settings, runtime=world.fresh_runtime())
    process(world.settings, runtime=world.fresh_runtime())
    engine = world.runtime.engine
    add_track(
        engine, XSS_ID, XSS, [("8" * 22, "<script>alert(2)</script>")], ("9" * 22, "<b>Album</b>"), 180_000
    )
    at = world.clock.now().replace(microsecond=0) - timedelta(hours=2)
    add_plays(
        engine, "alice", [{"played_at": at - timedelta(minutes=5 * i), "track_id": XSS_ID} for i in range(40)]
    )
    add_plays(
        engine, "bob", [{"played_at": START + timedelta(hours=i), "track_id": XSS_ID} for i in range(7)]
    )


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'w.db'}"
    return str(request.getfixturevalue("mysql_url"))


@pytest.fixture()
def world(url: str, tmp_path: Path) -> World:
    w = make_world(tmp_path, warehouse_url=url, profile="heavy")
    fill(w)
    return w


@pytest.fixture()
def dash(world: World) -> Iterator[Dash]:
    # the real clock, as `stats` uses: the simulated plays are in the past of any test run
    src = Source(world.runtime.engine, ZONE, "alice", FileTokenStore(world.settings.token_file))
    sock = bind("127.0.0.1", 0)
    server = make_server(src, sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the dashboard did not start"
        time.sleep(0.02)
    try:
        yield Dash(world, url_of(sock), src)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
