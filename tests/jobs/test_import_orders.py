"""Every true play present exactly once, whatever the order or split of the imports: the account
package and the extended package of one simulated listener, imported together, one after the other
in either order, twice, and after an interrupted run (SQLite and MariaDB). Private-session plays
(which account data does not flag) are never kept once an extended import has listed them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.exports.report import ImportReport
from spotify_pipeline.jobs import import_history as job
from spotify_pipeline.settings import Settings
from spotify_pipeline.simulator import Simulator, SimulatorConfig
from spotify_pipeline.simulator.model import TruePlay
from spotify_pipeline.warehouse import schema as s
from spotify_pipeline.warehouse import writes

from .import_checks import assert_adds_up

START = datetime(2026, 6, 1, tzinfo=UTC)
END = START + timedelta(days=3)
# The poller "missed" this window: its plays only the exports have.
MISSED = (START + timedelta(days=1, hours=8), START + timedelta(days=1, hours=22))

SEED = 5  # a listener with private sessions: account data, which has no flag, lists them as plays
ORDERS = {
    "together": ["both"],
    "account_then_extended": ["account", "extended"],
    "extended_then_account": ["extended", "account"],
    "each_twice": ["account", "extended", "account", "extended"],
}


def _world(engine: Engine, tmp_path: Path) -> tuple[list[TruePlay], dict[str, Path], int]:
    """(the plays every import including the extended package must end with, the export folders,
    API plays loaded)."""
    sim = Simulator(SimulatorConfig(seed=SEED), clock=ManualClock(END))
    sim.add_user("alice", profile="typical", since=START - timedelta(days=30))
    visible = sim.api_visible_truth("alice", START, END)
    api = [p for p in visible if not MISSED[0] <= p.ended_at < MISSED[1]]
    with engine.begin() as conn:
        writes.ensure_user(conn, "alice", END)
        conn.execute(s.plays.insert(), [_api_row(sim, p) for p in api])
    folders = {"extended": tmp_path / "x" / "extended", "account": tmp_path / "x" / "account"}
    for kind, folder in folders.items():
        sim.write_export("alice", folder, kind=kind, start=START, end=END)
    folders["both"] = tmp_path / "x"
    # Music, not in a private session, at least 30 s: what the API lists and what the import keeps.
    return visible, folders, len(api)


def truth_all(_: Path) -> list[TruePlay]:
    sim = Simulator(SimulatorConfig(seed=SEED), clock=ManualClock(END))
    sim.add_user("alice", profile="typical", since=START - timedelta(days=30))
    return sim.truth("alice", START, END)


def _private_music(plays: list[TruePlay]) -> list[TruePlay]:
    return [p for p in plays if p.kind == "music" and p.private_session and p.ms_played >= 30_000]


def _api_row(sim: Simulator, play: TruePlay) -> dict[str, object]:
    assert play.track_id is not None
    track = sim.catalog.tracks[play.track_id]
    return {
        "user_id": "alice", "played_at": play.ended_at, "track_id": play.track_id, "track_name": track.name,
        "artist_name": sim.catalog.artists[track.artist_ids[0]].name, "source": "api", "loaded_at": END,
        "raw_key": "recently_played/sim.json",
    }  # fmt: skip


def _rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(s.plays))]


def _assert_each_play_once(
    rows: list[dict[str, Any]],
    truth: list[TruePlay],
    *,
    exact: bool,
    by_minute: list[TruePlay] = (),  # type: ignore[assignment]
) -> None:
    """One row per play. ``truth`` with ``exact``: with its track id, within a second of its end (an
    extended record or the API described it); ``by_minute`` plays (and ``truth`` without ``exact``):
    a row in the minute of its end, or the API's exact row."""
    assert len(rows) == len(truth) + len(by_minute)
    left = list(rows)
    for play, precise in [(p, exact) for p in truth] + [(p, False) for p in by_minute]:
        if precise:
            near = [
                r
                for r in left
                if r["track_id"] == play.track_id
                and abs((r["played_at"] - play.ended_at).total_seconds()) < 1
            ]
        else:
            minute = play.ended_at.replace(second=0, microsecond=0)
            near = [
                r
                for r in left
                if r["played_at"] == play.ended_at
                or timedelta(0) <= r["played_at"] - minute < timedelta(milliseconds=10)
            ]
        assert near, play
        left.remove(near[0])


