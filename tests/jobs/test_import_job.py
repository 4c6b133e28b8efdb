"""The import job against a real warehouse (SQLite and MariaDB): counts, idempotency, matching."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from spotify_pipeline.exports.report import render_report_table
from spotify_pipeline.jobs.import_history import import_history
from spotify_pipeline.settings import Settings
from spotify_pipeline.warehouse import gaps, writes
from spotify_pipeline.warehouse import schema as s

from .import_checks import EXPORT_FIXTURES, assert_adds_up

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "spotify" / "privacy"


def _plays(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(s.plays).order_by(s.plays.c.played_at))]


def _api_play(engine: Engine, when: datetime, track_id: str, name: str, artist: str) -> None:
    with engine.begin() as conn:
        writes.ensure_user(conn, "alice", when)
        conn.execute(s.plays.insert().values(
            user_id="alice", played_at=when, track_id=track_id, track_name=name, artist_name=artist,
            source="api", loaded_at=when, raw_key="recently_played/x.json",
        ))  # fmt: skip


def test_every_fixture_format_in_one_import(settings: Settings, engine: Engine) -> None:
    report = import_history(settings, EXPORT_FIXTURES, engine=engine)
    assert_adds_up(report)
    counts = {k: report.bucket(k) for k in ("imported", "duplicates_of_api", "duplicates_in_export", "too_short",
                                             "podcasts_audiobooks", "incognito", "malformed")}  # fmt: skip
    assert report.records_read == 18
    # Account rows of the plays the extended file gave are copies (names + minute), not new plays.
    assert counts == {"imported": 6, "duplicates_of_api": 0, "duplicates_in_export": 3, "too_short": 2,
                      "podcasts_audiobooks": 2, "incognito": 1, "malformed": 4}  # fmt: skip
    assert sorted(n.rsplit("/", 1)[-1] for n, _ in report.unknown_files) == [
        "Playlist1.json",
        "Userdata.json",
    ]
    assert {(m.file.rsplit("/", 1)[-1], m.index) for m in report.malformed} == {
        ("endsong_0.json", 4), ("Streaming_History_Audio_2024_0.json", 3),
        ("StreamingHistory_music_0.json", 4), ("StreamingHistory_music_0.json", 5),
    }  # fmt: skip
    rows = _plays(engine)
    assert len(rows) == 6 and all(r["source"] == "export" for r in rows)
    dancing = next(r for r in rows if r["track_name"] == "Dancing Queen")
    assert dancing["played_at"] == datetime(2021, 9, 21, 19, 38, 59, tzinfo=UTC)
    assert (dancing["reason_end"], dancing["platform"], dancing["country"]) == (
        None,
        "iOS 14.7.1 (iPhone10,3)",
        "SE",
    )
    assert dancing["import_id"] == report.import_id
    with engine.connect() as conn:
        run = conn.execute(select(s.import_runs)).one()
    # Three records are damaged (a bad time, a bad ms_played, no track name), one is Spotify's empty
    # record (not damage): partial, and said so.
    assert run.status == "partial" and json.loads(run.report)["records_read"] == 18
    assert report.damaged == 3 and "3 malformed record(s)" in report.why_partial()
    assert report.file_counts() == {"files_read": 4, "files_partial": 0, "files_unreadable": 0,
                                    "files_unknown": 2, "files_ignored": 0}  # fmt: skip
    render_report_table(report)  # renders without error


def test_rerun_and_interrupted_run_add_nothing(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    # An "interrupted" import: only part of the files got in; the full run completes it without doubles.
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(REAL / "extended-streaming-history" / "Streaming_History_Audio_2026.json", partial)
    first = import_history(settings, partial, engine=engine)
    full = import_history(settings, REAL, engine=engine)
    again = import_history(settings, REAL, engine=engine)
    for report in (first, full, again):
        assert_adds_up(report)
    assert full.imported == again.imported and again.imported_new == 0
    assert full.imported_new == full.imported - first.imported
    rows = _plays(engine)
    assert len(rows) == full.imported == len({r["played_at"] for r in rows})


def test_api_plays_are_enriched_not_doubled(settings: Settings, engine: Engine) -> None:
    # The API saw "Drunk in Love" 1.2 s after the export's ts; its account-data copy is a copy, not a play.
    api_at = datetime(2024, 3, 1, 8, 15, 13, 200_000, tzinfo=UTC)
    _api_play(engine, api_at, "6jG2YzhxptolDzLHTGLt7S", "Drunk in Love", "Beyoncé")
    report = import_history(settings, EXPORT_FIXTURES, engine=engine)
    assert_adds_up(report)
    assert report.duplicates_of_api == 1 and report.api_plays_enriched == 1
    assert report.duplicates_in_export == 3 and report.imported == 5
    assert report.offset_summary()["median"] == -1
    row = next(r for r in _plays(engine) if r["played_at"] == api_at)
    assert (row["source"], row["ms_played"], row["reason_end"], row["platform"]) == (
        "api",
        323480,
        "trackdone",
        "android",
    )


def test_export_row_is_replaced_when_its_api_play_arrives_later(settings: Settings, engine: Engine) -> None:
    import_history(settings, EXPORT_FIXTURES / "Streaming_History_Audio_2024_0.json", engine=engine)
    _api_play(
        engine, datetime(2024, 3, 1, 8, 20, 41, tzinfo=UTC), "2uqoaH8yHnL6Vc6FDm2bYn", "Go Outside", "Cults"
    )
    report = import_history(settings, EXPORT_FIXTURES / "Streaming_History_Audio_2024_0.json", engine=engine)
    assert_adds_up(report)
    assert report.export_rows_replaced == 1 and report.duplicates_of_api == 1
    assert [r["source"] for r in _plays(engine) if r["track_name"] == "Go Outside"] == ["api"]


def test_account_rows_resolved_locally_by_search_or_kept_with_names(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    _api_play(engine, datetime(2024, 1, 1, tzinfo=UTC), "2uqoaH8yHnL6Vc6FDm2bYn", "Go Outside", "Cults")
    path = tmp_path / "StreamingHistory_music_0.json"
    path.write_text(json.dumps([
        {"endTime": "2024-03-01 08:20", "artistName": "Cults", "trackName": "Go Outside", "msPlayed": 191000},
        {"endTime": "2024-03-01 08:25", "artistName": "Known", "trackName": "Searchable", "msPlayed": 191000},
        {"endTime": "2024-03-01 08:30", "artistName": "Nobody", "trackName": "Unknown", "msPlayed": 191000},
    ]))  # fmt: skip
    asked: list[tuple[str, str]] = []

    def resolver(track: str, artist: str) -> str | None:
        asked.append((track, artist))
        return "S" * 22 if track == "Searchable" else None

    report = import_history(settings, path, engine=engine, resolver=resolver)
    assert_adds_up(report)
    assert (
        report.account_resolved_locally,
        report.account_resolved_by_search,
        report.account_unresolved,
    ) == (1, 1, 1)
    assert asked == [("Searchable", "Known"), ("Unknown", "Nobody")]
    ids = {r["track_name"]: r["track_id"] for r in _plays(engine) if r["source"] == "export"}
    assert ids == {"Go Outside": "2uqoaH8yHnL6Vc6FDm2bYn", "Searchable": "S" * 22, "Unknown": None}


def test_resolver_failure_keeps_names_and_the_import_succeeds(settings: Settings, engine: Engine) -> None:
    from spotify_pipeline.errors import RateLimitPaused

    def resolver(track: str, artist: str) -> str | None:
        raise RateLimitPaused(datetime(2030, 1, 1, tzinfo=UTC), "Spotify asked to wait")

    report = import_history(settings, REAL / "account-data", engine=engine, resolver=resolver)
    assert_adds_up(report)
    assert report.status == "ok" and report.resolver_stopped and report.account_resolved_by_search == 0


def test_gap_covered_by_the_import_is_closed_partial_one_stays(settings: Settings, engine: Engine) -> None:
    t = datetime(2026, 3, 1, tzinfo=UTC)
    with engine.begin() as conn:
        gaps.record_gap(conn, "alice", gap_from=t, gap_to=t + timedelta(hours=3), detected_at=t)
        gaps.record_gap(
            conn,
            "alice",
            gap_from=datetime(2026, 5, 5, tzinfo=UTC),
            gap_to=datetime(2026, 6, 1, tzinfo=UTC),
            detected_at=t,
        )
    report = import_history(settings, REAL / "extended-streaming-history", engine=engine)
    assert_adds_up(report)
    assert len(report.gaps_closed) == 1 and report.gaps_open == 1
    with engine.connect() as conn:
        closed = conn.execute(select(s.gaps).where(s.gaps.c.closed_at.is_not(None))).one()
    assert closed.closed_by == f"import:{report.import_id}"


def test_truncated_file_is_partial_and_closes_no_gap(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    text = (REAL / "extended-streaming-history" / "Streaming_History_Audio_2026.json").read_text()
    cut = tmp_path / "Streaming_History_Audio_2026.json"
    cut.write_text(text[: len(text) // 2])
    with engine.begin() as conn:
        t = datetime(2026, 3, 1, tzinfo=UTC)
        gaps.record_gap(conn, "alice", gap_from=t, gap_to=t + timedelta(hours=1), detected_at=t)
    report = import_history(settings, cut, engine=engine)
    assert_adds_up(report)
    assert report.status == "partial" and report.gaps_closed == [] and len(report.malformed) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.plays)).scalar() == report.imported


def test_progress_counts_records(settings: Settings, engine: Engine) -> None:
    seen: list[tuple[int, int | None, str | None]] = []
    report = import_history(
        settings, REAL, engine=engine, progress=lambda done, total, text: seen.append((done, total, text))
    )
    # Records, not bytes: the last call says how many records were read, and every file is named.
    assert seen[-1][0] == report.records_read == 471
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:], strict=False))
    assert seen[-1][2] == "importing StreamingHistory_music_0.json (4/4 files)"


@pytest.mark.parametrize("bad", ["nothing-here", "notes.txt"])
def test_unreadable_input_fails_before_any_run(
    settings: Settings, engine: Engine, tmp_path: Path, bad: str
) -> None:
    from spotify_pipeline.exports.reader import ExportReadError

    path = tmp_path / bad
    if bad.endswith(".txt"):
        path.write_text("hello")
    with pytest.raises(ExportReadError):
        import_history(settings, path, engine=engine)
