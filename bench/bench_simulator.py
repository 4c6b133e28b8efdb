"""The simulator: the server is ready in under 1 s; a 30-day, 5-user history generates in under 5 s.

Each measurement runs in its own spawned process, so nothing (the shared catalog, the listening
model's caches) is warm from an earlier one; Python's own imports happen before the clock starts.

* ready: ``Simulator(SimulatorConfig(seed=...))`` built (its catalog included), ``serve(sim)``
  entered on a free loopback port, and the first Web API answer received over that socket (a
  recently-played page for a listener added before serving) — what a test or a person waits for.
* history: a fresh simulator, 5 listeners (one of each profile and a second typical one) added,
  then ``sim.truth(user, start, start + days)`` for each: every play of every listener generated.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from .common import START, run_measured

READY_TARGET_S = 1.0
HISTORY_TARGET_S = 5.0
USERS = (("light", "light"), ("typical", "typical"), ("heavy", "heavy"), ("binge", "binge"),
         ("typical2", "typical"))  # fmt: skip


def ready_child(seed: int) -> dict[str, Any]:
    import logging

    import httpx

    from spotify_pipeline.clock import ManualClock
    from spotify_pipeline.simulator import Simulator, SimulatorConfig, serve

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access-log line in the tables
    t0 = time.perf_counter()
    sim = Simulator(SimulatorConfig(seed=seed), clock=ManualClock(START + timedelta(days=1)))
    sim.add_user("listener", profile="typical", since=START)
    token = sim.grant("listener")["access_token"]
    with serve(sim) as info:
        response = httpx.get(
            f"{info.api_url}/me/player/recently-played",
            params={"limit": 50},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        seconds = time.perf_counter() - t0
    response.raise_for_status()
    return {"seconds": seconds, "status": response.status_code, "items": len(response.json()["items"])}


def history_child(seed: int, days: int) -> dict[str, Any]:
    from spotify_pipeline.clock import ManualClock
    from spotify_pipeline.simulator import Simulator, SimulatorConfig

    end = START + timedelta(days=days)
    t0 = time.perf_counter()
    sim = Simulator(SimulatorConfig(seed=seed), clock=ManualClock(end))
    for user, profile in USERS:
        sim.add_user(user, profile=profile, since=START)
    plays = {user: len(sim.truth(user, START, end)) for user, _ in USERS}
    return {"seconds": time.perf_counter() - t0, "plays": plays}


def run(days: int, seed: int = 7) -> dict[str, Any]:
    # run_measured times the whole child (imports included); the children time themselves too.
    ready = run_measured(ready_child, seed).value
    history = run_measured(history_child, seed, days).value
    return {
        "ready_seconds": round(ready["seconds"], 3),
        "ready_target_s": READY_TARGET_S,
        "ready_ok": ready["seconds"] < READY_TARGET_S,
        "first_page_items": ready["items"],
        "history_days": days,
        "history_users": len(USERS),
        "history_seconds": round(history["seconds"], 2),
        "history_target_s": HISTORY_TARGET_S,
        "history_ok": history["seconds"] < HISTORY_TARGET_S,
        "history_plays": history["plays"],
    }


__all__ = ["run"]
