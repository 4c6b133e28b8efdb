"""The import job under hostile input and failures, on SQLite and
MariaDB: one bad record is counted and the rest imported, on every retry; every file ends in one
state; no import_runs row is ever left ``running``."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.exports.report import MAX_MALFORMED_LISTED, STORED_REPORT_BYTES
from spotify_pipeline.jobs import import_history as job
from spotify_pipeline.settings import Settings
from spotify_pipeline.warehouse import gaps, runs
from spotify_pipeline.warehouse import schema as s

from .import_checks import assert_adds_up

CLOCK_NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _record(minute: int, **change: Any) -> dict[str, Any]:
    return {
        "ts": f"2024-03-01T08:{minute:02d}:00Z",
        "ms_played": 200_000,
        "spotify_track_uri": "spotify:track:" + f"{minute:02d}".rjust(22, "a"),
        "master_metadata_track_name": f"Song {minute}",
        "master_metadata_album_artist_name": "Artist",
        "platform": "android",
        **change,
    }


def _write(path: Path, parts: list[bytes]) -> Path:
    path.write_bytes(b"[" + b",\n".join(parts) + b"]")
    return path


def _enc(rec: dict[str, Any]) -> bytes:
    return json.dumps(rec, ensure_ascii=False).encode()


def _runs(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r.status for r in conn.execute(select(s.import_runs).order_by(s.import_runs.c.id))]


def _plays(engine: Engine) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(s.plays.c.played_at)).all())


BAD_RECORDS: list[tuple[bytes, str]] = [
    (_enc(_record(1, ts="0001-01-01T00:00:00Z")), "is outside 2006-01-01"),
    (_enc(_record(2, ts="9999-12-31T23:59:59Z")), "is outside 2006-01-01"),
    (_enc(_record(3, ms_played=10**14)), "more than 7 days"),
    (_enc(_record(4, platform="p" * 300)), "platform is 300 characters"),
    (_enc(_record(5)).replace(b"Song 5", b"Song \\ud800"), "lone surrogate"),
    (_enc(_record(6)).replace(b"Song 6", "Song \u00e9".encode("latin-1")), "is not UTF-8"),
    (b'{"deep": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nested deeper"),
    (b'{"ts": "2024-03-01T08:07:00Z", "ms_played": ' + b"7" * 5000 + b"}", "number too long"),
    (_enc(_record(8, reason_end="r" * 100)), "reason_end is 100 characters"),
    (_enc(_record(9, conn_country="X" * 40)), "country is 40 characters"),
]


def test_each_bad_record_is_counted_with_its_reason_and_the_rest_imported_on_every_retry(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    good = [_enc(_record(m)) for m in range(20, 30)]
    parts = [good[0], *[bad for bad, _ in BAD_RECORDS], *good[1:]]
    path = _write(tmp_path / "Streaming_History_Audio_2024_0.json", parts)
    clock = ManualClock(CLOCK_NOW)
    for attempt in range(2):  # never a traceback at the same record on a retry
        report = job.import_history(settings, path, engine=engine, clock=clock)
        assert_adds_up(report)
        assert report.records_read == len(parts) and report.imported == 10
        assert report.imported_new == (10 if attempt == 0 else 0)
        by_index = {m.index: m.reason for m in report.malformed}
        assert sorted(by_index) == list(range(1, len(BAD_RECORDS) + 1))
        for i, (_, words) in enumerate(BAD_RECORDS, 1):
            assert words in by_index[i], (i, by_index[i])
        assert (
            report.status == "partial" and f"{len(BAD_RECORDS)} malformed record(s)" in report.why_partial()
        )
        assert report.files[0].malformed == len(BAD_RECORDS) and report.files[0].status == "read"
    assert _plays(engine) == 10
    assert _runs(engine) == ["partial", "partial"]


def test_files_that_cannot_be_read_are_named_counted_and_make_it_partial(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    export = tmp_path / "export"
    export.mkdir()
    _write(export / "Streaming_History_Audio_2024_0.json", [_enc(_record(m)) for m in range(10, 14)])
    trailing = _write(export / "Streaming_History_Audio_2024_1.json", [_enc(_record(20))])
    trailing.write_bytes(trailing.read_bytes() + b"\n[" + _enc(_record(21)) + b"]")
    (export / "Streaming_History_Audio_2024_2.json").write_bytes(b"[" + _enc(_record(30)) + b", {")
    (export / "Streaming_History_Audio_2024_3.json").write_bytes("[]".encode("utf-16"))
    (export / "Userdata.json").write_text('{"username": "x"}')
    (export / "ReadMe.pdf").write_bytes(b"%PDF")
    with zipfile.ZipFile(export / "more.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("endsong_9.json", b"[" + b" " * (4 * 1024 * 1024) + b"]")
    with engine.begin() as conn:
        gaps.record_gap(conn, "alice", gap_from=datetime(2024, 3, 1, 8, tzinfo=UTC),
                        gap_to=datetime(2024, 3, 1, 8, 5, tzinfo=UTC), detected_at=CLOCK_NOW)  # fmt: skip
    report = job.import_history(settings, export, engine=engine, clock=ManualClock(CLOCK_NOW))
    assert_adds_up(report)
    assert report.file_counts() == {
        "files_read": 1, "files_partial": 2, "files_unreadable": 2, "files_unknown": 1, "files_ignored": 1,
    }  # fmt: skip
    partial = {f.name.rsplit("/", 1)[-1]: f for f in report.partial_files}
    assert "closing ']'" in (partial["Streaming_History_Audio_2024_1.json"].problem or "")
    assert partial["Streaming_History_Audio_2024_2.json"].records == 2  # one read, one lost
    unreadable = dict(report.unreadable_files)
    assert "zip bomb" in unreadable[f"{export}/more.zip/endsong_9.json"]
    assert "not UTF-8" in unreadable[f"{export}/Streaming_History_Audio_2024_3.json"]
    assert report.imported == 6 and report.status == "partial"
    assert "2 file(s) unreadable, 2 file(s) read only in part" in report.why_partial()
    assert report.gaps_closed == [] and report.gaps_open == 1  # files lost: no gap is closed
    stored = json.loads(_report_json(engine))
    assert stored["files_unreadable"] == 2 and stored["files"][1]["status"] == "partial"


def _report_json(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(s.import_runs.c.report).order_by(s.import_runs.c.id.desc())).scalar())


def test_a_million_broken_records_make_a_small_report(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    n = MAX_MALFORMED_LISTED + 500
    path = _write(tmp_path / "endsong_0.json", [_enc(_record(10, ts="nope"))] * n)
    report = job.import_history(settings, path, engine=engine, clock=ManualClock(CLOCK_NOW))
    assert_adds_up(report)
    assert report.malformed_count == n and len(report.malformed) == MAX_MALFORMED_LISTED
    # Stored within what a MariaDB TEXT column holds, every count kept, fewer records listed.
    raw = _report_json(engine)
    stored = json.loads(raw)
    assert len(raw.encode()) <= STORED_REPORT_BYTES and stored["malformed"] == n
    assert stored["malformed_not_listed"] == n - len(stored["malformed_records"]) > 0


def test_a_write_failure_marks_the_run_failed_in_one_line(
    settings: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "endsong_0.json", [_enc(_record(m)) for m in range(10, 20)])

    def broken(self: job.BatchImporter, engine: Engine, batch: list, fmt: object) -> None:
        raise OperationalError(
            "INSERT INTO plays ...\n(long SQL)", {}, Exception("(2013, 'Lost connection')")
        )

    monkeypatch.setattr(job.BatchImporter, "flush", broken)
    with pytest.raises(job.ImportFailed) as err:
        job.import_history(settings, path, engine=engine, clock=ManualClock(CLOCK_NOW))
    assert (
        "\n" not in str(err.value)
        and "Lost connection" in str(err.value)
        and "run it again" in str(err.value)
    )
    assert _runs(engine) == ["failed"]


def test_ctrl_c_marks_the_run_interrupted_and_says_how_far_it_got(
    settings: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "endsong_0.json", [_enc(_record(m)) for m in range(10, 40)])
    monkeypatch.setattr(job, "BATCH", 10)
    real_flush = job.BatchImporter.flush
    calls = {"n": 0}

    def interrupted_on_the_second_batch(
        self: job.BatchImporter, engine: Engine, batch: list, fmt: Any
    ) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real_flush(self, engine, batch, fmt)

    monkeypatch.setattr(job.BatchImporter, "flush", interrupted_on_the_second_batch)
    with pytest.raises(job.ImportInterrupted) as err:
        job.import_history(settings, path, engine=engine, clock=ManualClock(CLOCK_NOW))
    assert str(err.value) == "import interrupted after 20 records; nothing half-written: run it again"
    assert _runs(engine) == ["interrupted"] and _plays(engine) == 10  # the first batch only
    monkeypatch.setattr(job.BatchImporter, "flush", real_flush)
    again = job.import_history(settings, path, engine=engine, clock=ManualClock(CLOCK_NOW))
    assert again.status == "ok" and again.imported == 30 and again.imported_new == 20
    assert _runs(engine) == ["interrupted", "ok"]


def test_a_run_left_running_by_a_killed_import_is_closed_by_the_next(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    path = _write(tmp_path / "endsong_0.json", [_enc(_record(10))])
    with engine.begin() as conn:  # what SIGKILL, or a warehouse lost before the run could finish, leaves
        runs.start_import_run(conn, "alice", source="old.zip", started_at=CLOCK_NOW - timedelta(days=1))
    job.import_history(settings, path, engine=engine, clock=ManualClock(CLOCK_NOW))
    assert _runs(engine) == ["interrupted", "ok"]


def test_a_damaged_zip_member_is_unreadable_and_the_others_import(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    archive = tmp_path / "my_spotify_data.zip"
    big = b"[" + b",\n".join(_enc(_record(m % 60, platform="x" * 2000)) for m in range(1500)) + b"]"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("endsong_0.json", big)  # over 2 MB: sniff reads only its start
        zf.writestr("endsong_1.json", b"[" + _enc(_record(10)) + b"]")
    data = bytearray(archive.read_bytes())
    at = data.index(b"x" * 2000, len(data) // 2)  # a byte near the member's end: only the CRC says so
    data[at] = ord("y")
    archive.write_bytes(bytes(data))
    report = job.import_history(settings, archive, engine=engine, clock=ManualClock(CLOCK_NOW))
    assert_adds_up(report)
    ((name, reason),) = report.unreadable_files
    assert (
        name == f"{archive}/endsong_0.json"
        and "Bad CRC-32" in reason
        and "nothing was imported" not in reason
    )
    assert report.imported == 1 and report.status == "partial" and _runs(engine) == ["partial"]
