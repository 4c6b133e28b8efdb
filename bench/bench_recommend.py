"""Backtest of the recommendation lists on simulated histories with structure (clusters of artists,
old favourites that come back, new releases), and of the release check against the simulator's truth.

Lists: at several as-of dates, each list's top 25 is compared with what the listener actually played
in the next 28 days (hit rate @25 = hits / 25), next to baselines computed in the same run from the
same history: most played ever, most played in the last 28 days, random from history. Rediscover
counts only tracks not played in the 28 days before the as-of date, and its baselines are drawn from
that same pool (so "most played recently" there means the last 90 days, the newest that pool holds).
Similar excludes the last week's tracks (its seeds); it is shown against all plays and against plays
of tracks not played in the last week.

The history is the simulator's truth of API-visible plays (a complete capture), read through the
same identity code as the warehouse rows (``insights/recommend/history.py``); the "names only" rows
drop every track id, as account-data exports do.

Releases: the real job (``check_releases``) runs daily against the simulator for eight weeks, with
the daily followed-artists fetch and ``process``; every release the simulator made for a followed
artist in that time must be in ``releases`` within 7 days, and the calls stay within the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .common import remove, scratch, simulated_runtime

HISTORY_START = datetime(2026, 1, 1, tzinfo=UTC)
AS_OF = (
    datetime(2026, 6, 1, tzinfo=UTC),
    datetime(2026, 8, 3, tzinfo=UTC),
    datetime(2026, 10, 5, tzinfo=UTC),
)
HORIZON = timedelta(days=28)
K = 25


@dataclass(frozen=True)
class _Row:
    played_at: datetime
    track_id: str | None
    track_name: str | None
    artist_name: str | None
    ms_played: int
    skipped: bool
    reason_end: str


def _rows(sim: Any, user: str, start: datetime, end: datetime, names_only: bool) -> list[_Row]:
    cat = sim.catalog
    out = []
    for p in sim.api_visible_truth(user, start, end):
        track = cat.tracks[p.track_id]
        out.append(
            _Row(
                p.ended_at,
                None if names_only else p.track_id,
                track.name,
                cat.artists[track.artist_ids[0]].name,
                p.ms_played,
                p.skipped,
                p.reason_end,
            )
        )
    return out


def _hit_rate(picks: list[str], truth: set[str]) -> float:
    return sum(1 for p in picks[:K] if p in truth) / K


def backtest(
    profile: str, seed: int, names_only: bool, as_of_dates: tuple[datetime, ...] = AS_OF
) -> dict[str, Any]:
    from spotify_pipeline.clock import ManualClock
    from spotify_pipeline.insights.recommend import model
    from spotify_pipeline.insights.recommend.history import build_history
    from spotify_pipeline.simulator import Simulator, SimulatorConfig

    last = max(as_of_dates) + HORIZON
    sim = Simulator(SimulatorConfig(seed=seed, structured_taste=True), clock=ManualClock(last))
    sim.add_user("listener", profile=profile, since=HISTORY_START)
    rows = _rows(sim, "listener", HISTORY_START, last, names_only)
    per_date = []
    for as_of in as_of_dates:
        history = build_history([r for r in rows if r.played_at < as_of])
        everything = build_history(rows)
        truth = everything.played_between(as_of, as_of + HORIZON)
        rested_pool = {i for i in history.items} - history.played_between(as_of - model.REST, as_of)
        fresh_pool = {i for i in history.items} - history.played_between(as_of - model.RECENT, as_of)
        redis = [p.item for p in model.rediscover(history, as_of, K)]
        sim_picks = [p.item for p in model.similar(history, as_of, K)]
        rnd = 1000 + as_of.toordinal()
        per_date.append(
            {
                "as_of": as_of.date().isoformat(),
                "truth_tracks": len(truth),
                "rediscover": {
                    "list": _hit_rate(redis, truth),
                    "most_played_ever": _hit_rate(model.most_played(history, K, pool=rested_pool), truth),
                    "most_played_recently": _hit_rate(
                        model.most_played(history, K, since=as_of - timedelta(days=90), pool=rested_pool),
                        truth,
                    ),
                    "random": _hit_rate(model.random_from_history(history, K, rnd, pool=rested_pool), truth),
                },
                "similar": {
                    "list": _hit_rate(sim_picks, truth),
                    "most_played_ever": _hit_rate(model.most_played(history, K), truth),
                    "most_played_recently": _hit_rate(
                        model.most_played(history, K, since=as_of - HORIZON), truth
                    ),
                    "random": _hit_rate(model.random_from_history(history, K, rnd), truth),
                },
                "similar_new_to_last_week": {
                    "list": _hit_rate(sim_picks, truth & fresh_pool),
                    "most_played_ever": _hit_rate(model.most_played(history, K, pool=fresh_pool), truth),
                    "most_played_recently": _hit_rate(
                        model.most_played(history, K, since=as_of - HORIZON, pool=fresh_pool), truth
                    ),
                    "random": _hit_rate(model.random_from_history(history, K, rnd, pool=fresh_pool), truth),
                },
            }
        )
    return {
        "profile": profile,
        "seed": seed,
        "names_only": names_only,
        "dates": per_date,
        "mean": _means(per_date),
    }


def _means(per_date: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for kind in ("rediscover", "similar", "similar_new_to_last_week"):
        out[kind] = {
            name: round(sum(d[kind][name] for d in per_date) / len(per_date), 3) for name in per_date[0][kind]
        }
    return out


def releases(profile: str, seed: int, weeks: int) -> dict[str, Any]:
    """Run the release check daily for ``weeks`` and compare with the simulator's releases."""
    from spotify_pipeline.clock import ManualClock
    from spotify_pipeline.jobs import download_followed_artists, process
    from spotify_pipeline.jobs.releases import MAX_PAGES, check_releases
    from spotify_pipeline.simulator import Simulator, SimulatorConfig
    from spotify_pipeline.warehouse import schema as s

    start = datetime(2026, 9, 7, 6, tzinfo=UTC)
    sim = Simulator(SimulatorConfig(seed=seed, structured_taste=True), clock=ManualClock(start))
    sim.add_user("listener", profile=profile, since=start - timedelta(days=60))
    base = scratch("releases", memory=True)
    try:
        rt = simulated_runtime(sim, "listener", base)
        per_day = rt.settings.release_artists_per_day
        found_at: dict[str, datetime] = {}
        calls_per_day = []
        for _ in range(weeks * 7):
            download_followed_artists(rt.settings, runtime=rt)
            process(rt.settings, runtime=rt)
            before = sum(rt.client.calls.values())
            check_releases(rt.settings, runtime=rt)
            calls_per_day.append(sum(rt.client.calls.values()) - before)
            with rt.engine.connect() as conn:
                for album_id in conn.execute(
                    s.releases.select().with_only_columns(s.releases.c.album_id)
                ).scalars():
                    found_at.setdefault(album_id, sim.clock.now())
            sim.clock.advance(86_400)
        end = sim.clock.now()
        assert sim.releases is not None
        made, late, missed, late_days = 0, 0, [], []
        for day in range(weeks * 7 - 7):  # releases with a full week to be found in
            when = (start + timedelta(days=day)).date()
            followed = sim.model.followed_artists("listener", start + timedelta(days=day, hours=12))
            for artist in followed:
                for r in sim.releases.releases(artist, when, when + timedelta(days=1)):
                    made += 1
                    seen = found_at.get(r.album_id)
                    if seen is None:
                        missed.append(r.album_id)
                    elif seen - r.released_at > timedelta(days=7):
                        late += 1
                        late_days.append(round((seen - r.released_at) / timedelta(days=1), 1))
        return {
            "profile": profile,
            "weeks": weeks,
            "followed_at_end": len(sim.model.followed_artists("listener", end)),
            "releases_made_for_followed": made,
            "found_within_a_week": made - late - len(missed),
            "found_late": late,
            "late_by_days": sorted(late_days),
            "missed": len(missed),
            "artists_per_day_budget": per_day,
            "max_calls_per_day": max(calls_per_day),
            "call_budget_per_day": per_day * MAX_PAGES,
            "mean_calls_per_day": round(sum(calls_per_day) / len(calls_per_day), 1),
        }
    finally:
        remove(base)


def run(quick: bool) -> dict[str, Any]:
    profiles = ("typical",) if quick else ("light", "typical", "heavy")
    dates = AS_OF[:1] if quick else AS_OF
    lists = [backtest(p, 7, False, dates) for p in profiles]
    lists.append(backtest("typical", 7, True, dates))
    if not quick:
        lists.append(backtest("typical", 11, False, dates))
    rel = [releases("typical", 7, 1 if quick else 8)]
    if not quick:
        rel.append(releases("heavy", 7, 8))
    return {"k": K, "horizon_days": HORIZON.days, "lists": lists, "releases": rel}


def today() -> date:
    return datetime.now(UTC).date()
