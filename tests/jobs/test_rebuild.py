"""`rebuild` recreates the warehouse from the raw zone and the recorded export imports, row for row."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from spotify_pipeline.errors import PipelineError
from spotify_pipeline.jobs import download_followed_artists, download_recently_played, enrich, process
from spotify_pipeline.jobs.import_history import import_history
from spotify_pipeline.jobs.rebuild import rebuild
from spotify_pipeline.warehouse import schema

from .harness import START, World, make_world

# Stamps of when the rebuild itself ran, not facts of the history: they must differ.
BOOKKEEPING = {
    "plays": {"loaded_at"},
    "users": {"created_at"},
    "tracks": {"first_seen_at"},
    "landed_files": {"loaded_at"},
    "gaps": {"detected_at", "closed_at"},
    "import_runs": {"started_at", "finished_at"},
}
# API-call log, runtime state, and the ids of playlists written back to Spotify.
NOT_IN_THE_RAW_ZONE = {"fetch_runs", "app_state", "recommendation_playlists"}


def _history(world: World, tmp_path: Path) -> Path:
    """A day and a half of a binge listener polled every 4 h (so gaps), daily following + enrich,
    then an export import covering the first day (closing the gaps it covers)."""
    next_daily = START.replace(hour=6)
    for t in world.poll_times(1.5, 240):
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
    export = tmp_path / "export"
    world.sim.write_export("alice", export, kind="extended", start=START, end=START + timedelta(days=1))
    import_history(world.settings, export, clock=world.clock, engine=rt.engine)
    return export


def _rows(engine: sa.engine.Engine) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with engine.connect() as conn:
        for name, table in schema.metadata.tables.items():
            if name in NOT_IN_THE_RAW_ZONE:
                continue
            cols = [c for c in table.columns if c.name not in BOOKKEEPING.get(name, set())]
            rows = conn.execute(sa.select(*cols)).all()
            out[name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def test_a_rebuilt_warehouse_equals_the_original_row_for_row(tmp_path: Path) -> None:
    world = make_world(tmp_path, profile="binge")
    export = _history(world, tmp_path)
    shutil.rmtree(export)  # the raw zone alone: the user deleted the download, or this is another host
    original = _rows(world.runtime.engine)
    assert original["gaps"] and any(g[-1] for g in original["gaps"]), "the history needs open and closed gaps"
    assert original["import_runs"] and original["audio_features"] == [] and original["followed_artists"]
    assert any(p[8] == "export" for p in original["plays"]), "the import added plays the API never showed"

    target = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    report = rebuild(world.settings, runtime=world.fresh_runtime(), target_url=target)
    assert report.status == "ok", report.problems
    assert report.counts["imports_replayed"] == 1 and "imports_recorded_from_warehouse" not in report.counts
    rebuilt = _rows(sa.create_engine(target))
    for name in original:
        assert rebuilt[name] == original[name], name  # import_runs.report included: same archive keys
    assert "rebuilt sqlite:///" in report.message


def test_rebuilding_in_place_and_into_a_non_empty_target(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.clock.advance(timedelta(hours=8))
    for _ in range(3):
        world.clock.advance(timedelta(hours=1))
        rt = world.fresh_runtime()
        download_recently_played(world.settings, runtime=rt)
        process(world.settings, runtime=rt)
    before = _rows(world.runtime.engine)
    with pytest.raises(PipelineError, match="already holds data"):
        rebuild(world.settings, target_url=_copy_of(world, tmp_path))
    report = rebuild(world.settings, runtime=world.fresh_runtime())
    assert report.status == "ok"
    assert _rows(sa.create_engine(world.settings.warehouse_url.get_secret_value())) == before


def test_private_plays_come_back_with_the_replayed_imports(tmp_path: Path) -> None:
    """The extended package, then the account package in a later run: the private-session plays the
    first remembered (private_plays), and the account rows the second counted incognito by them,
    are reproduced by replaying both imports in order."""
    world = make_world(tmp_path, profile="binge")
    start, end = START + timedelta(days=2), START + timedelta(days=3)  # a day with private sessions
    world.clock.advance(end - START)
    export = tmp_path / "export"
    for kind in ("extended", "account"):
        world.sim.write_export("alice", export / kind, kind=kind, start=start, end=end)
        report = import_history(world.settings, export / kind, clock=world.clock, engine=world.runtime.engine)
        assert report.status == "ok" and report.incognito > 0, kind
    shutil.rmtree(export)
    original = _rows(world.runtime.engine)
    assert original["private_plays"] and len(original["import_runs"]) == 2

    target = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    report = rebuild(world.settings, runtime=world.fresh_runtime(), target_url=target)
    assert report.status == "ok", report.problems
    assert report.counts["imports_replayed"] == 2
    rebuilt = _rows(sa.create_engine(target))
    for name in original:
        assert rebuilt[name] == original[name], name  # the account run's report counts the same incognito


def _copy_of(world: World, tmp_path: Path) -> str:
    """A second warehouse that already holds plays."""
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert rebuild(world.settings, target_url=other).counts["plays_inserted"] > 0
    return other


@pytest.mark.s3
@pytest.mark.parametrize(
    "engine_url",
    [
        pytest.param("mysql_url", marks=pytest.mark.mysql),
        pytest.param("postgres_url", marks=pytest.mark.postgres),
    ],
)
def test_rebuilding_mariadb_from_s3_needs_no_export_file(
    tmp_path: Path, engine_url: str, s3_bucket: tuple[str, str], request: pytest.FixtureRequest
) -> None:
    mysql_url = request.getfixturevalue(engine_url)  # MariaDB or PostgreSQL: the same promise
    endpoint, bucket = s3_bucket
    world = make_world(
        tmp_path,
        profile="binge",
        warehouse_url=mysql_url,
        raw_zone=f"s3://{bucket}/spotify",
        s3_endpoint_url=endpoint,
    )
    shutil.rmtree(_history(world, tmp_path))
    assert any(k.key.startswith("imports/alice/") for k in world.runtime.store.list("imports/"))
    before = _rows(world.runtime.engine)
    assert any(p[8] == "export" for p in before["plays"])

    report = rebuild(world.settings, runtime=world.fresh_runtime())  # in place

    assert report.status == "ok", report.problems
    assert report.counts["imports_replayed"] == 1
    check = sa.create_engine(mysql_url)
    assert _rows(check) == before
    check.dispose()


def _forget_records(world: World) -> None:
    """Make the imports look as they did before the raw zone kept a record of each."""
    for info in list(world.runtime.store.list("imports/")):
        if "/_runs/" in info.key:
            (Path(world.settings.raw_zone) / info.key).unlink()


def _forget_archive(world: World) -> None:
    """Make the recorded imports look as they did before exports were archived."""
    _forget_records(world)
    runs = schema.import_runs
    with world.runtime.engine.begin() as conn:
        for run_id, report in conn.execute(sa.select(runs.c.id, runs.c.report)).all():
            old = json.loads(report)
            del old["archived"]
            conn.execute(
                sa.update(runs).where(runs.c.id == run_id).values(report=json.dumps(old, sort_keys=True))
            )


def test_an_import_made_before_archiving_is_replayed_from_its_paths_and_archived(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    export = _history_small(world, tmp_path)
    _forget_archive(world)
    for info in list(world.runtime.store.list("imports/")):
        (tmp_path / "raw" / info.key).unlink()
    before = _rows(world.runtime.engine)

    target = f"sqlite:///{tmp_path / 'r.db'}"
    report = rebuild(world.settings, runtime=world.fresh_runtime(), target_url=target)

    assert report.status == "ok", report.problems
    assert (
        report.counts["imports_archived_from_paths"] == report.counts["imports_recorded_from_warehouse"] == 1
    )
    assert "1 of them predated export archiving and were replayed from their original files" in report.message
    after = _rows(sa.create_engine(target))
    assert after["plays"] == before["plays"]
    # Its files are archived now, and the rebuilt run records them: the next rebuild needs no paths.
    (archived,) = [json.loads(r[-1])["archived"] for r in after["import_runs"]]
    assert {a["name"] for a in archived} == {str(p) for p in export.iterdir()}
    assert {a["key"] for a in archived} == {
        i.key for i in world.runtime.store.list("imports/") if "/_runs/" not in i.key
    }


def test_an_import_made_before_archiving_whose_files_are_gone_is_named(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    export = _history_small(world, tmp_path)
    _forget_archive(world)
    shutil.rmtree(export)
    report = rebuild(
        world.settings, runtime=world.fresh_runtime(), target_url=f"sqlite:///{tmp_path / 'r.db'}"
    )
    assert report.status == "partial"
    assert any(
        "made before export files were archived" in p and str(export) in p and "import-history" in p
        for p in report.problems
    ), report.problems


@pytest.mark.parametrize("damage", ["deleted", "edited"])
def test_a_lost_or_altered_archived_copy_is_named(tmp_path: Path, damage: str) -> None:
    world = make_world(tmp_path)
    shutil.rmtree(_history_small(world, tmp_path))
    (info,) = [i for i in world.runtime.store.list("imports/") if "/_runs/" not in i.key]
    copy = tmp_path / "raw" / info.key
    if damage == "deleted":
        copy.unlink()
    else:
        copy.write_bytes(copy.read_bytes().replace(b"spotify:track:", b"spotify:track:x", 1))

    report = rebuild(
        world.settings, runtime=world.fresh_runtime(), target_url=f"sqlite:///{tmp_path / 'r.db'}"
    )

    assert report.status == "partial" and "imports_replayed" not in report.counts
    expected = "is not in" if damage == "deleted" else "does not match its sha256"
    assert any("import 1 (" in p and info.key in p and expected in p for p in report.problems), (
        report.problems
    )


def _history_small(world: World, tmp_path: Path) -> Path:
    world.clock.advance(timedelta(hours=10))
    rt = world.fresh_runtime()
    download_recently_played(world.settings, runtime=rt)
    process(world.settings, runtime=rt)
    export = tmp_path / "export"
    world.sim.write_export("alice", export, kind="extended", start=START, end=world.clock.now())
    import_history(world.settings, export, clock=world.clock, engine=rt.engine)
    return export
