"""(5) Completeness: listener profile x poll interval over simulated days, then the export import.

Definitions (the simulator knows the truth):

* true plays: ``Simulator.reachable_truth`` — the plays the recently-played feed showed at some moment.
* lost play: a true play no poll captured. It became visible after one poll and was pushed out of
  the latest 50 before the next: that poll interval is a *true gap*.
* detected: a lost play whose end lies inside a recorded gap (``gap_from < played_at < gap_to``);
  gap recall = detected / lost plays; a true gap is detected when one of its lost plays is.
* false gap: a recorded gap containing no lost play.
* late loss: a lost play that arrived late (``available_at > ended_at``) behind newer plays and was
  pushed out between polls: no page ever showed it, so no poller can detect it (reported apart).
* after import: the simulator's extended export over the same period imported; a play is present
  exactly once when one row has its track and an end within 2 s (export rows carry ``ts``, the end
  truncated to the second). Measured against every API-visible play (music, >= 30 s, not private),
  the stronger denominator: the export also restores plays the feed never showed.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

from .common import START, log_to_file, remove, scratch, simulated_runtime

PROFILES = ("light", "typical", "heavy", "binge")
POLL_MINUTES = (20, 60, 120)


def simulate(profile: str, poll_minutes: int, days: int, late_share: float, seed: int = 7) -> dict[str, Any]:
    from spotify_pipeline.clock import ManualClock, to_ms
    from spotify_pipeline.jobs import download_recently_played, process
    from spotify_pipeline.jobs.import_history import import_history
    from spotify_pipeline.simulator import Simulator, SimulatorConfig
    from spotify_pipeline.warehouse import reads

    t_start = time.perf_counter()
    work = scratch("complete", memory=True)
    try:
        clock = ManualClock(START)
        sim = Simulator(SimulatorConfig(seed=seed, late_share=late_share), clock=clock)
        user = "listener"
        sim.add_user(user, profile=profile, since=START)
        rt = simulated_runtime(sim, user, work)
        end = START + timedelta(days=days)
        step = timedelta(minutes=poll_minutes)
        polls = [START + step * (i + 1) for i in range(int((end - START) / step))]
        for i, t in enumerate(polls):
            clock.set(max(t, clock.now()))
            download_recently_played(rt.settings, runtime=rt)
            if (i + 1) % (24 * 60 // poll_minutes) == 0:
                process(rt.settings, runtime=rt)  # daily, as the DAG and cron setups do
        process(rt.settings, runtime=rt)
        truth = sim.reachable_truth(user, START, end)
        with rt.engine.connect() as conn:
            stored = {(to_ms(at), track) for at, track in reads.play_keys(conn, user)}
            gaps = [(to_ms(g["gap_from"]), to_ms(g["gap_to"])) for g in reads.gaps(conn, user)]
        lost = [p for p in truth if (to_ms(p.ended_at), p.track_id) not in stored]
        poll_ms = [to_ms(t) for t in polls]

        def interval(p: Any) -> int:  # the poll interval in which the play became visible
            return bisect.bisect_left(poll_ms, to_ms(max(p.ended_at, p.available_at)))

        def in_gap(p: Any) -> bool:
            at = to_ms(p.ended_at)
            return any(lo < at < hi for lo, hi in gaps)

        late = [p for p in lost if p.available_at > p.ended_at and not in_gap(p)]
        lost_detectable = [p for p in lost if p not in late]
        detected = [p for p in lost_detectable if in_gap(p)]
        true_gaps = {interval(p) for p in lost_detectable}
        detected_gaps = {interval(p) for p in detected}
        false_gaps = sum(1 for lo, hi in gaps if not any(lo < to_ms(p.ended_at) < hi for p in lost))
        max_between = _max_plays_between_polls(truth, poll_ms)

        export = work / "export"
        sim.write_export(user, export, kind="extended", start=START, end=end)
        report = import_history(rt.settings, export, engine=rt.engine)
        visible = sim.api_visible_truth(user, START, end)
        with rt.engine.connect() as conn:
            rows = reads.play_keys(conn, user)
        once, extra = _exactly_once(visible, rows)
        return {
            "profile": profile,
            "poll_minutes": poll_minutes,
            "late_share": late_share,
            "days": days,
            "polls": len(polls),
            "true_plays": len(truth),
            "captured": len(truth) - len(lost),
            "captured_ratio": _ratio(len(truth) - len(lost), len(truth)),
            "max_plays_between_polls": max_between,
            "lost_plays": len(lost_detectable),
            "true_gaps": len(true_gaps),
            "gaps_recorded": len(gaps),
            "gaps_detected": len(detected_gaps),
            "gap_recall": _ratio(len(detected), len(lost_detectable)),
            "false_gaps": false_gaps,
            "late_losses": len(late),
            "import_status": report.status,
            "visible_plays": len(visible),
            "exactly_once": once,
            "exactly_once_ratio": _ratio(once, len(visible)),
            "rows_not_a_true_play": extra,
            "seconds": round(time.perf_counter() - t_start, 1),
        }
    finally:
        remove(work)


def _ratio(a: int, b: int) -> float | None:
    return None if b == 0 else round(a / b, 4)


def _max_plays_between_polls(truth: list[Any], poll_ms: list[int]) -> int:
    from spotify_pipeline.clock import to_ms

    counts: dict[int, int] = defaultdict(int)
    for p in truth:
        counts[bisect.bisect_left(poll_ms, to_ms(p.ended_at))] += 1
    return max(counts.values(), default=0)


def _exactly_once(visible: list[Any], rows: list[tuple[Any, str | None]]) -> tuple[int, int]:
    """(true plays with exactly one row, rows matching no true play). Window: [end - 2 s, end]."""
    from spotify_pipeline.clock import to_ms

    by_track: dict[str | None, list[int]] = defaultdict(list)
    for at, track in rows:
        by_track[track].append(to_ms(at))
    for times in by_track.values():
        times.sort()
    used: set[tuple[str | None, int]] = set()
    once = 0
    for p in visible:
        times = by_track.get(p.track_id, [])
        end = to_ms(p.ended_at)
        lo, hi = bisect.bisect_left(times, end - 2000), bisect.bisect_right(times, end)
        if hi - lo == 1:
            once += 1
        used.update((p.track_id, t) for t in times[lo:hi])
    extra = sum(1 for at, track in rows if (track, to_ms(at)) not in used)
    return once, extra


def _job(args: tuple[str, int, int, float]) -> dict[str, Any]:
    return simulate(*args)


def jobs(
    days: int,
    profiles: tuple[str, ...] = PROFILES,
    polls: tuple[int, ...] = POLL_MINUTES,
    late_polls: tuple[int, ...] = (60,),
) -> list[tuple[str, int, int, float]]:
    """Every profile x poll interval with late_share=0, plus every profile at ``late_polls`` with
    late_share=0.05: ``simulate`` arguments, longest first (short intervals mean many polls)."""
    out = [(p, m, days, 0.0) for p in profiles for m in polls]
    out += [(p, m, days, 0.05) for p in profiles for m in late_polls]
    out.sort(key=lambda j: j[1])
    return out


def collect(days: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    rows = sorted(rows, key=lambda r: (r["late_share"], PROFILES.index(r["profile"]), r["poll_minutes"]))
    return {"days": days, "rows": rows}


def run(days: int, workers: int = 2) -> dict[str, Any]:
    """Every job of ``jobs(days)`` in ``workers`` spawned processes."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(workers, initializer=log_to_file) as pool:
        rows = pool.map(_job, jobs(days), chunksize=1)
    return collect(days, rows)


__all__ = ["collect", "jobs", "run", "simulate"]
