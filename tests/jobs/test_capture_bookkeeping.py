"""Fetch, land, then bookkeeping: what a fetch records, when it records
it, and that no hostile answer or interruption costs the plays of a page or leaves a run `running`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from spotify_pipeline.errors import StoreError
from spotify_pipeline.jobs import download_recently_played, process
from spotify_pipeline.jobs.bookkeeping import PREFIX
from spotify_pipeline.jobs.runtime import Runtime
from spotify_pipeline.landing.decode import stored_json
from spotify_pipeline.settings import Settings
from spotify_pipeline.spotify.tokens import FileTokenStore

from .harness import World, make_world


def _down(world: World, tmp_path: Path) -> Runtime:
    """A runtime whose warehouse cannot be opened (its folder would be under a regular file)."""
    (tmp_path / "a-file").write_text("x")
    url = f"sqlite:///{tmp_path / 'a-file' / 'w.db'}"
    settings = Settings.model_validate({**world.settings.model_dump(), "warehouse_url": url})
    return Runtime(
        settings,
        clock=world.clock,
        transport=world.sim.transport(),
        token_store_override=FileTokenStore(settings.token_file),
    )


def _rows(world: World, sql: str) -> list[Any]:
    with world.runtime.engine.connect() as conn:
        return list(conn.execute(sa.text(sql)).all())


def test_a_gap_seen_while_the_warehouse_was_down_is_recorded_as_a_live_run_would(tmp_path: Path) -> None:
    live, down = (make_world(tmp_path / name, profile="binge") for name in ("live", "down"))
    times = []
    for _ in range(7 * 12):  # a binge listener polled every two hours soon outruns the 50-play window
        live.clock.advance(timedelta(hours=2))
        times.append(live.clock.now())
        report = download_recently_played(live.settings, runtime=live.fresh_runtime())
        process(live.settings, runtime=live.fresh_runtime())
        if report.counts.get("gaps_detected"):
            break
    assert report.counts.get("gaps_detected") == 1
    for when in times[:-1]:  # the same polls, the last one with the warehouse down
        down.clock.set(when)
        download_recently_played(down.settings, runtime=down.fresh_runtime())
        process(down.settings, runtime=down.fresh_runtime())
    down.clock.set(times[-1])
    report = download_recently_played(down.settings, runtime=_down(down, tmp_path / "down"))
    assert report.status == "partial" and report.counts["bookkeeping_deferred"] == 1
    assert "gaps_detected" not in report.counts  # not known yet: the gap check waits for the warehouse
    notes = tmp_path / "down" / "raw" / PREFIX.strip("/")
    assert len(list(notes.rglob("*.json"))) == 1
    later = process(down.settings, runtime=down.fresh_runtime())
    assert later.counts["bookkeeping_caught_up"] == 1 and later.counts["gaps_detected"] == 1
    assert any(p.startswith("gap: plays between") for p in later.problems)
    sql = "SELECT gap_from, gap_to, raw_key FROM gaps ORDER BY gap_from"
    assert _rows(live, sql) == _rows(down, sql) != []
    assert _rows(live, "SELECT COUNT(*) FROM plays") == _rows(down, "SELECT COUNT(*) FROM plays")
    assert not list(notes.rglob("*.json"))  # applied, then removed


class _Tampering(httpx.BaseTransport):
    """The simulator's answers, with the recently-played page edited on its way to the client."""

    def __init__(self, inner: httpx.BaseTransport, edit: Any) -> None:
        self.inner, self.edit = inner, edit

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not request.url.path.endswith("/recently-played"):
            return response
        page = json.loads(response.read())
        self.edit(page)
        body = json.dumps(page).encode()  # ASCII: a lone surrogate goes out as the escape \ud800
        return httpx.Response(
            response.status_code, content=body, headers={"Content-Type": "application/json"}
        )


def _tampered(world: World, edit: Any) -> Runtime:
    rt = world.fresh_runtime()
    rt.transport = _Tampering(world.sim.transport(), edit)
    return rt


