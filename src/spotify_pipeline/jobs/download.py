"""Fetch from Spotify and land the raw answers: the bihourly and daily download jobs.

Order: fetch, land, then bookkeeping (``jobs/bookkeeping.py``). Landing never depends on the
warehouse: with the database down the plays are still landed, the command says so and exits
non-zero, and the next run that reaches the warehouse records what this one could not.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx

from ..clock import Clock, to_ms
from ..errors import ConfigError, RateLimitPaused
from ..landing.envelope import new_envelope
from ..landing.keys import raw_key
from ..settings import Settings
from ..spotify.tokens import TokenStore
from ..transform.gaps import PAGE_LIMIT
from ..transform.timestamps import parse_played_at
from .bookkeeping import FetchRecord, record_fetch
from .report import JobReport
from .runtime import Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")

# Spotify launched in October 2008: an hour before that names no object anyone fetched.
EARLIEST_HOUR = datetime(2008, 1, 1, tzinfo=UTC)


def object_hour(hour: datetime | None, now: datetime) -> datetime:
    """The hour a raw object is named after: ``hour`` when given (checked), else now."""
    if hour is None:
        return now
    if hour.tzinfo is None:
        hour = hour.replace(tzinfo=UTC)
    if not EARLIEST_HOUR <= hour <= now + timedelta(days=1):
        raise ConfigError(
            f"hour {hour.strftime('%Y-%m-%dT%H') if hour.year >= 1000 else hour.isoformat()} cannot name a raw "
            "object: give a UTC hour from 2008 up to a day from now, like "
            f"{now.strftime('%Y-%m-%dT%H')} (or leave it out for the current hour)"
        )
    return hour


def _fetch_dict(meta: Any, response: Any, run_id: str, page: int) -> dict[str, Any]:
    return {
        "fetched_at": meta.fetched_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "request": meta.request,
        "status": meta.status,
        "run_id": run_id,
        "page": page,
        "response": response,
    }


def _api_calls(rt: Runtime) -> int:
    client = rt.__dict__.get("client")  # only when built: building it may be what failed
    return sum(client.calls.values()) if client is not None else 0


@contextmanager
def _bookkept(rt: Runtime, kind: str, report: JobReport) -> Iterator[FetchRecord]:
    """Yield the fetch's record; afterwards write it, whatever happened: ok, paused, failed, or
    interrupted (KeyboardInterrupt, SIGTERM raised as an exception), so no run stays ``running``."""
    rec = FetchRecord(user=rt.settings.user, kind=kind, started_at=rt.clock.now())
    before = _api_calls(rt)
    try:
        yield rec
    except BaseException as exc:
        rec.status = "failed" if isinstance(exc, Exception) else "interrupted"
        rec.message = (str(exc) or type(exc).__name__)[:1000]
        rec.api_calls, rec.finished_at = _api_calls(rt) - before, rt.clock.now()
        try:
            record_fetch(rt, rec, report)
        except BaseException as second:  # the first error is the one to report
            log.warning("could not record the %s fetch as %s: %s", kind, rec.status, second)
        raise
    rec.status = "paused" if report.status == "paused" else "ok"
    rec.message = report.message if rec.status == "paused" else None
    rec.api_calls, rec.finished_at = _api_calls(rt) - before, rt.clock.now()
    report.add("api_calls", rec.api_calls)
    outage = record_fetch(rt, rec, report)
    if outage is not None:
        report.add("bookkeeping_deferred")
        if report.status == "ok":
            report.status = "partial"
        text = f"the warehouse is unreachable ({outage}): bookkeeping will catch up on the next run"
        if rec.raw_key is not None:
            report.message += f"; {text}"
        else:
            report.problems.append(text)


def _call_spotify(report: JobReport, fetch: Callable[[], T]) -> T | None:
    """The fetch's result, or None when Spotify asked us to pause (the report says until when)."""
    try:
        return fetch()
    except RateLimitPaused as exc:
        report.status = "paused"
        report.paused_until = exc.until
        report.message = str(exc)
        log.warning("%s", exc)
        return None


