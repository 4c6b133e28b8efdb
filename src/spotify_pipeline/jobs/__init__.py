"""Jobs: orchestration-free functions with explicit arguments and an injectable clock.

The CLI, the DAGs and the demo call these and nothing below them.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from ..clock import Clock
from ..settings import Settings
from ..spotify.tokens import TokenStore
from ..warehouse import reads
from .download import download_followed_artists, download_recently_played
from .enrich import enrich
from .process import process
from .releases import check_releases
from .report import JobReport
from .runtime import Runtime

__all__ = [
    "JobReport",
    "Runtime",
    "enrich",
    "download_followed_artists",
    "download_recently_played",
    "process",
    "run_all",
]


def _followed_artists_when_due(settings: Settings, rt: Runtime) -> JobReport:
    """Followed artists change slowly: a cron `run` every 20 minutes fetches them once a day."""

    with rt.engine.connect() as conn:
        last = reads.last_successful_fetch(conn, settings.user, "following_artists")
    if last is None or rt.clock.now() - last >= timedelta(hours=settings.following_every_hours):
        return download_followed_artists(settings, runtime=rt)
    report = JobReport("download_followed_artists", status="skipped")
    report.message = (
        f"last fetched {last.isoformat()}; next after {settings.following_every_hours:g} h "
        "(setting following_every_hours)"
    )
    return report


def run_all(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: httpx.BaseTransport | None = None,
    token_store: TokenStore | None = None,
    force_enrich: bool = False,
    runtime: Runtime | None = None,
) -> list[JobReport]:
    """One full cycle for cron users: both fetches, process, enrich (when enough ids are missing)."""
    rt = Runtime.resolve(settings, runtime, clock=clock, transport=transport, token_store=token_store)
    reports = [download_recently_played(settings, runtime=rt)]
    if rt.state.outage is not None:
        # The plays are landed; everything else needs the warehouse. Say so once and stop: each
        # further try would only wait for the same connect timeout.
        stopped = JobReport("process", status="failed")
        stopped.message = (
            f"not run: the warehouse is unreachable ({rt.state.outage}); the landed plays load "
            "on the next run that reaches it"
        )
        return [*reports, stopped]
    if reports[-1].status != "paused":
        reports.append(_followed_artists_when_due(settings, rt))
    reports.append(process(settings, runtime=rt))
    if all(r.status != "paused" for r in reports):
        reports.append(enrich(settings, runtime=rt, force=force_enrich))
    if settings.release_artists_per_day and all(r.status != "paused" for r in reports):
        reports.append(check_releases(settings, runtime=rt))
    return reports
