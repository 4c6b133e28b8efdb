"""(3b) The raw zone: bytes per poll and per listener-year, uncompressed and gzip-compressed, and the
rebuild of a heavy listener's year from each.

Bytes: the heavy listener is polled every 20 minutes and every 2 hours for ``days`` simulated days
(over the simulator's in-process transport, so each answer is what a poll would land); the answers
are merged into hourly objects exactly as ``download_recently_played`` merges them
(``merge_envelopes``), and each object is encoded both ways (``encode_stored``). A year is the sample
times 365 / ``days`` (the heavy profile's days are alike).

Rebuild: the year of hourly objects the processing benchmark landed (uncompressed, as before), and
the same objects gzip-compressed (``.json.gz``, what a zone written now holds), each rebuilt into a
fresh SQLite warehouse by ``rebuild`` in its own spawned process, timed.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from .common import START, run_measured, simulated_runtime

INTERVALS = (20, 120)  # minutes between polls


def poll_bytes(days: int) -> dict[str, Any]:
    """Bytes per poll and per listener-year at each polling interval, uncompressed and gzip."""
    import httpx

    from spotify_pipeline.landing.decode import encode_stored
    from spotify_pipeline.landing.envelope import make_fetch, merge_envelopes, new_envelope
    from spotify_pipeline.landing.keys import raw_key

    from .bench_processing import USER, _simulator

    out: dict[str, Any] = {"days_sampled": days}
    for minutes in INTERVALS:
        sim = _simulator(days)
        client = httpx.Client(transport=sim.transport(), base_url="https://api.spotify.com")
        objects: dict[str, dict[str, Any]] = {}
        polls = 0
        at = START + timedelta(minutes=minutes)
        end = START + timedelta(days=days)
        t0 = time.perf_counter()
        while at <= end:
            sim.clock.set(at)
            token = sim.grant(USER)["access_token"]
            response = client.get(
                "/v1/me/player/recently-played",
                params={"limit": 50},
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
            fetch = make_fetch(at, "GET /v1/me/player/recently-played?limit=50", 200, response.json())
            key = raw_key("recently_played", at - timedelta(microseconds=1))
            objects[key] = merge_envelopes(objects.get(key), new_envelope("recently_played", USER, [fetch]))
            polls += 1
            at += timedelta(minutes=minutes)
        plain = sum(len(encode_stored(e, "none")) for e in objects.values())
        gz = sum(len(encode_stored(e, "gzip")) for e in objects.values())
        year = 365 / days
        out[f"every_{minutes}_min"] = {
            "polls": polls,
            "objects": len(objects),
            "bytes_per_poll_json": round(plain / polls),
            "bytes_per_poll_gzip": round(gz / polls),
            "ratio": round(plain / gz, 1),
            "mb_per_listener_year_json": round(plain * year / 1e6, 1),
            "mb_per_listener_year_gzip": round(gz * year / 1e6, 1),
            "seconds": round(time.perf_counter() - t0, 1),
        }
    return out


def compress_zone(plain: Path, gz: Path) -> tuple[int, int, int]:
    """Copy every raw object of ``plain`` to ``gz`` as ``<key>.gz`` (gzip, as a merge writes it now);
    (objects, bytes before, bytes after)."""
    from spotify_pipeline.landing.decode import compress

    n = before = after = 0
    for path in sorted(plain.rglob("*.json.gz")):  # written compressed already (enrich's lookups)
        target = gz / path.relative_to(plain)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    for path in sorted(plain.rglob("*.json")):
        data = path.read_bytes()
        packed = compress(data)
        target = gz / path.relative_to(plain).parent / (path.name + ".gz")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(packed)
        n, before, after = n + 1, before + len(data), after + len(packed)
    return n, before, after


def rebuild_once(work: Path, raw: Path, days: int) -> dict[str, Any]:
    """In a child process: ``rebuild`` of the zone at ``raw`` into a new SQLite file, timed."""
    from spotify_pipeline.jobs.rebuild import rebuild

    from .bench_processing import USER, _simulator

    sim = _simulator(days)
    rt = simulated_runtime(sim, USER, work, raw_zone=raw)
    rt.engine  # migrate before timing  # noqa: B018
    t0 = time.perf_counter()
    report = rebuild(rt.settings, runtime=rt, target_url=f"sqlite:///{work / 'rebuilt.db'}")
    return {
        "seconds": time.perf_counter() - t0,
        "objects": report.counts.get("objects_loaded", 0),
        "plays": report.counts.get("plays_inserted", 0),
        "status": report.status,
    }


def rebuild_both(work: Path, plain: Path, days: int) -> dict[str, Any]:
    """The year at ``plain`` (uncompressed) rebuilt, then the same year gzip-compressed."""
    gz = work / "raw-gz"
    objects, before, after = compress_zone(plain, gz)
    out: dict[str, Any] = {
        "objects": objects,
        "zone_mb_json": round(before / 1e6, 1),
        "zone_mb_gzip": round(after / 1e6, 1),
    }
    for name, raw in (("json", plain), ("gzip", gz)):
        base = work / f"rebuild-{name}"
        base.mkdir()
        m = run_measured(rebuild_once, base, raw, days)
        out[f"rebuild_{name}"] = {
            **{k: (round(v, 2) if isinstance(v, float) else v) for k, v in m.value.items()},
            "peak_rss_mb": round(m.peak_rss_mb, 1),
        }
    return out
