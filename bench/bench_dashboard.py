"""(7) The dashboard on a long history: every page and its API answer, on the warehouse (6) filled.

The app is served by uvicorn on a free 127.0.0.1 port in a thread, as `spotify-pipeline dashboard`
serves it; each URL is asked ``RUNS`` times over HTTP (a fresh ``Insights`` per request: the app
caches no statistics), and the wall time of each answer is the server's time plus a loopback round
trip. The recommendation lists are the one thing the app keeps: computed in the background when the
server starts (and again after a load), then served; the time that computation takes is measured
first, on its own (``RECOMMEND_KEY``), and the pages after it.
"""

from __future__ import annotations

import statistics
import threading
import time
from datetime import datetime, timedelta
from typing import Any

RUNS = 3
PERIODS = ("month", "year", "all")
#: The row that holds the background computation of the lists (seconds, once).
RECOMMEND_KEY = "recommendations: computed in the background at start"


def _pct(seconds: list[float]) -> dict[str, float]:
    seconds = sorted(seconds)
    p95 = seconds[min(len(seconds) - 1, round(0.95 * (len(seconds) - 1)))]
    return {"p50_ms": round(statistics.median(seconds) * 1000, 1), "p95_ms": round(p95 * 1000, 1)}


def measure(
    url: str, user: str, timezone: str, now: datetime, runs: int = RUNS
) -> dict[str, dict[str, float]]:
    import httpx

    from spotify_pipeline.dashboard.server import bind, make_server, url_of
    from spotify_pipeline.dashboard.views import PAGES, Source
    from spotify_pipeline.insights.recommend.cache import ListsCache
    from spotify_pipeline.insights.source import open_warehouse

    engine = open_warehouse(url)
    lists = ListsCache(engine)
    src = Source(engine, timezone, user, None, now=lambda: now + timedelta(0), recommendations=lists)
    out: dict[str, dict[str, float]] = {}
    t0 = time.perf_counter()
    lists.warm([user], now)  # as the server does when it starts; then wait for it
    lists.get(user, now, 10)
    out[RECOMMEND_KEY] = _pct([time.perf_counter() - t0])
    sock = bind("127.0.0.1", 0)
    server = make_server(src, sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=url_of(sock), timeout=600) as client:
            for period in PERIODS:
                for page in PAGES:
                    for path in (page.path, f"/api/{page.name}"):
                        seconds = []
                        for _ in range(runs):
                            t0 = time.perf_counter()
                            r = client.get(path, params={"period": period})
                            seconds.append(time.perf_counter() - t0)
                            assert r.status_code == 200, (path, r.text[:200])
                        out[f"{period}: {path}"] = _pct(seconds)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        engine.dispose()
    return out


def slowest(pages: dict[str, dict[str, float]]) -> tuple[str, float]:
    """The slowest page or API answer (the background computation is not one)."""
    name = max((k for k in pages if k != RECOMMEND_KEY), key=lambda k: pages[k]["p95_ms"])
    return name, pages[name]["p95_ms"]


__all__: list[Any] = ["measure", "slowest"]