def test_a_lone_surrogate_in_a_track_name_loses_no_play_of_the_page(tmp_path: Path) -> None:
    world = make_world(tmp_path, profile="heavy")
    world.clock.advance(timedelta(hours=20))

    def surrogate(page: dict[str, Any]) -> None:
        page["items"][0]["track"]["name"] += "\ud800"

    report = download_recently_played(world.settings, runtime=_tampered(world, surrogate))
    assert report.status == "ok" and report.counts["plays_fetched"] == 50
    key = report.message.split(" at ", 1)[1].rsplit("/", 2)
    data = stored_json((tmp_path / "raw" / key[1] / key[2]).read_bytes(), key[2])
    assert b"\\ud800" in data
    assert len(json.loads(data)["fetches"][0]["response"]["items"]) == 50
    assert _rows(world, "SELECT status, items FROM fetch_runs") == [("ok", 50)]


@pytest.mark.parametrize(
    "shape", [{"items": "x"}, {"items": [1, None, {"played_at": 5}, {"played_at": "yesterday"}]}]
)
def test_a_page_of_the_wrong_shape_is_landed_as_sent(tmp_path: Path, shape: dict[str, Any]) -> None:
    world = make_world(tmp_path)
    world.clock.advance(timedelta(hours=8))
    report = download_recently_played(
        world.settings, runtime=_tampered(world, lambda page: page.update(shape))
    )
    assert report.status == "ok"
    landed = next((tmp_path / "raw" / "recently_played").glob("*.json.gz")).read_bytes()
    assert (
        json.loads(stored_json(landed, "recently_played/x.json.gz"))["fetches"][0]["response"]["items"]
        == shape["items"]
    )
    assert _rows(world, "SELECT status FROM fetch_runs") == [("ok",)]


@pytest.mark.parametrize(
    ("where", "error", "status"),
    [
        ("fetch", KeyboardInterrupt(), "interrupted"),
        ("land", KeyboardInterrupt(), "interrupted"),
        ("fetch", SystemExit(143), "interrupted"),
        ("land", StoreError("could not write recently_played/x.json: disk full"), "failed"),
        ("fetch", UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), "failed"),
    ],
)
def test_no_fetch_run_is_ever_left_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, error: BaseException, status: str
) -> None:
    world = make_world(tmp_path)
    world.clock.advance(timedelta(hours=8))
    rt = world.fresh_runtime()

    def fail(*args: object, **kwargs: object) -> Any:
        raise error

    if where == "fetch":
        monkeypatch.setattr(type(rt.client), "recently_played", fail)
    else:
        monkeypatch.setattr(rt.store, "merge", fail)
    with pytest.raises(type(error)):
        download_recently_played(world.settings, runtime=rt)
    rows = _rows(world, "SELECT status, finished_at, message FROM fetch_runs")
    assert [r[0] for r in rows] == [status] and rows[0][1] is not None and rows[0][2]
    monkeypatch.undo()
    assert download_recently_played(world.settings, runtime=world.fresh_runtime()).status == "ok"
    assert "running" not in {r[0] for r in _rows(world, "SELECT status FROM fetch_runs")}


def test_a_note_that_is_not_one_is_set_aside_and_the_rest_applies(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.clock.advance(timedelta(hours=8))
    download_recently_played(world.settings, runtime=_down(world, tmp_path))
    bad = tmp_path / "raw" / "_bookkeeping" / "alice" / "00000000T000000000000Z-bad.json"
    bad.write_text("{nope")
    report = process(world.settings, runtime=world.fresh_runtime())
    assert report.counts["bookkeeping_caught_up"] == 1
    assert any(f"{bad.name}: not a bookkeeping note" in p for p in report.problems)
    assert (
        not bad.exists() and (tmp_path / "raw" / "_quarantine" / "_bookkeeping" / "alice" / bad.name).exists()
    )
