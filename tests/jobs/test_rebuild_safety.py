"""`rebuild` never loses history: it reads the raw zone alone (the import records beside the
archived files), builds into a staging database and swaps it in only when complete, so an error,
Ctrl-C or SIGKILL at any point leaves the old warehouse as it was, and the next rebuild works."""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from spotify_pipeline.errors import PipelineError
from spotify_pipeline.jobs import download_recently_played, process
from spotify_pipeline.jobs.import_history import import_history
from spotify_pipeline.jobs.import_records import list_records
from spotify_pipeline.jobs.rebuild import INTERRUPTED, RebuildInterrupted, rebuild
from spotify_pipeline.landing.decode import stored_json
from spotify_pipeline.warehouse import staging

from .harness import START, World, make_world
from .test_rebuild import _rows

# rebuild calls these by the names it imported: a test replaces them there
REBUILD = importlib.import_module("spotify_pipeline.jobs.rebuild")

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = [
    "sqlite-folder",
    pytest.param("mariadb-s3", marks=[pytest.mark.mysql, pytest.mark.s3]),
    pytest.param("postgres-s3", marks=[pytest.mark.postgres, pytest.mark.s3]),
]


def _world(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> World:
    if backend == "sqlite-folder":
        return make_world(tmp_path, profile="binge")
    endpoint, bucket = request.getfixturevalue("s3_bucket")
    return make_world(
        tmp_path,
        profile="binge",
        warehouse_url=request.getfixturevalue("mysql_url" if backend == "mariadb-s3" else "postgres_url"),
        raw_zone=f"s3://{bucket}/spotify",
        s3_endpoint_url=endpoint,
    )


def _history(world: World, tmp_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Polls every 4 h (so gaps), then an export of the first half day: export plays the API never
    showed. The export is deleted afterwards: only the raw zone remains. Returns the warehouse."""
    for _ in range(6):
        world.clock.advance(timedelta(hours=4))
        rt = world.fresh_runtime()
        download_recently_played(world.settings, runtime=rt)
        process(world.settings, runtime=rt)
    export = tmp_path / "export"
    world.sim.write_export("alice", export, kind="extended", start=START, end=world.clock.now())
    report = import_history(world.settings, export, clock=world.clock, engine=world.runtime.engine)
    assert report.status == "ok" and report.imported_new > 0
    for f in export.iterdir():
        f.unlink()
    rows = _rows(world.runtime.engine)
    assert any(p[8] == "export" for p in rows["plays"]) and rows["gaps"]
    return rows


def _warehouse(world: World) -> dict[str, list[tuple[Any, ...]]]:
    engine = sa.create_engine(world.settings.warehouse_url.get_secret_value())
    try:
        return _rows(engine)
    finally:
        engine.dispose()


def _leftovers(world: World) -> list[str]:
    """What a rebuild may leave beside the warehouse (the staging file or database)."""
    url = sa.engine.make_url(world.settings.warehouse_url.get_secret_value())
    if url.get_backend_name() == "sqlite":
        db = Path(url.database or "")
        return sorted(p.name for p in db.parent.glob(db.name + ".rebuild*") if not p.name.endswith("-lock"))
    if url.get_backend_name() == "postgresql":  # side schemas in the same database
        engine = sa.create_engine(url)
        try:
            names = set(sa.inspect(engine).get_schema_names())
        finally:
            engine.dispose()
        return sorted(n for n in names if n.startswith("public__"))
    engine = sa.create_engine(url.set(database=None))
    try:
        names = set(sa.inspect(engine).get_schema_names())
    finally:
        engine.dispose()
    return sorted(n for n in names if n.startswith(url.database or "") and n != url.database)


def test_each_import_leaves_its_record_in_the_raw_zone_and_the_replay_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(tmp_path, profile="binge")
    _history(world, tmp_path)
    (record,), problems = list_records(world.runtime.store)
    assert problems == [] and record.user == "alice" and record.tolerance_seconds == 90.0
    assert record.key.startswith("imports/alice/_runs/") and record.origin == "import-history"
    assert [f.key for f in record.archive.files] and str(tmp_path / "export") == record.archive.source
    # A later change of the tolerance does not change how the recorded import is replayed.
    seen: list[float] = []
    original = REBUILD.import_history

    def spy(settings: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(settings.export_match_tolerance_seconds)
        return original(settings, *args, **kwargs)

    monkeypatch.setattr(REBUILD, "import_history", spy)
    settings = world.settings.model_copy(update={"export_match_tolerance_seconds": 5.0})
    report = rebuild(settings, runtime=world.fresh_runtime(), target_url=f"sqlite:///{tmp_path / 'r.db'}")
    assert report.status == "ok" and seen == [90.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_quarantined_object_does_not_stop_an_in_place_rebuild(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """(a) A landed object whose played_at is "yesterday": process quarantines it; rebuild completes."""
    world = _world(tmp_path, backend, request)
    _history(world, tmp_path)
    store = world.runtime.store
    key = next(i.key for i in store.list("recently_played/"))
    envelope = json.loads(stored_json(store.get(key) or b"", key))
    envelope["fetches"][0]["response"]["items"][0]["played_at"] = "yesterday"
    bad_key = "recently_played/2026110123.json"
    store.merge(bad_key, envelope)
    assert "quarantined" in process(world.settings, runtime=world.fresh_runtime()).summary()
    before = _warehouse(world)

    report = rebuild(world.settings, runtime=world.fresh_runtime())

    assert report.status == "partial" and report.counts["objects_quarantined"] == 1
    assert any(bad_key in p and "yesterday" in p for p in report.problems), report.problems
    assert report.counts["imports_replayed"] == 1
    assert _warehouse(world) == before  # export plays, gaps and the quarantine row all back


@pytest.mark.parametrize("where", ["process", "import", "swap"])
def test_ctrl_c_mid_rebuild_leaves_the_warehouse_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """(b) KeyboardInterrupt while loading, while replaying an import, just before the swap."""
    world = make_world(tmp_path, profile="binge")
    before = _history(world, tmp_path)

    def interrupt(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        if where == "process":
            patch.setattr(REBUILD, "process", interrupt)
        elif where == "import":
            patch.setattr(REBUILD, "import_history", interrupt)
        else:
            patch.setattr(staging.os, "replace", interrupt)
        with pytest.raises(RebuildInterrupted) as caught:
            rebuild(world.settings, runtime=world.fresh_runtime())
    assert str(caught.value) == INTERRUPTED
    assert _warehouse(world) == before and _leftovers(world) == []

    report = rebuild(world.settings, runtime=world.fresh_runtime())
    assert report.status == "ok", report.problems
    assert _warehouse(world) == before


_KILLED_REBUILD = """
import importlib, sys, time
from spotify_pipeline.settings import load_settings

module = importlib.import_module("spotify_pipeline.jobs.rebuild")  # where rebuild finds import_history

raw_zone, url, endpoint, marker = sys.argv[1:5]
settings = load_settings(raw_zone=raw_zone, warehouse_url=url, s3_endpoint_url=endpoint or None, user="alice")

def stall(*args, **kwargs):  # the raw objects are loaded into the staging database, the import is next
    open(marker, "w").close()
    time.sleep(120)

module.import_history = stall
module.rebuild(settings)
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigkill_mid_rebuild_then_rebuild_again(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """(b) SIGKILL of a rebuilding process: the old warehouse stays; the next rebuild cleans up."""
    world = _world(tmp_path, backend, request)
    before = _history(world, tmp_path)
    marker = tmp_path / "replaying"
    s = world.settings
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_REBUILD, s.raw_zone, s.warehouse_url.get_secret_value(),
         s.s3_endpoint_url or "", str(marker)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert child.poll() is None, "the rebuild exited before it was killed"
        assert time.monotonic() < deadline, "the rebuild never reached the import replay"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    assert _leftovers(world), "the killed rebuild was building beside the warehouse"
    assert _warehouse(world) == before

    report = rebuild(world.settings, runtime=world.fresh_runtime())

    assert report.status == "ok", report.problems
    assert report.counts["imports_replayed"] == 1 and report.counts["plays_imported"] > 0
    assert _warehouse(world) == before and _leftovers(world) == []


def test_a_deleted_warehouse_is_rebuilt_with_every_import(tmp_path: Path) -> None:
    """(c) The warehouse file is gone: the imports are known from the raw zone alone."""
    world = make_world(tmp_path, profile="binge")
    before = _history(world, tmp_path)
    world.runtime.engine.dispose()
    for path in tmp_path.glob("warehouse.db*"):
        path.unlink()

    report = rebuild(world.settings, runtime=world.fresh_runtime())

    assert report.status == "ok", report.problems
    assert report.counts["imports_replayed"] == 1 and "imports_recorded_from_warehouse" not in report.counts
    assert _warehouse(world) == before
    assert "1 imports replayed" in report.message and "export plays" in report.message


def test_an_import_that_cannot_be_replayed_stops_an_in_place_rebuild(tmp_path: Path) -> None:
    world = make_world(tmp_path, profile="binge")
    before = _history(world, tmp_path)
    archived = next(i.key for i in world.runtime.store.list("imports/") if "/_runs/" not in i.key)
    (tmp_path / "raw" / archived).unlink()

    report = rebuild(world.settings, runtime=world.fresh_runtime())

    assert report.status == "failed" and "the warehouse was not changed" in report.message
    assert any(archived in p for p in report.problems), report.problems
    assert _warehouse(world) == before and _leftovers(world) == []


def test_leftovers_are_removed_and_a_second_rebuild_at_once_is_refused(tmp_path: Path) -> None:
    world = make_world(tmp_path, profile="binge")
    before = _history(world, tmp_path)
    (tmp_path / "warehouse.db.rebuild").write_bytes(b"half a database from a killed rebuild")
    (tmp_path / "warehouse.db.rebuild-wal").write_bytes(b"junk")
    with open(tmp_path / "warehouse.db.rebuild-lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(PipelineError, match="another rebuild of .* is running"):
            rebuild(world.settings, runtime=world.fresh_runtime())
    report = rebuild(world.settings, runtime=world.fresh_runtime())
    assert report.status == "ok" and _warehouse(world) == before and _leftovers(world) == []


def test_the_summary_counts_what_was_rebuilt_and_progress_counts_objects(tmp_path: Path) -> None:
    world = make_world(tmp_path, profile="binge")
    _history(world, tmp_path)
    seen: list[tuple[int, int | None, str | None]] = []
    report = rebuild(
        world.settings,
        runtime=world.fresh_runtime(),
        progress=lambda done, total=None, text=None: seen.append((done, total, text)),
    )
    c = report.counts
    assert c["objects_loaded"] == 6 and c["plays_inserted"] > 0 and c["gaps_detected"] > 0
    assert c["imports_replayed"] == 1 and c["plays_imported"] > 0 and "gaps_open" in c
    assert (
        f"{c['objects_loaded']} objects loaded (0 quarantined), {c['plays_inserted']:,} plays from the API, "
        f"1 imports replayed ({c['plays_imported']:,} export plays), {c['gaps_detected']} gaps found"
    ) in report.message
    gaps = [(d, t) for d, t, text in seen if text and text.startswith("re-deriving gaps")]
    assert gaps[-1] == (6, 6)  # one step per recently-played object
    files = [(d, t) for d, t, text in seen if text and text.startswith("replaying imports")]
    assert files[-1] == (1, 1)  # one archived file


def test_rebuilding_again_replays_each_import_once(tmp_path: Path) -> None:
    """The rebuilt warehouse's import runs carry the rebuild's start times: they are still
    recognised as the recorded imports, never recorded (and replayed) a second time."""
    world = make_world(tmp_path, profile="binge")
    before = _history(world, tmp_path)
    for _ in range(2):
        world.clock.advance(timedelta(hours=1))
        report = rebuild(world.settings, runtime=world.fresh_runtime())
        assert report.status == "ok" and report.counts["imports_replayed"] == 1, report.counts
        assert "imports_recorded_from_warehouse" not in report.counts
    assert len(list_records(world.runtime.store)[0]) == 1
    assert _warehouse(world) == before


def test_an_import_made_before_records_is_recorded_from_the_warehouse_once(tmp_path: Path) -> None:
    """An import of the previous release (archived files, no record): read from the old warehouse,
    given its record, and from then on rebuilt without the warehouse."""
    world = make_world(tmp_path, profile="binge")
    before = _history(world, tmp_path)
    for info in list(world.runtime.store.list("imports/")):
        if "/_runs/" in info.key:
            (tmp_path / "raw" / info.key).unlink()

    report = rebuild(world.settings, runtime=world.fresh_runtime())
    assert report.status == "ok" and report.counts["imports_recorded_from_warehouse"] == 1
    assert "1 import(s) made before this release were read from the old warehouse" in report.message
    (record,), _ = list_records(world.runtime.store)
    assert record.origin.startswith("import_runs #1 ")

    world.runtime.engine.dispose()
    for path in tmp_path.glob("warehouse.db*"):
        path.unlink()
    report = rebuild(world.settings, runtime=world.fresh_runtime())
    assert report.status == "ok" and report.counts["imports_replayed"] == 1
    assert _warehouse(world) == before


def test_the_load_forwards_progress_to_a_process_that_counts_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = REBUILD
    original = module.process

    def counting(settings: Any, *, runtime: Any, progress: Any) -> Any:
        progress(1, 2, "objects")
        return original(settings, runtime=runtime)

    monkeypatch.setattr(module, "process", counting)
    world = make_world(tmp_path)
    world.clock.advance(timedelta(hours=2))
    download_recently_played(world.settings, runtime=world.fresh_runtime())
    seen: list[tuple[int, int | None, str | None]] = []
    rebuild(world.settings, progress=lambda d, t=None, x=None: seen.append((d, t, x)))
    assert (1, 2, "loading raw objects") in seen


def test_an_unreadable_import_record_stops_an_in_place_rebuild(tmp_path: Path) -> None:
    world = make_world(tmp_path, profile="binge")
    before = _history(world, tmp_path)
    (record,), _ = list_records(world.runtime.store)
    (tmp_path / "raw" / record.key).write_text('{"version": 1, "user": "alice"')  # cut short

    report = rebuild(world.settings, runtime=world.fresh_runtime())

    assert report.status == "failed" and "the warehouse was not changed" in report.message
    assert any(record.key in p and "unreadable" in p for p in report.problems), report.problems
    assert _warehouse(world) == before


@pytest.mark.mysql
def test_a_database_user_who_may_not_build_beside_the_warehouse_is_told_the_grant(
    tmp_path: Path, mysql_url: str
) -> None:
    import uuid

    import pymysql

    url = sa.engine.make_url(mysql_url)
    user, password = "sp_rb_" + uuid.uuid4().hex[:8], "pw-" + uuid.uuid4().hex[:8]
    admin = pymysql.connect(host=url.host, port=url.port or 3306, user="root", password="", autocommit=True)
    with admin.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
        cur.execute(f"GRANT ALL PRIVILEGES ON `{url.database}`.* TO '{user}'@'127.0.0.1'")
    try:
        limited = url.set(username=user, password=password).render_as_string(hide_password=False)
        world = make_world(tmp_path, warehouse_url=limited)
        world.clock.advance(timedelta(hours=3))
        download_recently_played(world.settings, runtime=world.fresh_runtime())
        process(world.settings, runtime=world.fresh_runtime())
        before = _warehouse(world)
        with pytest.raises(PipelineError) as caught:
            rebuild(world.settings, runtime=world.fresh_runtime())
        message = str(caught.value)
        assert "the warehouse was not changed" in message and password not in message
        assert f"GRANT ALL ON `{url.database}__rebuild`.* TO <user>" in message
        assert _warehouse(world) == before
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
        admin.close()


def test_a_damaged_warehouse_file_is_replaced_by_the_rebuild(tmp_path: Path) -> None:
    world = make_world(tmp_path, profile="binge")
    before = _history(world, tmp_path)
    world.runtime.engine.dispose()
    for path in tmp_path.glob("warehouse.db-*"):
        path.unlink()
    (tmp_path / "warehouse.db").write_bytes(b"this is not a database any more" * 100)

    report = rebuild(world.settings, runtime=world.fresh_runtime())

    assert report.status == "ok", report.problems
    assert report.counts["imports_replayed"] == 1 and _warehouse(world) == before
