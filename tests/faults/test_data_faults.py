"""What arrives is odd rather than failing: late and out-of-order plays, overlapping polls, a skewed
clock, corrupt / duplicated / edited raw objects, and the app changing mode between runs.

SQLite + a local folder (the raw objects are edited as files). Three checks at the end of each.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

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
    objects = list((tmp_path / "raw" / "recently_played").glob("*.json.gz"))
    fetched = sum(
        len(f["response"]["items"])
        for o in objects
        for f in json.loads(gzip.decompress(o.read_bytes()))["fetches"]
    )
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
    first = sorted(raw.glob("*.json.gz"))[0]
    # the same object delivered again: under the original DAGs' name (a copied-over bucket) ...
    shutil.copy(first, raw / f"recently_played_{first.name}")
    # ... and the same fetches merged into it once more
    rt = world.fresh_runtime()
    envelope = json.loads(gzip.decompress(first.read_bytes()))
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
    path = sorted((tmp_path / "raw" / "recently_played").glob("*.json.gz"))[-1]
    envelope = json.loads(gzip.decompress(path.read_bytes()))
    # a hand edit: pretty-printed, fetches reordered, one dropped (what was loaded stays loaded)
    envelope["fetches"] = list(reversed(envelope["fetches"]))[: max(1, len(envelope["fetches"]) - 1)]
    path.write_bytes(gzip.compress(json.dumps(envelope, indent=4).encode()))
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


# --- one bad value never blocks the rest --------------------------------------------------

BAD = "recently_played/2026110100.json"  # an hour before the world starts: no real object has this key


def _first_track_item(page: dict[str, Any]) -> dict[str, Any]:
    return next(i for i in page["items"] if (i.get("track") or {}).get("type") == "track")


def _track(page: dict[str, Any]) -> dict[str, Any]:
    track: dict[str, Any] = _first_track_item(page)["track"]
    return track


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to a real page: ``path`` like ``track.album.release_date`` within its first track item."""

    def mutate(page: dict[str, Any]) -> None:
        target = _first_track_item(page)
        *parents, last = path.split(".")
        for name in parents:
            target = target.setdefault(name, {})
        target[last] = value

    return mutate


def _null_track_junk_cursors(page: dict[str, Any]) -> None:
    _first_track_item(page)["track"] = None  # skipped and counted, like a podcast episode
    page["cursors"] = 7  # never relied on


_PAGE_CHANGES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "context-type-over-32": (_set("context", {"type": "x" * 40, "uri": None}), "item.context.type is 40 characters long"),
    "release-date-over-10": (_set("track.album.release_date", "2014-12-29T00"), "release_date is 13 characters long"),
    "isrc-over-32": (_set("track.external_ids", {"isrc": "Q" * 33}), "external_ids.isrc is 33 characters long"),
    "track-id-over-64": (_set("track.id", "a" * 65), "item.track.id is 65 characters long"),
    "lone-surrogate-in-track-id": (_set("track.id", "bad\ud800id"), "item.track.id holds a lone surrogate (\\ud800)"),
    "popularity-over-int": (_set("track.popularity", 2**40), "item.track.popularity = 1099511627776 is out of range"),
    "items-a-string": (lambda page: page.update(items="x"), "the page has no 'items' list"),
    "items-not-objects": (lambda page: page.update(items=[1, "x"]), "record 0: item is the number 1"),
    "artists-not-a-list": (_set("track.artists", "Bowie"), "item.track.artists is the string 'Bowie', expected a list"),
    "track-null-and-cursors-junk": (_null_track_junk_cursors, ""),  # loads: neither is a fault
}  # fmt: skip


def _bad_copy(tmp_path: Path, mutate: Callable[[dict[str, Any]], None]) -> str:
    """A real landed object with one change to its first page, as text (json escapes a surrogate)."""
    real = sorted((tmp_path / "raw" / "recently_played").glob("*.json.gz"))[0]
    envelope = json.loads(gzip.decompress(real.read_bytes()))
    mutate(envelope["fetches"][0]["response"])
    return json.dumps(envelope)


