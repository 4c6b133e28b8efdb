"""`import-history` copies the export into the raw zone before importing it: content-addressed,
once, member by member from a zip, and invisible to `process`."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from spotify_pipeline.errors import StoreError
from spotify_pipeline.jobs import download_recently_played, process
from spotify_pipeline.jobs.import_archive import blank_identifiers
from spotify_pipeline.jobs.import_history import import_history
from spotify_pipeline.warehouse import schema

from .harness import START, World, make_world

EXPORT_FIXTURES = Path(__file__).parents[1] / "exports" / "fixtures"


def _export(world: World, tmp_path: Path) -> list[Path]:
    world.clock.advance(timedelta(hours=10))
    return world.sim.write_export(
        "alice", tmp_path / "export", kind="extended", start=START, end=world.clock.now()
    )


def _archived(world: World) -> dict[str, bytes]:
    store = world.runtime.store
    return {
        info.key: store.get(info.key) or b"" for info in store.list("imports/") if "/_runs/" not in info.key
    }


def _recorded_reports(world: World) -> list[dict[str, object]]:
    with world.runtime.engine.connect() as conn:
        rows = conn.execute(
            sa.select(schema.import_runs.c.report).order_by(schema.import_runs.c.id)
        ).scalars()
        return [json.loads(r) for r in rows]


def test_importing_the_same_export_twice_archives_it_once(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    files = _export(world, tmp_path)
    first = import_history(
        world.settings, tmp_path / "export", clock=world.clock, engine=world.runtime.engine
    )
    second = import_history(
        world.settings, tmp_path / "export", clock=world.clock, engine=world.runtime.engine
    )

    archived = _archived(world)
    assert len(archived) == len(files) > 0
    by_name = {f.name: blank_identifiers(f.read_bytes()) for f in files}  # as Spotify sent it, minus IPs
    for key, data in archived.items():
        _, user, sha, name = key.split("/")
        assert user == "alice" and sha == hashlib.sha256(data).hexdigest() and data == by_name[name]
    assert first.archived == second.archived
    assert first.archived is not None and {a.key for a in first.archived} == set(archived)
    assert {a.name for a in first.archived} == {str(f) for f in files}
    # The keys are in each import run's report, where rebuild finds them.
    for recorded in _recorded_reports(world):
        assert {a["key"] for a in recorded["archived"]} == set(archived)  # type: ignore[union-attr]


def test_a_zip_import_archives_its_streaming_history_members(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    files = _export(world, tmp_path)
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            zf.write(f, f"Spotify Extended Streaming History/{f.name}")
        zf.write(EXPORT_FIXTURES / "Userdata.json", "Spotify Account Data/Userdata.json")
        zf.writestr("Spotify Extended Streaming History/ReadMeFirst.pdf", b"%PDF-1.4")

    report = import_history(world.settings, archive, clock=world.clock, engine=world.runtime.engine)

    assert report.status == "ok" and report.imported_new > 0
    archived = _archived(world)
    with zipfile.ZipFile(archive) as zf:
        members = {
            f"{archive}/{i.filename}": blank_identifiers(zf.read(i))
            for i in zf.infolist()
            if "Streaming_History_Audio" in i.filename
        }
    assert report.archived is not None
    assert {a.name: archived[a.key] for a in report.archived} == members
    # Account data (email, address, ...) is never read past its first record, and not copied.
    assert not any("Userdata" in key for key in archived)
    assert [name for name, _ in report.unknown_files] == [f"{archive}/Spotify Account Data/Userdata.json"]


def test_archived_exports_are_ignored_by_process(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    _export(world, tmp_path)
    download_recently_played(world.settings, runtime=world.fresh_runtime())
    import_history(world.settings, tmp_path / "export", clock=world.clock, engine=world.runtime.engine)
    assert _archived(world)

    loaded = process(world.settings, runtime=world.fresh_runtime())

    assert loaded.status == "ok" and loaded.problems == []
    assert loaded.counts["objects_loaded"] == 1  # the one recently-played object, nothing under imports/
    assert not (tmp_path / "raw" / "_quarantine").exists()
    with world.runtime.engine.connect() as conn:
        landed = conn.execute(sa.select(schema.landed_files.c.key)).scalars().all()
    assert landed and not any(key.startswith("imports/") for key in landed)


def test_an_export_that_cannot_be_archived_is_not_imported(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    _export(world, tmp_path)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "imports").write_text("a file where the archive folder belongs")

    with pytest.raises(StoreError, match="could not write imports/alice/"):
        import_history(world.settings, tmp_path / "export", clock=world.clock, engine=world.runtime.engine)

    with world.runtime.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.import_runs)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.plays)).scalar() == 0


def test_archived_copies_hold_no_ip_address_user_agent_or_user_name(tmp_path: Path) -> None:
    """The import never stores network identifiers; its copy in the raw zone must not either."""
    import json

    from spotify_pipeline.exports.reader import ExportFile
    from spotify_pipeline.jobs.import_archive import archive_files
    from spotify_pipeline.landing.local import LocalRawStore

    records = [
        {
            "ts": "2026-03-01T10:00:00Z",
            "username": "someone",
            "platform": "android",
            "ms_played": 200000,
            "conn_country": "DE",
            "ip_addr": "192.0.2.7",
            "master_metadata_track_name": 'Song "A"',
            "master_metadata_album_artist_name": "Band",
            "master_metadata_album_album_name": "LP",
            "spotify_track_uri": "spotify:track:4uLU6hMCjMI75M1A2tKUQC",
            "episode_name": None,
            "episode_show_name": None,
            "spotify_episode_uri": None,
            "reason_start": "trackdone",
            "reason_end": "trackdone",
            "shuffle": False,
            "skipped": False,
            "offline": False,
            "offline_timestamp": 1772359000,
            "incognito_mode": False,
            "user_agent_decrypted": "Mozilla/5.0 (X11)",
        }
    ]
    src = tmp_path / "Streaming_History_Audio_2026_0.json"
    src.write_text(json.dumps(records))
    store = LocalRawStore(tmp_path / "raw")
    [archived] = archive_files(
        store, "alice", [ExportFile(src.name, src.stat().st_size, lambda: src.open("rb"))]
    )
    copy = store.get(archived.key) or b""
    for identifier in (b"192.0.2.7", b"Mozilla/5.0", b"someone"):
        assert identifier not in copy
    kept = json.loads(copy)[0]
    assert kept["ip_addr"] is None and kept["user_agent_decrypted"] is None and kept["username"] is None
    assert kept["master_metadata_track_name"] == 'Song "A"'  # everything else as Spotify sent it


def test_blanking_in_chunks_gives_the_same_bytes_wherever_the_chunks_end() -> None:
    import json
    import random

    from spotify_pipeline.jobs.import_archive import blank_stream

    records = [
        {"ts": "t", "ip_addr": f"192.0.2.{i}", "username": 'a "quoted\\\\" name', "ip_addr_decrypted": None,
         "user_agent_decrypted": "Mozilla " + "x" * i, "note": "ip_addr"}
        for i in range(200)
    ]  # fmt: skip
    data = json.dumps(records).replace('"ip_addr": "192.0.2.5"', '"ip_addr"  :\n  "192.0.2.5"').encode()
    whole = blank_identifiers(data)
    assert b"192.0.2." not in whole and b"Mozilla" not in whole
    rng = random.Random(7)
    for size in (1, 2, 5, 17, 64, 1000):
        assert b"".join(blank_stream(data[i : i + size] for i in range(0, len(data), size))) == whole
    for _ in range(30):
        cuts = sorted(rng.sample(range(1, len(data)), 25))
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert b"".join(blank_stream(pieces)) == whole


def test_archiving_a_large_file_streams_it(tmp_path: Path) -> None:
    """A 64 MiB one-string file is copied without holding it in memory (it took its size before)."""
    import tracemalloc

    from spotify_pipeline.exports.reader import ExportFile
    from spotify_pipeline.jobs.import_archive import ArchivedExport, archive_files
    from spotify_pipeline.landing.local import LocalRawStore

    src = tmp_path / "Streaming_History_Audio_big.json"
    with src.open("wb") as f:
        f.write(b'["')
        for _ in range(64):
            f.write(b"x" * (1 << 20))
        f.write(b'"]')
    store = LocalRawStore(tmp_path / "raw")
    tracemalloc.start()
    try:
        [archived] = archive_files(
            store, "alice", [ExportFile(src.name, src.stat().st_size, lambda: src.open("rb"))]
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert archived.size == src.stat().st_size
    assert peak < 16 * (1 << 20), f"archiving held {peak / (1 << 20):.0f} MiB"
    assert (tmp_path / "raw" / archived.key).stat().st_size == archived.size

    # Read back for a replay (sha256 checked first), streamed as well.
    (copy,) = ArchivedExport(str(src), [archived], [], []).export_files(store)
    tracemalloc.start()
    try:
        with copy.binary() as raw:
            size = sum(len(chunk) for chunk in iter(lambda: raw.read(1 << 20), b""))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert size == archived.size and peak < 16 * (1 << 20), f"the replay held {peak / (1 << 20):.0f} MiB"


def test_the_archive_copy_stops_a_file_larger_than_its_header_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reader refuses a member whose header declares too much (tests/exports/test_reader_hostile.py);
    # the archive copy counts what it really copies, so a header that understates is stopped too.
    from spotify_pipeline.exports import limits
    from spotify_pipeline.exports.limits import ExportTooLarge
    from spotify_pipeline.exports.reader import ExportFile
    from spotify_pipeline.jobs.import_archive import archive_files

    world = make_world(tmp_path)
    files = _export(world, tmp_path)
    real = files[0]
    lying = ExportFile(real.name, 10, lambda: real.open("rb"))  # the header says 10 bytes
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ExportTooLarge, match=f"{real.name}: .* larger than any Spotify export file"):
        archive_files(world.runtime.store, world.settings.user, [lying])
    assert _archived(world) == {}  # nothing archived
