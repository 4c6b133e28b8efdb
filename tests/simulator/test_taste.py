"""Structured tastes: sessions stay in a cluster, favourites rest and come back, new releases get played."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.simulator import Simulator, SimulatorConfig

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 7, 1, tzinfo=UTC)


def _sim(seed: int = 7) -> Simulator:
    sim = Simulator(SimulatorConfig(seed=seed, structured_taste=True), clock=ManualClock(END))
    sim.add_user("alice", "typical", since=SINCE)
    return sim


def _main_artist(sim: Simulator, track_id: str) -> str:
    return sim.catalog.tracks[track_id].artist_ids[0]


def test_it_is_deterministic() -> None:
    a, b = _sim(), _sim()
    assert a.truth("alice", SINCE, SINCE + timedelta(days=20)) == b.truth(
        "alice", SINCE, SINCE + timedelta(days=20)
    )


def test_sessions_stay_inside_one_cluster() -> None:
    sim = _sim()
    plays = [p for p in sim.truth("alice", SINCE, END) if p.kind == "music" and p.track_id]
    assert sim.model.taste is not None
    cluster_of = {a: n for n, c in enumerate(sim.model.taste.clusters("alice")) for a in c}
    same = pairs = 0
    for before, after in zip(plays, plays[1:], strict=False):
        if after.started_at - before.ended_at > timedelta(minutes=5):
            continue  # another session
        a, b = (
            cluster_of.get(_main_artist(sim, before.track_id)),
            cluster_of.get(_main_artist(sim, after.track_id)),
        )  # type: ignore[arg-type]
        if a is not None and b is not None:
            pairs += 1
            same += a == b
    assert pairs > 1000 and same / pairs > 0.9


def test_favourites_rest_and_come_back() -> None:
    sim = _sim()
    taste = sim.model.taste
    assert taste is not None
    plays = [p for p in sim.truth("alice", SINCE, END) if p.track_id]
    by_week: dict[str, Counter[int]] = {}
    for p in plays:
        by_week.setdefault(_main_artist(sim, p.track_id), Counter())[(p.ended_at - SINCE).days // 7]  # type: ignore[arg-type]
        by_week[_main_artist(sim, p.track_id)][(p.ended_at - SINCE).days // 7] += 1  # type: ignore[arg-type]
    weeks = (END - SINCE).days // 7
    comebacks = 0
    for weeks_played in by_week.values():
        active = [w for w in range(weeks) if weeks_played[w]]
        if active and any(b - a >= 3 for a, b in zip(active, active[1:], strict=False)):
            comebacks += 1  # silent for 3+ weeks, then played again
    assert comebacks >= 5
    # The truth agrees: an artist in a dormant stretch is hardly played.
    day = SINCE.date() + timedelta(days=60)
    artists = [a for c in taste.clusters("alice") for a in c]
    dormant = [a for a in artists if not taste.is_active("alice", a, day)]
    assert dormant
    on_day = Counter(_main_artist(sim, p.track_id) for p in plays if p.ended_at.date() == day)  # type: ignore[arg-type]
    assert sum(on_day[a] for a in dormant) <= 0.1 * max(1, sum(on_day.values()))


def test_new_releases_are_played_after_they_come_out_never_before() -> None:
    sim = _sim()
    assert sim.releases is not None
    new_albums = {r.album_id: r for rs in sim.releases.by_artist.values() for r in rs}
    played = [(p, new_albums[sim.catalog.tracks[p.track_id].album_id]) for p in sim.truth("alice", SINCE, END)
              if p.track_id and sim.catalog.tracks[p.track_id].album_id in new_albums]  # fmt: skip
    assert played, "favourite artists' new releases are played"
    assert all(p.ended_at >= r.released_at for p, r in played)