def _world_on(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> World:
    fixture = {"mariadb": "mysql_url", "postgres": "postgres_url"}.get(backend)
    url = request.getfixturevalue(fixture) if fixture else None
    return _morning(tmp_path, warehouse_url=url)


def _load_bad(world: World, tmp_path: Path, content: str, told: list[str]) -> Any:
    (tmp_path / "raw" / BAD).write_text(content)
    report = process(world.settings, runtime=world.fresh_runtime())
    told.append(shown(report))
    told += _landed(world, 1)  # the next runs load as before
    return report


BOTH = [
    "sqlite",
    pytest.param("mariadb", marks=pytest.mark.mysql),
    pytest.param("postgres", marks=pytest.mark.postgres),
]


@pytest.mark.parametrize(
    ("change", "backend"),
    [*((c, "sqlite") for c in _PAGE_CHANGES)]
    + [
        pytest.param(c, engine, marks=mark)
        for c in ("context-type-over-32", "lone-surrogate-in-track-id", "popularity-over-int")
        for engine, mark in (("mariadb", pytest.mark.mysql), ("postgres", pytest.mark.postgres))
    ],
)
def test_one_bad_value_in_a_page_quarantines_that_object_and_the_rest_loads(
    tmp_path: Path, change: str, backend: str, request: pytest.FixtureRequest
) -> None:
    world = _world_on(tmp_path, backend, request)
    told = _landed(world)
    mutate, reason = _PAGE_CHANGES[change]
    report = _load_bad(world, tmp_path, _bad_copy(tmp_path, mutate), told)
    if not reason:  # wrong but harmless shapes load
        assert report.status == "ok", report.problems
        assert_three_checks(world, told, "process: ok - loaded 1 objects")
        return
    assert report.status == "partial" and report.counts["objects_quarantined"] == 1
    assert (tmp_path / "raw" / "_quarantine" / BAD).exists()
    assert_three_checks(world, told, f"quarantined {BAD}", reason, "process: partial")


@pytest.mark.parametrize("backend", BOTH)
def test_a_lone_surrogate_in_a_name_loads_the_page_with_a_replacement_character(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    # Spotify's "\ud800" is not storable as UTF-8 by either engine. The name is free text, so the
    # warehouse gets U+FFFD and every play of the page loads; the raw object keeps the escape.
    world = _world_on(tmp_path, backend, request)
    told = _landed(world)
    content = _bad_copy(tmp_path, _set("track.name", "bad \ud800 name"))
    assert "\\ud800" in content  # the raw object holds the escape Spotify sent
    report = _load_bad(world, tmp_path, content, told)
    assert report.status == "ok", report.problems
    assert "objects_quarantined" not in report.counts
    assert not (tmp_path / "raw" / "_quarantine" / BAD).exists()
    assert_three_checks(world, told, "process: ok - loaded 1 objects")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"items": ' + "[" * 100_000 + "]" * 100_000 + "}", "JSON nested too deeply"),
        ('{"items": [], "total": ' + "9" * 5000 + "}", "Exceeds the limit (4300 digits)"),
    ],
    ids=["nested-100k-deep", "5000-digit-integer"],
)
def test_json_too_deep_or_too_long_a_number_is_quarantined(tmp_path: Path, content: str, reason: str) -> None:
    world = _morning(tmp_path)
    told = _landed(world)
    report = _load_bad(world, tmp_path, content, told)
    assert report.status == "partial"
    assert_three_checks(
        world, told, f"quarantined {BAD}", "invalid JSON" if "digits" in reason else "", reason
    )


@pytest.mark.parametrize("backend", BOTH)
def test_a_name_longer_than_1024_and_a_duration_over_2_31_are_kept_exactly(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """Spotify sets no limit on names, and MariaDB used to clamp 3,000,000,000 to 2,147,483,647:
    both are stored as sent, the same on SQLite and MariaDB."""
    world = _world_on(tmp_path, backend, request)
    told = [shown(download_recently_played(world.settings, runtime=world.fresh_runtime()))]
    for _ in range(2):
        world.clock.advance(timedelta(hours=1))
        told.append(shown(download_recently_played(world.settings, runtime=world.fresh_runtime())))
    objects = sorted((tmp_path / "raw" / "recently_played").glob("*.json.gz"))
    target = _track(json.loads(gzip.decompress(objects[0].read_bytes()))["fetches"][0]["response"])["id"]
    name, duration = "Ä" * 2000 + " (Live)", 3_000_000_000
    for path in objects:  # Spotify sent these values every time it listed the track
        envelope = json.loads(gzip.decompress(path.read_bytes()))
        for fetch in envelope["fetches"]:
            for item in fetch["response"]["items"]:
                if (item.get("track") or {}).get("id") == target:
                    item["track"].update(name=name, duration_ms=duration)
        path.write_bytes(gzip.compress(json.dumps(envelope).encode()))
    report = process(world.settings, runtime=world.fresh_runtime())
    told.append(shown(report))
    assert report.status == "ok", report.problems
    with world.runtime.engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT name, duration_ms FROM tracks WHERE id = :id"), {"id": target}
        ).one()
        plays = conn.execute(
            sa.text("SELECT DISTINCT track_name FROM plays WHERE track_id = :id"), {"id": target}
        ).all()
    assert tuple(stored) == (name, duration)
    assert [p[0] for p in plays] == [name]
    assert_three_checks(world, told, "process: ok")


