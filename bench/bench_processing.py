"""(3) Processing: a year of landed recently-played objects of a heavy listener, loaded and enriched.

The objects are written directly, not polled through ``download_recently_played`` (a year of polls would take
minutes): for every hour in which the listener finished a play, the simulator's Web API is asked for
the latest 50 at the end of that hour (over its in-process transport, so the bodies are exactly what
a poll would land) and the answer is written as that hour's raw object, one fetch per object.
Then, in one measured process: ``process`` (timed), ``enrich`` in development mode (timed, one
lookup per id), and a second ``process`` after clearing the manifest, so every object is really
re-read and every play is a duplicate (timed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from .common import START, log_to_file, remove, run_measured, scratch, simulated_runtime

USER = "heavy"


def _simulator(days: int) -> Any:
    from spotify_pipeline.clock import ManualClock
    from spotify_pipeline.simulator import Simulator, SimulatorConfig

    sim = Simulator(
        SimulatorConfig(seed=7, mode="development", late_share=0.0),
        clock=ManualClock(START + timedelta(days=days)),
    )
    sim.add_user(USER, profile="heavy", since=START)
    return sim


def land(raw: Path, days: int, part: int = 0, parts: int = 1) -> int:
    """Write the hourly raw objects of ``days`` of the heavy listener (every ``parts``-th hour from
    the ``part``-th: a page depends only on the simulated time it is asked at, so parts landed by
    separate simulators with the same seed are the same objects); returns how many."""
    from spotify_pipeline.landing.decode import dump
    from spotify_pipeline.landing.envelope import make_fetch, new_envelope
    from spotify_pipeline.landing.keys import raw_key

    sim = _simulator(days)
    hours = sorted(
        {
            p.ended_at.replace(minute=0, second=0, microsecond=0)
            for p in sim.api_visible_truth(USER, START, START + timedelta(days=days))
        }
    )
    client = httpx.Client(transport=sim.transport(), base_url="https://api.spotify.com")
    for hour in hours[part::parts]:
        end = hour + timedelta(hours=1)
        sim.clock.set(end)
        token = sim.grant(USER)["access_token"]
        response = client.get(
            "/v1/me/player/recently-played",
            params={"limit": 50},
            headers={"Authorization": f"Bearer {token}"},
        )
        response.raise_for_status()
        fetch = make_fetch(end, "GET /v1/me/player/recently-played?limit=50", 200, response.json())
        path = raw / raw_key("recently_played", hour)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(dump(new_envelope("recently_played", USER, [fetch])))
    return len(hours[part::parts])


def _land_part(args: tuple[Path, int, int, int]) -> int:
    return land(*args)


def land_parallel(raw: Path, days: int, workers: int = 2) -> tuple[int, float]:
    """Land in ``workers`` spawned processes (landing is not what is measured); (objects, seconds)."""
    import multiprocessing

    t0 = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers, initializer=log_to_file) as pool:
        counts = pool.map(_land_part, [(raw, days, i, workers) for i in range(workers)], chunksize=1)
    return sum(counts), time.perf_counter() - t0


def load_and_enrich(work: Path, days: int) -> dict[str, Any]:
    """In a child process: process, enrich, clear the manifest, process again."""
    from sqlalchemy import delete, func, select

    from spotify_pipeline.jobs import enrich, process
    from spotify_pipeline.warehouse import schema

    sim = _simulator(days)
    rt = simulated_runtime(sim, USER, work, raw_zone=work / "raw")
    rt.engine  # migrate before timing  # noqa: B018
    t0 = time.perf_counter()
    first = process(rt.settings, runtime=rt)
    t_load = time.perf_counter() - t0
    # A run with nothing new, as the next cron run sees it: a fresh runtime (no etag cached in memory).
    t0 = time.perf_counter()
    idle = process(rt.settings, runtime=simulated_runtime(sim, USER, work, raw_zone=work / "raw"))
    t_idle = time.perf_counter() - t0
    t0 = time.perf_counter()
    enriched = enrich(rt.settings, runtime=rt, force=True)
    t_enrich = time.perf_counter() - t0
    with rt.engine.begin() as conn:
        plays = conn.execute(select(func.count()).select_from(schema.plays)).scalar_one()
        conn.execute(delete(schema.landed_files).where(schema.landed_files.c.kind == "recently_played"))
    t0 = time.perf_counter()
    second = process(rt.settings, runtime=rt)
    t_reload = time.perf_counter() - t0
    return {
        "objects": first.counts.get("objects_loaded", 0),
        "plays_inserted": first.counts.get("plays_inserted", 0),
        "plays_in_warehouse": plays,
        "load_seconds": t_load,
        "idle_seconds": t_idle,
        "idle_objects_loaded": idle.counts.get("objects_loaded", 0),
        "enrich_seconds": t_enrich,
        "enrich_calls": enriched.counts.get("api_calls", 0),
        "artists_fetched": enriched.counts.get("artists_fetched", 0),
        "albums_fetched": enriched.counts.get("albums_fetched", 0),
        "reload_objects": second.counts.get("objects_loaded", 0),
        "reload_plays_inserted": second.counts.get("plays_inserted", 0),
        "reload_seconds": t_reload,
    }


#: The code ``process`` is compared with: the release before batches, compression and the etag cache
#: (whose speed, 0.27 of the baseline, the target of 3x is set against).
BEFORE_COMMIT = "a23c205"
TARGET_BASELINE_RATIO = 0.5
TARGET_SPEEDUP = 3.0


def load_only(work: Path, days: int) -> dict[str, Any]:
    """``process`` alone on a fresh warehouse, timed (the code that runs is whatever is imported)."""
    from spotify_pipeline.jobs import process

    sim = _simulator(days)
    rt = simulated_runtime(sim, USER, work, raw_zone=work.parent / "raw")
    rt.engine  # migrate before timing  # noqa: B018
    t0 = time.perf_counter()
    report = process(rt.settings, runtime=rt)
    return {"seconds": time.perf_counter() - t0, "objects": report.counts.get("objects_loaded", 0)}


def baseline(work: Path) -> dict[str, Any]:
    """The same objects read and decoded with the same decoder (msgspec), their plays written with
    a bare executemany ``INSERT OR IGNORE``, one transaction per object as ``process`` keeps: no
    envelope checks, no catalog, no manifest, no memo."""
    import sqlite3

    import msgspec

    from spotify_pipeline.warehouse.engine import make_engine, upgrade

    db = work / "baseline.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    engine.dispose()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")  # as the warehouse engine sets it (WAL)
    conn.execute("INSERT INTO users (id, created_at) VALUES (?, ?)", (USER, "2026-01-01 00:00:00"))
    sql = (
        "INSERT OR IGNORE INTO plays (user_id, played_at, track_id, track_name, source, raw_key, loaded_at) "
        "VALUES (?, ?, ?, ?, 'api', ?, ?)"
    )
    decode = msgspec.json.Decoder().decode
    paths = sorted((work.parent / "raw" / "recently_played").glob("*.json"))
    t0 = time.perf_counter()
    plays = 0
    for path in paths:
        envelope = decode(path.read_bytes())
        key = f"recently_played/{path.name}"
        rows = [
            (USER, item["played_at"].replace("T", " ").rstrip("Z"), item["track"]["id"], item["track"]["name"],
             key, "2026-01-01 00:00:00")
            for fetch in envelope["fetches"]
            for item in fetch["response"]["items"]
        ]  # fmt: skip
        conn.execute("BEGIN")
        plays += conn.executemany(sql, rows).rowcount
        conn.execute("COMMIT")
    seconds = time.perf_counter() - t0
    conn.close()
    return {"seconds": seconds, "objects": len(paths), "plays": plays}


def before(work: Path, days: int) -> dict[str, Any]:
    """``load_only`` with the code of ``BEFORE_COMMIT`` (extracted with ``git archive``, first on
    PYTHONPATH of a fresh interpreter), on the same objects; an error instead when git cannot."""
    repo = Path(__file__).resolve().parent.parent
    old = work / "before-src"
    old.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(repo), "archive", BEFORE_COMMIT, "src"], capture_output=True)
    if archive.returncode != 0:
        return {
            "error": f"git archive {BEFORE_COMMIT} failed: {archive.stderr.decode(errors='replace')[:200]}"
        }
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    script = (
        "import json, sys; from pathlib import Path; from bench.common import log_to_file; log_to_file(); "
        "from bench.bench_processing import load_only; "
        "print(json.dumps(load_only(Path(sys.argv[1]), int(sys.argv[2]))))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(old / "src"), str(repo)])}
    done = subprocess.run(
        [sys.executable, "-c", script, str(work / "before"), str(days)],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        return {"error": f"the code of {BEFORE_COMMIT} failed: {done.stderr.strip()[-300:]}"}
    return {"commit": BEFORE_COMMIT, **json.loads(done.stdout.strip().splitlines()[-1])}


def run(days: int) -> dict[str, Any]:
    work = scratch("process")
    try:
        objects_landed, land_seconds = land_parallel(work / "raw", days)
        (work / "before").mkdir()
        (work / "base").mkdir()
        old = before(work, days)
        base = run_measured(baseline, work / "base").value
        m = run_measured(load_and_enrich, work, days)
        v = m.value
        from . import bench_rawzone

        rawzone = {
            "bytes": run_measured(bench_rawzone.poll_bytes, max(1, min(days, 7))).value,
            "rebuild": bench_rawzone.rebuild_both(work, work / "raw", days),
        }
        compare: dict[str, Any] = {
            "baseline": {k: round(x, 2) if isinstance(x, float) else x for k, x in base.items()},
            "baseline_ratio": round(base["seconds"] / v["load_seconds"], 2),
            "targets": {"baseline_ratio_min": TARGET_BASELINE_RATIO, "speedup_min": TARGET_SPEEDUP},
            "before": {k: round(x, 2) if isinstance(x, float) else x for k, x in old.items()},
        }
        if "error" not in old:
            compare["speedup"] = round(old["seconds"] / v["load_seconds"], 2)
        return {
            **compare,
            "days": days,
            "objects_landed": objects_landed,
            "land_seconds": round(land_seconds, 1),
            **{k: (round(x, 2) if isinstance(x, float) else x) for k, x in v.items()},
            "objects_per_s": round(v["objects"] / v["load_seconds"], 1),
            "plays_per_s": round(v["plays_inserted"] / v["load_seconds"], 1),
            "reload_objects_per_s": round(v["reload_objects"] / v["reload_seconds"], 1),
            "peak_rss_mb": round(m.peak_rss_mb, 1),
            "rawzone": rawzone,
        }
    finally:
        remove(work)
