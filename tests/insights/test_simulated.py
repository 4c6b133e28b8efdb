"""The read layer on a warehouse the real jobs filled from the simulator, checked against the
simulator's ground truth (SQLite and MariaDB); `stats --json` says the same as the layer; an
export import afterwards changes no count (a play counts once)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from tests.jobs.harness import START, World, make_world
from typer.testing import CliRunner

from spotify_pipeline.cli.main import app
from spotify_pipeline.insights.health import health
from spotify_pipeline.insights.period import resolve_period
from spotify_pipeline.insights.stats import Insights
from spotify_pipeline.jobs import download_followed_artists, download_recently_played, process
from spotify_pipeline.jobs.import_history import import_history
from spotify_pipeline.spotify.tokens import FileTokenStore

ZONE = "America/New_York"
DAYS = 2


def _fill(world: World) -> None:
    for _t in world.poll_times(DAYS, 60):
        download_recently_played(world.settings, runtime=world.fresh_runtime())
    download_followed_artists(world.settings, runtime=world.fresh_runtime())
    process(world.settings, runtime=world.fresh_runtime())


@pytest.fixture()
def world(url: str, tmp_path: Path) -> World:
    w = make_world(tmp_path, warehouse_url=url, profile="heavy")
    _fill(w)
    return w


def _truth(world: World) -> list:  # type: ignore[type-arg]
    return [p for p in world.sim.reachable_truth(world.settings.user, START, world.clock.now()) if p.track_id]


def test_numbers_equal_the_ground_truth(world: World) -> None:
    truth = _truth(world)
    catalog = world.sim.catalog.tracks
    now = world.clock.now()
    ins = Insights(world.runtime.engine, "alice", resolve_period("all", timezone=ZONE, now=now), now=now)
    totals = ins.totals()
    assert totals.plays == len(truth) > 50
    assert totals.tracks == len({p.track_id for p in truth})
    assert totals.artists == len({catalog[p.track_id].artist_ids[0] for p in truth})
    assert totals.albums == len({catalog[p.track_id].album_id for p in truth})
    assert totals.ms == sum(catalog[p.track_id].duration_ms for p in truth)  # API plays: the track's length

    by_artist = Counter(catalog[p.track_id].artist_ids[0] for p in truth)
    best = max(by_artist.values())
    top = ins.top("artists", 3).by_plays
    assert top[0].plays == best and top[0].key in {a for a, n in by_artist.items() if n == best}
    by_track = Counter(p.track_id for p in truth)
    assert ins.top("tracks", 1).by_plays[0].plays == max(by_track.values())

    zone = ZoneInfo(ZONE)
    local = [p.ended_at.astimezone(zone) for p in truth]
    per_day = Counter(t.date() for t in local)
    assert {d.day: d.plays for d in ins.minutes_per_day() if d.plays} == dict(per_day)
    grid = ins.clock().plays
    assert Counter((t.weekday(), t.hour) for t in local) == Counter(
        {(wd, h): grid[wd][h] for wd in range(7) for h in range(24) if grid[wd][h]}
    )
    months = Counter(t.strftime("%Y-%m") for t in local)
    assert sum(m.new_tracks for m in ins.discoveries()) == totals.tracks
    assert {m.month for m in ins.discoveries()} <= set(months)
    assert ins.following().followed_now > 0

    h = health(world.runtime.engine, "alice", resolve_period("all", timezone=ZONE, now=now), now,
               FileTokenStore(world.settings.token_file))  # fmt: skip
    d = h.as_dict()
    assert {f["kind"] for f in d["last_fetches"]} == {"recently_played", "following_artists"}
    assert all(f["age_hours"] < 2 for f in d["last_fetches"])
    assert d["open_gaps"] == [] and d["pause"] is None
    assert d["token"]["logged_in"] and 150 < d["token"]["days_left"] <= 183
    assert sum(day["api_plays"] for day in d["coverage"]) == len(truth)
    assert "refresh_token" not in json.dumps(d) and "access_token" not in json.dumps(d)


def test_stats_json_equals_the_layer_and_an_export_import_counts_once(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = world.settings
    monkeypatch.chdir(tmp_path)
    for key, value in {"WAREHOUSE_URL": s.warehouse_url.get_secret_value(), "USER": "alice", "TIMEZONE": ZONE,
                       "TOKEN_FILE": str(s.token_file), "RAW_ZONE": s.raw_zone}.items():  # fmt: skip
        monkeypatch.setenv(f"SPOTIFY_PIPELINE_{key}", value)
    first = START.date().isoformat()
    last = (START + timedelta(days=DAYS)).date().isoformat()
    args = ["stats", "--from", first, "--to", last, "--top", "5", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    now = datetime.now(UTC)
    span = resolve_period(
        None, timezone=ZONE, now=now, first=START.date(), last=(START + timedelta(days=DAYS)).date()
    )
    assert printed == Insights(world.runtime.engine, "alice", span, now=now).summary(5).as_dict()
    before = printed["totals"]["plays"]

    # the export lists the same plays: imported, they enrich the rows and count once
    world.sim.write_export("alice", tmp_path / "export", "extended", START, world.clock.now())
    report = import_history(s, tmp_path / "export", engine=world.runtime.engine)
    assert report.duplicates_of_api > 0
    again = json.loads(CliRunner().invoke(app, args).stdout)
    assert again["totals"]["plays"] == before + report.imported
    assert again["skips"]["known"] > 0  # the extended export says which plays were skipped
