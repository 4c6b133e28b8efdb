"""New releases from the user's artists: a budgeted check of ``GET /artists/{id}/albums``.

Which artists: the ones the user follows, then the main artists of the most played tracks. Each is
checked at most once every ``release_check_every_days`` (7), and at most
``release_artists_per_day`` (25) artists in any 24 hours, so a cron `run` every 20 minutes spends
the same few calls a day as one weekly DAG run (at most ``MAX_PAGES`` calls per artist). Followed
artists go first; within each group, artists never checked, then the longest unchecked.

Like every fetch: call, land (``artist_albums/YYYYMMDDHH.json``, the usual envelope, one fetch per
page), record (``fetch_runs``), then ``process`` loads the object into ``release_checks`` and
``releases``, which is also what ``rebuild`` replays.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx

from ..clock import Clock
from ..errors import RateLimitPaused, SpotifyApiError
from ..landing.envelope import new_envelope
from ..landing.keys import raw_key
from ..settings import Settings
from ..spotify.library import artist_albums
from ..spotify.tokens import TokenStore
from ..warehouse import releases as wr
from .download import _bookkept, _fetch_dict, _tell, object_hour
from .process import process
from .progress import ProgressFn, no_progress
from .report import JobReport
from .runtime import Runtime

log = logging.getLogger(__name__)

MAX_PAGES = 2  # 20 albums and singles, newest first in each group: a new one is on the first page
TOP_ARTISTS = 200  # most played artists considered beside the followed ones


def due_artists(settings: Settings, rt: Runtime, now: datetime, limit: int | None = None) -> list[str]:
    """The artists to check now, in order, within today's budget (empty when it is used up)."""

    per_day = settings.release_artists_per_day if limit is None else limit
    every = timedelta(days=settings.release_check_every_days)
    with rt.engine.connect() as conn:
        used = wr.checks_since(conn, settings.user, now - timedelta(days=1))
        last = wr.last_checks(conn, settings.user)
        followed = wr.followed_artist_ids(conn, settings.user)
        played = wr.most_played_artist_ids(conn, settings.user, TOP_ARTISTS)
    budget = max(0, per_day - used) if limit is None else per_day
    candidates = list(dict.fromkeys([*followed, *played]))
    due = [a for a in candidates if a not in last or now - last[a] >= every]
    # Followed artists before played ones (their releases are the promise), and within each never
    # checked first (in the order above), then the longest unchecked.
    following = set(followed)
    due.sort(key=lambda a: (a not in following, a in last, last.get(a, now)))
    return due[:budget]


def check_releases(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: httpx.BaseTransport | None = None,
    token_store: TokenStore | None = None,
    runtime: Runtime | None = None,
    hour: datetime | None = None,
    max_artists: int | None = None,
    load: bool = True,
    progress: ProgressFn | None = None,
) -> JobReport:
    """Check the due artists' albums within the budget, land the answers, and (``load``) process them."""
    rt = Runtime.resolve(settings, runtime, clock=clock, transport=transport, token_store=token_store)
    report = JobReport("check_releases")
    progress = progress or no_progress
    now = rt.clock.now()
    artists = due_artists(settings, rt, now, max_artists)
    if not artists:
        report.status = "skipped"
        report.message = (
            f"no artist due: each is checked once every {settings.release_check_every_days:g} days, at most "
            f"{settings.release_artists_per_day} a day (settings release_check_every_days, release_artists_per_day)"
        )
        return report
    key = raw_key("artist_albums", object_hour(hour, now), rt.partition_user)
    with _bookkept(rt, "artist_albums", report) as rec:
        fetches = _fetch_all(rt, artists, report, progress)
        if fetches:
            key = rt.store.merge(
                key, new_envelope("artist_albums", settings.user, fetches), on_set_aside=_tell(report)
            ).key
            rec.raw_key = key
        rec.items = report.counts.get("artists_checked", 0)
        report.message = f"checked {rec.items} artists' albums" + (
            f"; landed at {rt.store.location}/{key}" if fetches else ""
        )
    if load and fetches and report.status != "failed":
        loaded = process(settings, runtime=rt)
        report.add("new_releases", loaded.counts.get("releases_seen", 0))
        report.problems.extend(loaded.problems)
    return report


def _fetch_all(
    rt: Runtime, artists: list[str], report: JobReport, progress: ProgressFn
) -> list[dict[str, Any]]:
    fetches: list[dict[str, Any]] = []
    progress(0, len(artists), "checking artists")
    for done, artist_id in enumerate(artists, start=1):
        run_id = uuid.uuid4().hex
        try:
            pages = artist_albums(rt.client, artist_id, MAX_PAGES)
        except RateLimitPaused as exc:
            report.status, report.paused_until = "paused", exc.until
            report.problems.append(f"stopped after {done - 1} artists: {exc}")
            break
        except SpotifyApiError as exc:
            # One artist Spotify will not describe (gone, an odd answer) is noted, counted and passed by.
            report.problems.append(f"artist {artist_id}: {exc}")
            report.add("artists_failed")
            continue
        fetches.extend(_fetch_dict(meta, page, run_id, n) for n, (page, meta) in enumerate(pages, start=1))
        report.add("artists_checked")
        progress(done, len(artists), "checking artists")
    return fetches
