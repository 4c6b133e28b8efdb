"""The demo: a simulated week of listening, polled and processed as production would, in seconds.

It needs no credentials and no network: the bundled simulator plays Spotify, a shared manual
clock moves time forward, and the real jobs run against it. At the end it compares what the
warehouse holds with the simulator's ground truth.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..clock import ManualClock, to_ms
from ..settings import Settings, load_settings
from ..simulator import Simulator, SimulatorConfig
from ..spotify.auth import token_from_grant
from ..spotify.tokens import MemoryTokenStore
from ..warehouse import reads
from . import download_followed_artists, download_recently_played, enrich, process
from .report import JobReport
from .runtime import Runtime

DEMO_START = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
DAILY_HOUR = 6


@dataclass
class DemoResult:
    profile: str
    days: int
    poll_minutes: int
    user: str
    true_plays: int
    captured_plays: int
    missed_plays: int
    duplicate_plays: int
    unexpected_plays: int
    gaps_detected: int
    missed_plays_inside_gaps: int
    missed_late_plays: int
    api_calls: int
    api_calls_by_endpoint: dict[str, int]
    raw_objects: int
    raw_zone: str
    warehouse: str
    top_artists: list[tuple[str, int]] = field(default_factory=list)
    top_tracks: list[tuple[str, str, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "days": self.days,
            "poll_minutes": self.poll_minutes,
            "user": self.user,
            "true_plays": self.true_plays,
            "captured_plays": self.captured_plays,
            "missed_plays": self.missed_plays,
            "duplicate_plays": self.duplicate_plays,
            "unexpected_plays": self.unexpected_plays,
            "gaps_detected": self.gaps_detected,
            "missed_plays_inside_gaps": self.missed_plays_inside_gaps,
            "missed_late_plays": self.missed_late_plays,
            "api_calls": self.api_calls,
            "api_calls_by_endpoint": self.api_calls_by_endpoint,
            "raw_objects": self.raw_objects,
            "raw_zone": self.raw_zone,
            "warehouse": self.warehouse,
            "top_artists": [{"artist": a, "plays": n} for a, n in self.top_artists],
            "top_tracks": [{"track": t, "artist": a, "plays": n} for t, a, n in self.top_tracks],
            "problems": self.problems,
        }


def demo_settings(
    base_dir: Path = Path("data/demo"),
    warehouse_url: str | None = None,
    raw_zone: str | None = None,
    s3_endpoint_url: str | None = None,
    user: str = "demo",
) -> Settings:
    """Settings for the demo: its own folder, never the user's real data."""

    return load_settings(
        raw_zone=raw_zone or str(base_dir / "raw"),
        warehouse_url=warehouse_url or f"sqlite:///{base_dir / 'warehouse.db'}",
        s3_endpoint_url=s3_endpoint_url,
        user=user,
        # Each demo listener (profile, poll interval, seed) gets its own raw keys, so a re-run with
        # another profile into the same raw zone or warehouse never merges into another's objects.
        user_partition=True,
        token_file=base_dir / "tokens.json",
    )


def run_demo(
    settings: Settings,
    *,
    profile: str = "typical",
    days: int = 7,
    poll_minutes: int = 120,
    seed: int = 7,
    late_share: float = 0.05,
    fresh_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Simulate ``days`` of listening for one user, poll every ``poll_minutes``, process daily."""

    if fresh_dir is not None and fresh_dir.exists():
        shutil.rmtree(fresh_dir)
    clock = ManualClock(DEMO_START)
    sim = Simulator(SimulatorConfig(seed=seed, late_share=late_share), clock=clock)
    user = settings.user
    sim.add_user(user, profile=profile, since=DEMO_START)
    body = sim.grant(user, pkce=True)
    app = sim.default_app
    settings = settings.model_copy(update={"client_id": app.client_id, "client_secret": None})
    tokens = MemoryTokenStore()
    tokens.save(token_from_grant(body, client_id=app.client_id, now=clock.now()))
    rt = Runtime(settings, clock=clock, transport=sim.transport(), token_store_override=tokens)

    def simulated_sleep(seconds: float) -> None:  # retries wait on simulated time
        clock.advance(seconds)

    rt.sleep = simulated_sleep

    end = DEMO_START + timedelta(days=days)
    step = timedelta(minutes=poll_minutes)
    reports: list[JobReport] = []
    t = DEMO_START
    next_daily = DEMO_START.replace(hour=DAILY_HOUR)
    steps = int((end - DEMO_START) / step)
    for i in range(steps):
        t = DEMO_START + step * (i + 1)
        clock.set(max(t, clock.now()))
        reports.append(download_recently_played(settings, runtime=rt))
        if t >= next_daily:
            reports.append(download_followed_artists(settings, runtime=rt))
            reports.append(process(settings, runtime=rt))
            reports.append(enrich(settings, runtime=rt, force=True))
            next_daily += timedelta(days=1)
        if progress is not None:
            progress(i + 1, steps)
    reports.append(process(settings, runtime=rt))
    reports.append(enrich(settings, runtime=rt, force=True))

    truth = sim.reachable_truth(user, DEMO_START, end)
    by_key = {(to_ms(p.ended_at), p.track_id): p for p in truth}
    true_keys = set(by_key)
    with rt.engine.connect() as conn:
        stored = reads.play_keys(conn, user)
        gaps = reads.gaps(conn, user)
        top_artists = reads.top_artists(conn, user, 5)
        top_tracks = reads.top_tracks(conn, user, 5)
    stored_keys = Counter((to_ms(at), track) for at, track in stored)
    captured = sum(1 for k in true_keys if k in stored_keys)
    duplicates = sum(n - 1 for k, n in stored_keys.items() if n > 1)
    unexpected = sum(1 for k in stored_keys if k not in true_keys)
    missed = [k for k in true_keys if k not in stored_keys]
    in_gap = [k for k in missed if any(to_ms(g["gap_from"]) < k[0] < to_ms(g["gap_to"]) for g in gaps)]
    # A play that arrives late, after newer ones, and is pushed past the latest 50 before the next
    # poll was never in any page we fetched, and no page can reveal it: only the export has it.
    late = [k for k in missed if k not in in_gap and by_key[k].available_at > by_key[k].ended_at]
    by_endpoint = Counter(rt.client.calls)
    raw_objects = sum(1 for _ in rt.store.list(""))
    problems = [p for r in reports for p in r.problems]
    return DemoResult(
        profile=profile,
        days=days,
        poll_minutes=poll_minutes,
        user=user,
        true_plays=len(true_keys),
        captured_plays=captured,
        missed_plays=len(missed),
        duplicate_plays=duplicates,
        unexpected_plays=unexpected,
        gaps_detected=len(gaps),
        missed_plays_inside_gaps=len(in_gap),
        missed_late_plays=len(late),
        api_calls=sum(by_endpoint.values()),
        api_calls_by_endpoint=dict(sorted(by_endpoint.items())),
        raw_objects=raw_objects,
        raw_zone=rt.store.location,
        warehouse=settings.masked()["warehouse_url"],
        top_artists=[(a.name, a.plays) for a in top_artists],
        top_tracks=[(t.name, t.artist, t.plays) for t in top_tracks],
        problems=problems,
    )