def _tell(report: JobReport) -> Callable[[str], None]:
    return report.problems.append


def download_recently_played(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: httpx.BaseTransport | None = None,
    hour: datetime | None = None,
    token_store: TokenStore | None = None,
    runtime: Runtime | None = None,
) -> JobReport:
    """Fetch the latest 50 plays and merge them into ``recently_played/YYYYMMDDHH.json``.

    ``hour`` names the object (the run's data interval in Airflow); by default the clock's hour.
    A full page whose oldest play is newer than the newest play already landed is a gap: plays were
    missed between the two polls. It is recorded, never silent.
    """
    rt = Runtime.resolve(settings, runtime, clock=clock, transport=transport, token_store=token_store)
    report = JobReport("download_recently_played")
    key = raw_key("recently_played", object_hour(hour, rt.clock.now()), rt.partition_user)
    with _bookkept(rt, "recently_played", report) as rec:
        fetched = _call_spotify(report, lambda: rt.client.recently_played(limit=PAGE_LIMIT))
        if fetched is None:
            return report
        page, meta = fetched
        envelope = new_envelope(
            "recently_played", settings.user, [_fetch_dict(meta, page, uuid.uuid4().hex, 1)]
        )
        key = rt.store.merge(key, envelope, on_set_aside=_tell(report)).key  # .json.gz when compressed
        items, rec.played_ms = _plays(page, report)
        rec.raw_key, rec.items = key, len(items)
        report.add("plays_fetched", len(items))
        report.message = f"landed {len(items)} plays at {rt.store.location}/{key}"
    return report


def _plays(page: dict[str, Any], report: JobReport) -> tuple[list[Any], list[int]]:
    """The page's items and their played_at in ms, sorted, for the gap rule. A page of the wrong
    shape was landed as sent (``process`` quarantines it with its reason); here it counts nothing."""
    items = page.get("items")
    if not isinstance(items, list):
        report.problems.append(
            f"the answer's 'items' is not a list ({type(items).__name__}): landed as sent; "
            "process will set it aside with the reason"
        )
        return [], []
    played = []
    for item in items:
        at = item.get("played_at") if isinstance(item, dict) else None
        if not isinstance(at, str):
            continue
        try:
            played.append(to_ms(parse_played_at(at)))
        except (ValueError, TypeError, OverflowError):
            continue  # process quarantines the object and names the value
    return items, sorted(played)


def download_followed_artists(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: httpx.BaseTransport | None = None,
    hour: datetime | None = None,
    token_store: TokenStore | None = None,
    runtime: Runtime | None = None,
) -> JobReport:
    """Fetch every page of followed artists and merge them into ``following_artists/YYYYMMDDHH.json``."""
    rt = Runtime.resolve(settings, runtime, clock=clock, transport=transport, token_store=token_store)
    report = JobReport("download_followed_artists")
    key = raw_key("following_artists", object_hour(hour, rt.clock.now()), rt.partition_user)
    with _bookkept(rt, "following_artists", report) as rec:
        pages = _call_spotify(report, lambda: rt.client.followed_artists(limit=PAGE_LIMIT))
        if pages is None:
            return report
        fetch_run = uuid.uuid4().hex
        fetches = [_fetch_dict(meta, page, fetch_run, n) for n, (page, meta) in enumerate(pages, start=1)]
        # The last page closes the snapshot: process folds only complete runs into the history.
        if fetches:
            fetches[-1]["last_page"] = True
        key = rt.store.merge(
            key, new_envelope("following_artists", settings.user, fetches), on_set_aside=_tell(report)
        ).key
        n_artists = sum(_artists_on(page) for page, _ in pages)
        rec.raw_key, rec.items = key, n_artists
        report.add("artists_fetched", n_artists)
        report.add("pages", len(pages))
        report.message = f"landed {n_artists} followed artists at {rt.store.location}/{key}"
    return report


def _artists_on(page: dict[str, Any]) -> int:
    artists = page.get("artists")
    items = artists.get("items") if isinstance(artists, dict) else None
    return len(items) if isinstance(items, list) else 0