def _run(settings: Settings, engine: Engine, folder: Path) -> ImportReport:
    report = job.import_history(settings, folder, engine=engine)
    assert_adds_up(report)
    assert report.status == "ok"
    return report


@pytest.mark.parametrize("order", list(ORDERS))
def test_every_true_play_once_whatever_the_order(
    order: str, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    truth, folders, api_plays = _world(engine, tmp_path)
    private = _private_music(truth_all(tmp_path))
    assert private, "the scenario needs private-session plays"
    extended_done = False  # once it is, every play it describes has its exact time and id
    for step in ORDERS[order]:
        # Account data has no private-session flag: imported before any extended import, its rows of
        # private plays are kept, until an extended import removes them; imported after one, they are
        # recognised from what that import remembered (private_plays) and never kept.
        private_kept = step == "account" and not extended_done
        report = _run(settings, engine, folders[step])
        extended_done = extended_done or step != "account"
        rows = _rows(engine)
        # After every single import, not only the last.
        _assert_each_play_once(rows, truth, exact=extended_done, by_minute=private if private_kept else [])
        assert report.gaps_open == 0
    if ORDERS[order][-1] != "account":  # the extended package came last: every row is exact
        exports = [r for r in rows if r["source"] == "export"]
        assert len(exports) == len(truth) - api_plays
        assert all(r["started_at"] is not None and r["track_id"] is not None for r in exports)
        api = [r for r in rows if r["source"] == "api"]
        assert all(r["matched_import_id"] is not None and r["ms_played"] for r in api)


def _private_records(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(s.private_plays))]


