"""Hostile privacy exports: bad records, bad bytes, pasted files, a zip
bomb, an interrupted import. The export is of the polled window, so every play in it is one the API
showed: the three checks then prove the import lost and doubled nothing and blocked nothing after it.

SQLite + a local folder. Three checks at the end of each.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from tests.jobs.harness import START

from spotify_pipeline.jobs import import_history as job
from spotify_pipeline.jobs.import_history import ImportInterrupted, import_history

from .checks import assert_three_checks
from .test_data_faults import _landed, _morning

HOSTILE = [
    b'{"ts": "9999-12-31T23:59:59Z", "ms_played": 200000, "spotify_track_uri": null, "episode_name": "x"}',
    b'{"ts": "2026-11-02T09:00:00Z", "ms_played": 100000000000000, "master_metadata_track_name": "x"}',
    b'{"ts": "2026-11-02T09:00:00Z", "ms_played": 1, "master_metadata_track_name": "Caf\xe9"}',
    b'{"ts": "2026-11-02T09:00:00Z", "ms_played": 1, "platform": "' + b"p" * 300 + b'", "master_metadata_track_name": "x"}',
    b'{"deep": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    b'{"ms_played": ' + b"9" * 5000 + b"}",
    b'{"ts": "2026-11-02T09:00:00Z", "ms_played": 1, "master_metadata_track_name": "\\ud800"}',
]  # fmt: skip


def _export(world: object, folder: Path) -> list[Path]:
    return world.sim.write_export("alice", folder, kind="extended", start=START, end=world.clock.now())  # type: ignore[attr-defined]


def _spliced(path: Path, records: list[bytes], after: bytes = b"") -> None:
    """The file with ``records`` inserted after its opening bracket, and ``after`` past its end."""
    data = path.read_bytes()
    assert data.startswith(b"[")
    path.write_bytes(b"[" + b"".join(r + b",\n" for r in records) + data[1:] + after)


def test_hostile_records_in_an_export_are_counted_and_nothing_is_lost_or_doubled(tmp_path: Path) -> None:
    world = _morning(tmp_path)
    told = _landed(world)
    files = _export(world, tmp_path / "export")
    _spliced(files[0], HOSTILE)
    for _attempt in range(2):  # the same outcome on a retry, never a traceback at the same record
        report = import_history(world.settings, tmp_path / "export", clock=world.clock)
        assert report.status == "partial" and report.damaged == len(HOSTILE)
        assert report.imported == 0 and report.duplicates_of_api > 0  # every play was the API's
        told += [report.why_partial(), *(m.reason for m in report.malformed)]
    told += _landed(world, 1)  # polling and loading go on
    assert_three_checks(
        world, told, "7 malformed record(s)", "is outside 2006-01-01", "more than 7 days", "byte 0xe9 at offset",
        "platform is 300 characters", "nested deeper", "number too long", "lone surrogate",
    )  # fmt: skip


def test_pasted_files_and_a_zip_bomb_are_named_and_the_rest_imports(tmp_path: Path) -> None:
    world = _morning(tmp_path)
    told = _landed(world)
    export = tmp_path / "export"
    files = _export(world, export)
    _spliced(files[0], [], after=b"\n[" + files[0].read_bytes()[1:])  # two arrays in one file
    with zipfile.ZipFile(export / "extra.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Streaming_History_Audio_9.json", b"[" + b" " * (16 * 1024 * 1024) + b"]")
    report = import_history(world.settings, export, clock=world.clock)
    assert report.status == "partial" and report.file_counts()["files_unreadable"] == 1
    told += [report.why_partial(), *(f"{f.name}: {f.problem}" for f in report.partial_files)]
    told += [f"{n}: {r}" for n, r in report.unreadable_files]
    told += _landed(world, 1)
    assert_three_checks(
        world, told, "1 file(s) unreadable", "1 file(s) read only in part", "text after the array's closing ']'",
        "a zip bomb?",
    )  # fmt: skip


def test_an_interrupted_import_says_so_and_the_next_one_completes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _morning(tmp_path)
    told = _landed(world)
    _export(world, tmp_path / "export")
    monkeypatch.setattr(job, "BATCH", 5)
    real_flush = job.BatchImporter.flush
    calls = {"n": 0}

    def interrupted(self: job.BatchImporter, engine: object, batch: list, fmt: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real_flush(self, engine, batch, fmt)  # type: ignore[arg-type]

    monkeypatch.setattr(job.BatchImporter, "flush", interrupted)
    with pytest.raises(ImportInterrupted) as err:
        import_history(world.settings, tmp_path / "export", clock=world.clock)
    told.append(str(err.value))
    monkeypatch.setattr(job.BatchImporter, "flush", real_flush)
    report = import_history(world.settings, tmp_path / "export", clock=world.clock)
    assert report.status == "ok"
    told += _landed(world, 1)
    assert_three_checks(
        world, told, "import interrupted after 10 records; nothing half-written: run it again"
    )