@pytest.mark.parametrize("backend", BOTH)
def test_a_value_the_database_refuses_quarantines_that_object_only(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """A DataError/IntegrityError for one object (the transform's checks should have caught it) is
    that object's problem; an OperationalError (connection lost) still stops the run."""
    world = _world_on(tmp_path, backend, request)
    told = _landed(world)
    rt = world.fresh_runtime()
    fired = {"n": 0}

    @sa.event.listens_for(rt.engine, "before_cursor_execute")
    def refuse(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "INTO plays" in statement and not fired["n"]:
            fired["n"] += 1
            if backend == "sqlite":
                import sqlite3

                raise sqlite3.IntegrityError("CHECK constraint failed: plays")
            if backend == "postgres":
                import psycopg

                raise psycopg.errors.StringDataRightTruncation(
                    "value too long for type character varying(32)"
                )
            import pymysql

            raise pymysql.err.DataError(1406, "Data too long for column 'track_name' at row 1")

    (tmp_path / "raw" / BAD).write_text(_bad_copy(tmp_path, lambda page: None))
    report = process(world.settings, runtime=rt)
    told.append(shown(report))
    assert fired["n"] == 1 and report.status == "partial"
    told += _landed(world, 1)
    words = {
        "sqlite": "CHECK constraint failed",
        "postgres": "value too long for type character varying(32)",
    }.get(backend, "Data too long for column 'track_name'")
    assert_three_checks(world, told, f"quarantined {BAD}", "the warehouse refused it", words)


def test_a_warehouse_left_unusable_still_stops_process_and_quarantines_nothing(tmp_path: Path) -> None:
    """The safety net is for one object's surprises: SQLAlchemy saying the warehouse itself cannot be
    used (a pool timeout, a connection left unusable) stops the run like a lost connection does."""
    world = _morning(tmp_path)
    told = _landed(world)
    (tmp_path / "raw" / BAD).write_text(_bad_copy(tmp_path, lambda page: None))
    rt = world.fresh_runtime()
    fired = {"n": 0}

    @sa.event.listens_for(rt.engine, "before_cursor_execute")
    def unusable(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "INTO plays" in statement and not fired["n"]:
            fired["n"] += 1
            raise sa.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached")

    told += cron(world, rt)
    assert told[-1].startswith(f"error: the warehouse failed while loading {BAD} (TimeoutError: QueuePool")
    assert not (tmp_path / "raw" / "_quarantine").exists()
    told += _landed(world, 1)  # the next run loads it
    assert_three_checks(world, told, "run `spotify-pipeline process` again", "process: ok - loaded 2 objects")


def test_an_unexpected_error_on_one_object_quarantines_it_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import importlib

    process_module = importlib.import_module("spotify_pipeline.jobs.process")  # the package's name is the job
    world = _morning(tmp_path)
    told = _landed(world)
    real = process_module.object_rows

    def surprising(kind: str, envelope: Any, user: str, key: str, now: Any, *cache: Any) -> Any:
        if key == BAD:
            raise TypeError("'NoneType' object is not subscriptable")
        return real(kind, envelope, user, key, now, *cache)

    monkeypatch.setattr(process_module, "object_rows", surprising)
    report = _load_bad(world, tmp_path, _bad_copy(tmp_path, lambda page: None), told)
    assert report.status == "partial"
    assert "Traceback" not in "\n".join(told) and "Traceback" not in caplog.text
    assert_three_checks(
        world, told, f"quarantined {BAD}", "unexpected TypeError: 'NoneType' object is not subscriptable"
    )


def test_an_object_over_the_size_cap_is_not_read_and_stray_files_are_ignored(tmp_path: Path) -> None:
    from spotify_pipeline.jobs.process_read import MAX_OBJECT_BYTES

    world = _morning(tmp_path)
    told = _landed(world)
    raw = tmp_path / "raw"
    with (raw / BAD).open("wb") as big:  # sparse: costs no disk
        big.truncate(MAX_OBJECT_BYTES + 1)
    for stray in (raw / "dump.iso", raw / "recently_played" / "notes.bin"):
        with stray.open("wb") as f:
            f.truncate(2**30)
    report = process(world.settings, runtime=world.fresh_runtime())
    told.append(shown(report))
    assert report.status == "partial" and report.counts["objects_quarantined"] == 1
    assert not (raw / "_quarantine" / BAD).exists()  # copying it would read it
    assert (raw / BAD).stat().st_size == MAX_OBJECT_BYTES + 1
    again = process(world.settings, runtime=world.fresh_runtime())  # recorded: not retried
    assert again.status == "ok" and "objects_quarantined" not in again.counts
    told += _landed(world, 1)
    assert_three_checks(world, told, f"quarantined {BAD} (left in place)", "over the 64 MiB", "move it out")


_MEASURED_PROCESS = """
import json, sys
from spotify_pipeline.jobs import process
from spotify_pipeline.settings import load_settings

report = process(load_settings(raw_zone=sys.argv[1], warehouse_url=sys.argv[2], user="alice"))
# The peak RSS of this program. Not getrusage's ru_maxrss: Linux carries the peak of the image
# before exec over, and a child spawned with vfork (subprocess does) shares the parent's pages
# until then, so it reports the test runner's size. VmHWM belongs to this program's own memory.
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
rss = int(status["VmHWM"].split()[0])  # KiB
print(json.dumps({"summary": report.summary(), "problems": report.problems, "rss_kib": rss}))
"""


def test_process_memory_stays_bounded_whatever_sits_in_the_raw_zone(tmp_path: Path) -> None:
    """A stray 1 GiB file took 1.1 GB RSS (every listed file was read whole to hash it): now files
    that are no raw object are never read, and one under a raw key is hashed in chunks and, over
    the cap, never loaded."""
    import subprocess
    import sys

    world = _morning(tmp_path)
    told = _landed(world, 2)
    raw = tmp_path / "raw"
    for path, size in (
        (raw / "dump.iso", 2**30),
        (raw / "recently_played" / "x.bin", 2**30),
        (raw / BAD, 2**28),
    ):
        with path.open("wb") as f:  # sparse: costs no disk
            f.truncate(size)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED_PROCESS, str(raw), world.settings.warehouse_url.get_secret_value()],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root / "src")},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(done.stdout)
    told += [result["summary"], *result["problems"]]
    assert result["rss_kib"] < 200 * 1024, f"process peaked at {result['rss_kib'] // 1024} MiB"
    # the 256 MiB object under a raw key: quarantined, left in place; the stray files: not mentioned
    assert len(result["problems"]) == 1
    assert_three_checks(world, told, "process: partial", f"quarantined {BAD} (left in place)")


