"""``make bench-scale``: five listeners for seven simulated days on a real Airflow 3, twice.

Once on the CeleryExecutor with two ``airflow celery worker`` processes (Redis broker), once on the
LocalExecutor; both with PostgreSQL as Airflow's metadata database and as the warehouse, moto S3,
the simulator with Spotify's default rate limit (180 calls per rolling 30 s per app) and the
``spotify_api`` pool of 2 slots. The cluster is bench/airflow_cluster.py, the one the distributed
test (tests/orchestration/test_distributed.py) runs.

The schedule is compressed: simulated time jumps from one poll to the next (the simulator's clock
is set to each poll's moment, the run is triggered with that logical date), and a day is one
recently-played run (``--every-hours 24``; 12 or 6 are closer to the real schedule and slower),
one followed-artists run and one data-pipeline run. Per listener, the Spotify calls made (recently-played and followed-artists pages) are set against the
minimum (one call per poll, ceil(followed / 50) pages per daily run); lookups (enrich) against
the distinct ids looked up; 429s as the simulator answered them.

    python -m bench.scale                      # 7 days, both executors (under 10 minutes on 2 quiet cores)
    python -m bench.scale --days 1 --executors celery
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .airflow_cluster import Cluster, ClusterConfig, ServiceMissing, check_services, simulate

USERS = (("u1", "light"), ("u2", "typical"), ("u3", "heavy"), ("u4", "binge"), ("u5", "typical"))
EXECUTORS = {"celery": "CeleryExecutor", "local": "LocalExecutor"}
PER_USER = ("GET /v1/me/player/recently-played", "GET /v1/me/following")
OUT = Path(__file__).parent / "results" / "scale.json"


def _stored_plays(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT user_id, COUNT(*) FROM plays GROUP BY user_id")).all()
    finally:
        engine.dispose()
    return {str(user): int(n) for user, n in rows}


def measure(executor: str, days: int, every_hours: int, work: Path) -> dict[str, Any]:
    """One executor's run of the simulated days; what the table shows, and more."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    config = ClusterConfig(
        users=USERS, start=midnight - timedelta(days=days + 1), executor=EXECUTORS[executor]
    )
    with Cluster(config, work / executor) as cluster:
        t0, load_before = time.monotonic(), os.getloadavg()[0]
        runs = simulate(cluster, days, every_hours)
        wall, load_after = time.monotonic() - t0, os.getloadavg()[0]
        stored = _stored_plays(cluster.warehouse_url)
        tap = cluster.tap
        per_user: dict[str, dict[str, Any]] = {}
        for user, profile in USERS:
            made = sum(tap.calls[user][e] for e in PER_USER)
            least = sum(runs["minimum"][user].get(e, 0) for e in PER_USER)
            per_user[user] = {
                "profile": profile,
                "made": made,
                "minimum": least,
                "ratio": round(made / least, 2) if least else None,
                "plays_shown": len(tap.shown[user]),
                "plays_stored": stored.get(user, 0),
            }
        lookups = sum(n for c in tap.calls.values() for e, n in c.items() if e.endswith("/{id}"))
        single = [c.path for c in cluster.sim.calls if c.method == "GET" and c.path.count("/") == 3]
        distinct = len({p for p in single if p.startswith(("/v1/artists/", "/v1/albums/"))})
        return {
            "executor": EXECUTORS[executor],
            "workers": config.workers if executor == "celery" else 0,
            "days": days,
            "every_hours": every_hours,
            "wall_seconds": round(wall, 1),
            "start_seconds": cluster.timings.get("start_seconds"),
            "runs": runs["states"],
            "per_user": per_user,
            "lookups": lookups,
            "distinct_ids": distinct,
            "throttled_429": tap.throttled,
            "load_average": [round(load_before, 1), round(load_after, 1)],
        }


def table(rows: list[dict[str, Any]]) -> str:
    days, every = rows[0]["days"], rows[0]["every_hours"]
    lines = [
        f"Airflow at scale: {len(USERS)} listeners x {days} simulated days, the schedule compressed: "
        f"{24 // every} recently-played run(s), one followed-artists run and one data-pipeline run per "
        f"simulated day (polls {every} h of simulated time apart; the simulator's clock jumps to each "
        "run's moment, so a day takes seconds); pool spotify_api = 2 slots; Spotify's rate limit "
        "180 calls / 30 s per app",
        "",
        "Load average (1 min) at the start and the end of each executor's days: "
        + ", ".join(f"{r['executor']} {r['load_average'][0]} -> {r['load_average'][1]}" for r in rows)
        + f" on {os.cpu_count()} cores.",
        "",
        "| executor | wall time | runs (all succeeded?) | calls / minimum per listener "
        + " ".join(u for u, _ in USERS)
        + " | lookups / distinct ids | 429s | plays shown = stored |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratios = " ".join(f"{row['per_user'][u]['ratio']:.2f}" for u, _ in USERS)
        runs = sum(row["runs"].values())
        ok = all(k.endswith(" success") for k in row["runs"])
        same = all(p["plays_shown"] == p["plays_stored"] for p in row["per_user"].values())
        workers = f" ({row['workers']} workers)" if row["workers"] else ""
        lines.append(
            f"| {row['executor']}{workers} | {row['wall_seconds']:.0f} s (+{row['start_seconds']:.0f} s start) "
            f"| {runs} ({'yes' if ok else 'NO'}) | {ratios} | {row['lookups']} / {row['distinct_ids']} "
            f"| {row['throttled_429']} | {'yes' if same else 'NO'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--every-hours", type=int, default=24, choices=(2, 3, 4, 6, 8, 12, 24))
    parser.add_argument("--executors", default="celery,local", help="comma-separated: celery, local")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    chosen = [e.strip() for e in args.executors.split(",") if e.strip()]
    if not chosen or any(e not in EXECUTORS for e in chosen):
        parser.error(f"--executors: choose from {', '.join(EXECUTORS)}")
    try:
        check_services()
    except ServiceMissing as exc:
        print(f"error: {exc} (`make services` starts PostgreSQL and Redis)", file=sys.stderr)
        return 2
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the simulator's access log
    rows = []
    with tempfile.TemporaryDirectory(prefix="sp-bench-scale-") as work:
        for executor in chosen:
            print(
                f"{EXECUTORS[executor]}: {len(USERS)} listeners x {args.days} days ...",
                file=sys.stderr,
                flush=True,
            )
            rows.append(measure(executor, args.days, args.every_hours, Path(work)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows}, indent=2) + "\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
