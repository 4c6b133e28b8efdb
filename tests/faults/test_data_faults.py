"""What arrives is odd rather than failing: late and out-of-order plays, overlapping polls, a skewed
clock, corrupt / duplicated / edited raw objects, and the app changing mode between runs.

SQLite + a local folder (the raw objects are edited as files). Three checks at the end of each.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.jobs.harness import World, make_world

from spotify_pipeline.clock import Clock
from spotify_pipeline.jobs import download_recently_played, enrich, process
from spotify_pipeline.jobs.runtime import Runtime

from .checks import assert_three_checks, cron, shown


def _poll(world: World, hours: float, every_minutes: int, runtime: object = None) -> list[str]:
    told: list[str] = []
    end = world.clock.now() + timedelta(hours=hours)
    while world.clock.now() + timedelta(minutes=every_minutes) <= end:
        world.clock.advance(timedelta(minutes=every_minutes))
        rt = runtime() if callable(runtime) else None
        told += cron(world, rt)
    return told


def test_plays_arriving_late_and_out_of_order_are_all_kept(tmp_path: Path) -> None:
    world = make_world(tmp_path, late_share=0.3, profile="heavy")
    told = _poll(world, 12, every_minutes=20)
    late = [
        p
        for p in world.sim.reachable_truth(
            "alice", world.clock.now() - timedelta(hours=12), world.clock.now()
        )
        if p.available_at > p.ended_at
    ]
    assert late, "the scenario needs plays that arrived late"
    assert_three_checks(world, told, "new plays")


def test_the_same_play_seen_by_many_polls_is_stored_once(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    told = _poll(world, 8, every_minutes=10)  # every play is in a dozen pages and several objects
    objects = list((tmp_path / "raw" / "recently_played").glob("*.json"))
    fetched = sum(len(f["response"]["items"]) for o in objects for f in json.loads(o.read_text())["fetches"])
    stored = sum(1 for _ in world.true_keys())
    assert fetched > 5 * stored
    assert_three_checks(world, told, "0 new plays")


class SkewedClock:
    """The pipeline host's clock, ``offset`` away from Spotify's (the simulator's)."""

    def __init__(self, base: Clock, offset: timedelta) -> None:
        self.base, self.offset = base, offset

    def now(self) -> datetime:
        return self.base.now() + self.offset


@pytest.mark.parametrize("minutes", [-7, 9])
def test_a_clock_skewed_by_minutes_loses_and_doubles_nothing(tmp_path: Path, minutes: int) -> None:
    world = make_world(tmp_path, late_share=0.1)

    def skewed() -> Runtime:
        rt = world.fresh_runtime()
        rt.clock = SkewedClock(world.clock, timedelta(minutes=minutes))
        return rt

    told = _poll(world, 10, every_minutes=30, runtime=skewed)
    # The host's hour names the objects; every play keeps Spotify's own played_at.
    assert_three_checks(world, told, "download_recently_played: ok", "new plays")


def _morning(tmp_path: Path, **kw: object) -> World:
    world = make_world(tmp_path, **kw)  # type: ignore[arg-type]
    world.clock.advance(timedelta(hours=8))  # a night's silence would make the checks trivial
    return world


def _landed(world: World, hours: float = 4) -> list[str]:
    return _poll(world, hours, every_minutes=30)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"format": "spotify-pipeline.raw/1", "fetches": [{"response": {"items": [', "truncated JSON"),
        (
            '{"format": "spotify-pipeline.raw/1", "kind": "recently_played", "fetches": {"a": 1}}',
            "'fetches' must be a list",
        ),
        ('[{"played_at": 12}]', "recently_played"),
        ("", "empty"),
    ],
    ids=["truncated", "wrong-shape", "wrong-shape-legacy", "empty"],
)
def test_a_corrupt_raw_object_is_quarantined_and_the_rest_loads(
    tmp_path: Path, content: str, reason: str
) -> None:
    world = _morning(tmp_path)
    told = _landed(world)
    bad = tmp_path / "raw" / "recently_played" / "2026110100.json"
    bad.write_text(content)
    report = process(world.settings, runtime=world.fresh_runtime())
    told.append(shown(report))
    assert report.status == "partial"
    assert (tmp_path / "raw" / "_quarantine" / "recently_played" / "2026110100.json").read_text() == content
    told += _landed(world, 1)
    assert_three_checks(
        world, told, "quarantined recently_played/2026110100.json", reason, "process: partial"
    )


def test_a_duplicate_delivery_of_the_same_object_adds_nothing(tmp_path: Path) -> None:
    world = _morning(tmp_path)
    told = _landed(world)
    raw = tmp_path / "raw" / "recently_played"
    first = sorted(raw.glob("*.json"))[0]
    # the same object delivered again: under the original DAGs' name (a copied-over bucket) ...
    shutil.copy(first, raw / f"recently_played_{first.stem}.json")
    # ... and the same fetches merged into it once more
    rt = world.fresh_runtime()
    envelope = json.loads(first.read_bytes())
    before = first.read_bytes()
    rt.store.merge(f"recently_played/{first.name}", envelope)
    assert first.read_bytes() == before
    report = process(world.settings, runtime=rt)
    told.append(shown(report))
    assert report.counts["objects_loaded"] == 1 and report.counts["plays_inserted"] == 0
    assert_three_checks(world, told, "loaded 1 objects, 0 new plays")


def test_a_raw_object_edited_after_loading_is_reloaded_without_doubling(tmp_path: Path) -> None:
    world = _morning(tmp_path)
    told = _landed(world)
    path = sorted((tmp_path / "raw" / "recently_played").glob("*.json"))[-1]
    envelope = json.loads(path.read_text())
    # a hand edit: pretty-printed, fetches reordered, one dropped (what was loaded stays loaded)
    envelope["fetches"] = list(reversed(envelope["fetches"]))[: max(1, len(envelope["fetches"]) - 1)]
    path.write_text(json.dumps(envelope, indent=4))
    report = process(world.settings, runtime=world.fresh_runtime())
    told.append(shown(report))
    assert report.counts["objects_loaded"] == 1
    told += _landed(world, 1)
    assert_three_checks(world, told, "loaded 1 objects, 0 new plays")


def test_a_change_of_app_mode_from_extended_to_development(tmp_path: Path) -> None:
    world = _morning(tmp_path, mode="extended", profile="heavy")
    told = _landed(world, 3)
    with world.runtime.engine.connect() as conn:
        features = conn.execute(sa.text("SELECT COUNT(*) FROM audio_features")).scalar_one()
    assert features > 0, "an extended-mode app gets audio features"
    batch_calls = [c for c in world.sim.calls if c.path in ("/v1/artists", "/v1/albums") and c.status == 200]
    assert batch_calls, "an extended-mode app looks artists and albums up in batches"

    world.sim.set_mode("development")
    world.sim.clear_calls()
    for _ in range(8):
        world.clock.advance(timedelta(minutes=60))
        rt = world.fresh_runtime()
        told.append(shown(download_recently_played(world.settings, runtime=rt)))
        told.append(shown(process(world.settings, runtime=rt)))
        report = enrich(world.settings, runtime=rt, force=True)
        told.append(shown(report))
        assert report.status == "ok", report.summary()
    single = [
        c for c in world.sim.calls if c.path.startswith(("/v1/artists/", "/v1/albums/")) and c.status == 200
    ]
    assert single, "development mode: new ids are looked up one at a time"
    with world.runtime.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM audio_features")).scalar_one() == features
        missing = conn.execute(sa.text("SELECT COUNT(*) FROM artists WHERE fetched_at IS NULL")).scalar_one()
    assert missing == 0
    assert_three_checks(world, told, "audio_features_unavailable=", "enrich: ok")