def test_ctrl_c_during_process_says_so_in_one_line_and_loses_nothing(tmp_path: Path) -> None:
    from spotify_pipeline.errors import PipelineError

    world = _morning(tmp_path)
    told: list[str] = []
    for _ in range(3):  # landed, not loaded yet
        world.clock.advance(timedelta(hours=1))
        told.append(shown(download_recently_played(world.settings, runtime=world.fresh_runtime())))
    rt = world.fresh_runtime()
    seen = {"n": 0}

    @sa.event.listens_for(rt.engine, "before_cursor_execute")
    def ctrl_c(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("SAVEPOINT"):
            seen["n"] += 1
            if seen["n"] == 2:  # at the second object's savepoint, inside the batch's transaction
                raise KeyboardInterrupt

    with pytest.raises(PipelineError) as interrupted:
        process(world.settings, runtime=rt)
    message = str(interrupted.value)
    assert "\n" not in message
    told.append(f"error: {message}")
    with world.runtime.engine.connect() as conn:  # the batch (these 3 objects) was rolled back whole
        assert conn.execute(sa.text("SELECT COUNT(*) FROM landed_files")).scalar_one() == 0
    report = process(world.settings, runtime=world.fresh_runtime())
    told.append(shown(report))
    assert report.counts["objects_loaded"] == 3
    assert_three_checks(
        world, told, "process interrupted (Ctrl-C) while loading recently_played/", "rolled back",
        "the 0 objects before it are saved", "process: ok - loaded 3 objects",
    )  # fmt: skip
