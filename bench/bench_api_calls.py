"""(4) API calls of a multi-user simulation against the minimum possible.

Five listeners (one per profile, the fifth typical) share one app, one warehouse and one raw zone
(``user_partition``), polled every ``poll_minutes`` with a daily followed-artists fetch, process and
enrich, on one ManualClock. The minimum is computed from the simulator, not from our own logs:

* recently-played: one call per poll;
* followed artists: per daily run, ceil(followed / 50) pages (at least one), followed artists from
  ``ListeningModel.followed_artists`` at that moment;
* lookups: development mode, one call per artist or album id asked for (the ids come from the
  simulator's call log); any id asked twice is a *repeated lookup*. Extended mode: one batch call
  per 50 artists / 20 albums missing in each enrich run.

Token refreshes and the one-off capability probes (the batch endpoints answer 403 in development
mode; the client remembers the denial) are reported separately from the ratio.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from datetime import timedelta
from typing import Any

from .common import START, log_to_file, remove, scratch, simulated_runtime

USERS = (("u1", "light"), ("u2", "typical"), ("u3", "heavy"), ("u4", "binge"), ("u5", "typical"))
_SINGLE = re.compile(r"^/v1/(artists|albums)/[0-9A-Za-z]+$")
BATCH = {"artists": 50, "albums": 20}


def simulate(mode: str, days: int, poll_minutes: int = 120, seed: int = 7) -> dict[str, Any]:
    from spotify_pipeline.clock import ManualClock
    from spotify_pipeline.jobs import download_followed_artists, download_recently_played, enrich, process
    from spotify_pipeline.simulator import Simulator, SimulatorConfig

    t_start = time.perf_counter()
    work = scratch("calls", memory=True)
    try:
        clock = ManualClock(START)
        sim = Simulator(SimulatorConfig(seed=seed, mode=mode, late_share=0.0), clock=clock)
        for user, profile in USERS:
            sim.add_user(user, profile=profile, since=START)
        url = f"sqlite:///{work / 'warehouse.db'}"
        runtimes = [
            simulated_runtime(sim, u, work, warehouse_url=url, partition=True, raw_zone=work / "raw")
            for u, _ in USERS
        ]
        step = timedelta(minutes=poll_minutes)
        polls = int(timedelta(days=days) / step)
        per_day = 24 * 60 // poll_minutes
        minimum = Counter[str]()
        batch_minimum = 0
        for i in range(polls):
            clock.set(max(START + step * (i + 1), clock.now()))
            for rt in runtimes:
                download_recently_played(rt.settings, runtime=rt)
                minimum["GET /v1/me/player/recently-played"] += 1
            if (i + 1) % per_day:
                continue
            for rt in runtimes:
                followed = len(sim.model.followed_artists(rt.settings.user, clock.now()))
                download_followed_artists(rt.settings, runtime=rt)
                minimum["GET /v1/me/following"] += max(1, math.ceil(followed / 50))
                process(rt.settings, runtime=rt)
                report = enrich(rt.settings, runtime=rt, force=True)
                for kind in ("artists", "albums"):
                    batch_minimum += math.ceil(report.counts.get(f"{kind}_missing", 0) / BATCH[kind])
        by_endpoint = Counter[str]()
        for rt in runtimes:
            by_endpoint.update(rt.client.calls)
        served = sim.calls
        single = Counter(c.path for c in served if c.method == "GET" and _SINGLE.match(c.path))
        repeated = sum(n - 1 for n in single.values())
        probes = sum(1 for c in served if c.status == 403 and c.path in ("/v1/artists", "/v1/albums"))
        token = sum(n for e, n in by_endpoint.items() if e.endswith("/api/token"))
        lookups_made = (
            sum(n for e, n in by_endpoint.items() if e.startswith(("GET /v1/artists", "GET /v1/albums")))
            - probes
        )
        if mode == "development":
            minimum["lookups"] = len(single)
        else:
            minimum["lookups"] = batch_minimum
        made = {
            "GET /v1/me/player/recently-played": by_endpoint["GET /v1/me/player/recently-played"],
            "GET /v1/me/following": by_endpoint["GET /v1/me/following"],
            "lookups": lookups_made,
        }
        other = {
            e: n
            for e, n in by_endpoint.items()
            if e not in made
            and not e.endswith("/api/token")
            and not e.startswith(("GET /v1/artists", "GET /v1/albums"))
        }
        total_made, total_min = sum(made.values()), sum(minimum.values())
        return {
            "mode": mode,
            "days": days,
            "users": len(USERS),
            "poll_minutes": poll_minutes,
            "made": made,
            "minimum": dict(minimum),
            "ratio": round(total_made / total_min, 4) if total_min else None,
            "repeated_lookups": repeated,
            "distinct_ids_looked_up": len(single),
            "token_refreshes": token,
            "capability_probes_403": probes,
            "other_calls": other,
            "calls_by_endpoint": dict(sorted(by_endpoint.items())),
            "seconds": round(time.perf_counter() - t_start, 1),
        }
    finally:
        remove(work)


def _job(args: tuple[str, int, int]) -> dict[str, Any]:
    return simulate(*args)


def jobs(days: int, poll_minutes: int = 120) -> list[tuple[str, int, int]]:
    """``simulate`` arguments: development and extended mode."""
    return [("development", days, poll_minutes), ("extended", days, poll_minutes)]


def collect(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"rows": rows}


def run(days: int, poll_minutes: int = 120, workers: int = 2) -> dict[str, Any]:
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(workers, initializer=log_to_file) as pool:
        rows = pool.map(_job, jobs(days, poll_minutes), chunksize=1)
    return collect(rows)
