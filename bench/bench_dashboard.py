"""(7) The dashboard on a long history: every page and its API answer, on the warehouse (6) filled.

The app is served by uvicorn on a free 127.0.0.1 port in a thread, as `spotify-pipeline dashboard`
serves it; each URL is asked ``RUNS`` times over HTTP (a fresh ``Insights`` per request: the app
caches nothing), and the wall time of each answer is the server's time plus a loopback round trip.
"""

from __future__ import annotations

import statistics
import threading
import time
from datetime import datetime, timedelta
from typing import Any

RUNS = 3
PERIODS = ("month", "year", "all")


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
    from spotify_pipeline.insights.source import open_warehouse

    engine = open_warehouse(url)
    src = Source(engine, timezone, user, None, now=lambda: now + timedelta(0))
    sock = bind("127.0.0.1", 0)
    server = make_server(src, sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    out: dict[str, dict[str, float]] = {}
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
    name = max(pages, key=lambda k: pages[k]["p95_ms"])
    return name, pages[name]["p95_ms"]


__all__: list[Any] = ["measure", "slowest"]
