"""Fetch from Spotify and land the raw answers: the bihourly and daily download jobs."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from ..clock import Clock, from_ms, to_ms
from ..errors import RateLimitPaused
from ..landing.envelope import new_envelope
from ..landing.keys import raw_key
from ..settings import Settings
from ..transform.gaps import PAGE_LIMIT, advance, detect_gap
from ..transform.timestamps import parse_played_at
from .report import JobReport
from .runtime import Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")


def _cursor_key(user: str) -> str:
    return f"cursor:recently_played:{user}"


def _fetch_dict(meta: Any, response: Any, run_id: str, page: int) -> dict[str, Any]:
    return {
        "fetched_at": meta.fetched_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "request": meta.request,
        "status": meta.status,
        "run_id": run_id,
        "page": page,
        "response": response,
    }


def _call_spotify(rt: Runtime, kind: str, report: JobReport, fetch: Callable[[], T]) -> tuple[int, T | None]:
    """Run one fetch under its ``fetch_runs`` row. Returns (run id, the fetch's result), or
    (run id, None) when Spotify asked us to pause: the report says until when, and the run ends
    cleanly. Any other error is recorded on the run and raised."""
    from ..warehouse import writes

    with rt.engine.begin() as conn:
        writes.ensure_user(conn, rt.settings.user)
        run_id = writes.start_fetch_run(conn, rt.settings.user, kind, rt.clock.now())
    before = sum(rt.client.calls.values())
    try:
        result = fetch()
    except RateLimitPaused as exc:
        report.status = "paused"
        report.paused_until = exc.until
        report.message = str(exc)
        log.warning("%s", exc)
        with rt.engine.begin() as conn:
            writes.finish_fetch_run(conn, run_id, rt.clock.now(), "paused", 0, 0, None, report.message)
        return run_id, None
    except Exception as exc:
        with rt.engine.begin() as conn:
            writes.finish_fetch_run(
                conn,
                run_id,
                rt.clock.now(),
                "failed",
                sum(rt.client.calls.values()) - before,
                0,
                None,
                str(exc)[:1000],
            )
        raise
    report.add("api_calls", sum(rt.client.calls.values()) - before)
    return run_id, result


def download_recently_played(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: Any = None,
    hour: datetime | None = None,
    token_store: Any = None,
    runtime: Runtime | None = None,
) -> JobReport:
    """Fetch the latest 50 plays and merge them into ``recently_played/YYYYMMDDHH.json``.

    ``hour`` names the object (the run's data interval in Airflow); by default the clock's hour.
    A full page whose oldest play is newer than the newest play already landed is a gap: plays were
    missed between the two polls. It is recorded, never silent.
    """
    from ..warehouse import writes

    rt = Runtime.resolve(settings, runtime, clock=clock, transport=transport, token_store=token_store)
    user = settings.user
    report = JobReport("download_recently_played")
    key = raw_key("recently_played", hour or rt.clock.now(), rt.partition_user)
    run_id, fetched = _call_spotify(
        rt, "recently_played", report, lambda: rt.client.recently_played(limit=PAGE_LIMIT)
    )
    if fetched is None:
        return report
    page, meta = fetched
    envelope = new_envelope("recently_played", user, [_fetch_dict(meta, page, uuid.uuid4().hex, 1)])
    rt.store.merge(key, envelope)
    items = page.get("items") or []
    report.add("plays_fetched", len(items))

    played = sorted(to_ms(parse_played_at(i["played_at"])) for i in items if i.get("played_at"))
    cursor = rt.state.get(_cursor_key(user)) or {}
    newest_known_ms = cursor.get("newest_ms")
    if newest_known_ms is None:
        with rt.engine.connect() as conn:
            from ..warehouse import reads

            newest_stored = reads.newest_play_at(conn, user)
        newest_known_ms = to_ms(newest_stored) if newest_stored else None
    found = detect_gap(played, newest_known_ms)
    gap = (from_ms(found[0]), from_ms(found[1])) if found else None
    newest_ms = advance(played, newest_known_ms)
    if newest_ms is not None and newest_ms != newest_known_ms:
        rt.state.set(_cursor_key(user), {"newest_ms": newest_ms})

    with rt.engine.begin() as conn:
        if gap is not None:
            writes.record_gap(conn, user, gap[0], gap[1], rt.clock.now(), key)
            report.add("gaps_detected")
            report.problems.append(
                f"gap: plays between {gap[0].isoformat()} and {gap[1].isoformat()} were not reachable "
                "(more than 50 plays since the last poll); poll more often, or import a privacy export to close it"
            )
            log.warning("%s", report.problems[-1])
        writes.finish_fetch_run(
            conn, run_id, rt.clock.now(), "ok", report.counts.get("api_calls", 0), len(items), key, None
        )
    report.message = f"landed {len(items)} plays at {rt.store.location}/{key}"
    return report


def download_followed_artists(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: Any = None,
    hour: datetime | None = None,
    token_store: Any = None,
    runtime: Runtime | None = None,
) -> JobReport:
    """Fetch every page of followed artists and merge them into ``following_artists/YYYYMMDDHH.json``."""
    from ..warehouse import writes

    rt = Runtime.resolve(settings, runtime, clock=clock, transport=transport, token_store=token_store)
    user = settings.user
    report = JobReport("download_followed_artists")
    key = raw_key("following_artists", hour or rt.clock.now(), rt.partition_user)
    run_id, pages = _call_spotify(
        rt, "following_artists", report, lambda: rt.client.followed_artists(limit=PAGE_LIMIT)
    )
    if pages is None:
        return report
    fetch_run = uuid.uuid4().hex
    fetches = [_fetch_dict(meta, page, fetch_run, n) for n, (page, meta) in enumerate(pages, start=1)]
    # The last page closes the snapshot: process folds only complete runs into the history.
    if fetches:
        fetches[-1]["last_page"] = True
    rt.store.merge(key, new_envelope("following_artists", user, fetches))
    n_artists = sum(len((p.get("artists") or {}).get("items") or []) for p, _ in pages)
    report.add("artists_fetched", n_artists)
    report.add("pages", len(pages))
    with rt.engine.begin() as conn:
        writes.finish_fetch_run(
            conn, run_id, rt.clock.now(), "ok", report.counts["api_calls"], n_artists, key, None
        )
    report.message = f"landed {n_artists} followed artists at {rt.store.location}/{key}"
    return report