def test_account_data_after_the_extended_package_keeps_no_private_play(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    """The extended package in one run, the account package in a later one: the account rows of
    private-session plays (no flag there) are counted incognito, as when both are imported together,
    and each true play stays once; importing either package, or both, again changes nothing."""
    truth, folders, api_plays = _world(engine, tmp_path)
    everything = truth_all(tmp_path)
    # Every private music play: the extended file flags it, the account file lists it unflagged
    # (short ones too: "private" is decided before "too short").
    private_music = [p for p in everything if p.kind == "music" and p.private_session]
    assert _private_music(everything), "the scenario needs private plays the API-visible rule would keep"

    extended = _run(settings, engine, folders["extended"])
    assert extended.incognito == len(private_music)
    stored = _private_records(engine)
    # What is remembered: the end and a digest of the names, one per private play, nothing to read.
    assert set(stored[0]) == {"user_id", "ended_at", "names_sha256", "import_id"}
    ends = sorted(p.ended_at.replace(microsecond=0) for p in private_music)  # ts: the end to the second
    assert sorted(r["ended_at"] for r in stored) == ends
    assert all(r["import_id"] == extended.import_id and len(r["names_sha256"]) == 64 for r in stored)
    after_extended = sorted(_rows(engine), key=repr)

    account = _run(settings, engine, folders["account"])
    assert account.incognito == len(private_music)
    assert account.imported_new == 0 and account.private_rows_removed == 0
    _assert_each_play_once(_rows(engine), truth, exact=True)
    # Account data adds only ms_played to API plays, which the extended records already gave.
    assert sorted(_rows(engine), key=repr) == after_extended

    # Each package again: the same counts, not a row or a fingerprint more.
    again = _run(settings, engine, folders["account"])
    assert {**again.to_dict(), "import_id": None} == {**account.to_dict(), "import_id": None}
    ext_again = _run(settings, engine, folders["extended"])
    assert ext_again.incognito == len(private_music) and ext_again.imported_new == 0
    assert ext_again.imported + ext_again.duplicates_of_api == len(truth)
    both = _run(settings, engine, folders["both"])
    assert both.incognito == extended.incognito + account.incognito and both.imported_new == 0
    assert _private_records(engine) == stored  # kept once, under the import that first listed it
    rows = _rows(engine)
    _assert_each_play_once(rows, truth, exact=True)
    assert len([r for r in rows if r["source"] == "api"]) == api_plays


def test_account_first_rows_are_upgraded_in_place(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    truth, folders, api_plays = _world(engine, tmp_path)
    first = _run(settings, engine, folders["account"])
    private = len(_private_music(truth_all(tmp_path)))
    assert first.imported == first.imported_new == len(truth) - api_plays + private
    minute_rows = [r for r in _rows(engine) if r["source"] == "export"]
    assert minute_rows and all(r["started_at"] is None for r in minute_rows)
    assert all(r["played_at"].second == 0 for r in minute_rows)  # type: ignore[attr-defined]

    second = _run(settings, engine, folders["extended"])
    # Nothing new: every export-only play was already there, now with its exact time and id.
    assert second.imported_new == 0 and second.export_rows_upgraded == first.imported - private
    assert second.private_rows_removed == private
    assert second.imported == first.imported - private and second.duplicates_of_api == api_plays
    upgraded = [r for r in _rows(engine) if r["source"] == "export"]
    assert all(r["import_id"] == second.import_id and r["platform"] for r in upgraded)


def test_account_row_of_a_play_the_api_loaded_later_is_not_kept_twice(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    """Account data imported first, then the poller's late load of one of those plays, then the
    extended package: the account row and the API row are the same play."""
    truth, folders, _ = _world(engine, tmp_path)
    _run(settings, engine, folders["account"])
    late = next(p for p in truth if MISSED[0] <= p.ended_at < MISSED[1])
    sim = Simulator(SimulatorConfig(seed=SEED), clock=ManualClock(END))
    sim.add_user("alice", profile="typical", since=START - timedelta(days=30))
    with engine.begin() as conn:
        conn.execute(s.plays.insert(), [_api_row(sim, late)])
    private = len(_private_music(truth_all(tmp_path)))
    assert len(_rows(engine)) == len(truth) + private + 1  # the double the extended import must remove
    report = _run(settings, engine, folders["extended"])
    assert report.export_rows_replaced == 1
    _assert_each_play_once(_rows(engine), truth, exact=True)


def test_an_interrupted_import_resumed_adds_each_play_once(
    settings: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    truth, folders, api_plays = _world(engine, tmp_path)
    monkeypatch.setattr(job, "BATCH", 10)
    real_flush: Callable[..., None] = job.BatchImporter.flush
    missed_batches = {"n": 0}

    def crash_in_the_missed_window(self: job.BatchImporter, engine: Engine, batch: list, fmt: object) -> None:
        # The second batch holding plays only the export has: the first one is committed.
        if any(MISSED[0] <= r.ended_at < MISSED[1] for r in batch):
            missed_batches["n"] += 1
            if missed_batches["n"] == 2:
                raise OSError("disk full (simulated)")
        real_flush(self, engine, batch, fmt)

    monkeypatch.setattr(job.BatchImporter, "flush", crash_in_the_missed_window)
    with pytest.raises(job.ImportFailed, match="OSError: disk full .simulated.*run it again"):
        job.import_history(settings, folders["both"], engine=engine)
    assert api_plays < len(_rows(engine)) < len(truth)
    monkeypatch.setattr(job.BatchImporter, "flush", real_flush)
    resumed = _run(settings, engine, folders["both"])
    assert 0 < resumed.imported_new < resumed.imported
    _assert_each_play_once(_rows(engine), truth, exact=True)
    with engine.connect() as conn:
        statuses = [r.status for r in conn.execute(select(s.import_runs).order_by(s.import_runs.c.id))]
    assert statuses == ["failed", "ok"]
