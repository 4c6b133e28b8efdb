"""Load landed raw objects into the warehouse: catch-up by manifest, one transaction per object.

An object is loaded when the manifest (``landed_files``) does not list it with the same content
hash: new objects, objects that a later fetch merged into, and objects edited by hand all load,
and since a play's identity is (user, played_at) a reload never counts anything twice. Nothing
depends on "today and yesterday" by wall clock. A malformed object is quarantined with its
reason; the rest of the batch loads.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError

from ..clock import Clock
from ..errors import MalformedRawObject, MalformedRecord, PipelineError
from ..landing.envelope import parse_object
from ..landing.keys import parse_key
from ..settings import Settings
from ..transform.timestamps import parse_played_at
from ..warehouse.memo import WriteMemo
from .report import JobReport
from .runtime import Runtime

log = logging.getLogger(__name__)

_LOOKUP = re.compile(r"^GET /v1/(artists|albums|tracks|audio-features)/([A-Za-z0-9]+)")
KINDS = ("recently_played", "following_artists", "metadata")


def process(settings: Settings, *, clock: Clock | None = None, runtime: Runtime | None = None) -> JobReport:
    rt = Runtime.resolve(settings, runtime, clock=clock)
    report = JobReport("process")
    from ..warehouse import writes
    from .bookkeeping import catch_up

    catch_up(rt, report)  # fetches landed while the warehouse was down: gap checks before their plays load

    # The manifest in one query, not one per object: an object another run loads meanwhile is at
    # worst loaded twice, which adds nothing (a play's identity is its key).
    with rt.engine.connect() as conn:
        manifest = {key: entry["etag"] for key, entry in writes.manifest_entries(conn).items()}
    memo = WriteMemo()  # this run's own writes, so a year of overlapping pages is not re-sent
    for info in rt.store.list(""):
        try:
            kind, _hour, key_user = parse_key(info.key)
        except ValueError:
            continue  # not a raw object of ours (README, quarantine sidecars, ...)
        if kind not in KINDS:
            continue
        user = key_user or settings.user
        if info.key in manifest and manifest[info.key] == info.etag:
            continue
        data = rt.store.get(info.key)
        if data is None:  # deleted between list and get
            continue
        try:
            envelope = parse_object(data, info.key)
            try:
                # memo.transaction() outside begin(): the memo keeps rows only after the commit.
                with memo.transaction(), rt.engine.begin() as conn:
                    writes.ensure_user(conn, user, memo=memo)
                    inserted = _load(conn, kind, envelope, user, info.key, rt.clock.now(), report, memo)
                    writes.mark_loaded(conn, info.key, kind, user, info.etag, info.size, inserted)
            except DBAPIError as exc:
                # The driver's own words only: str(exc) would add the SQL and its parameters.
                raise PipelineError(
                    f"the warehouse failed while loading {info.key} ({type(exc.orig).__name__}: {exc.orig}); "
                    f"that object's transaction was rolled back and {_n_done(report)} objects before it are "
                    "saved: run `spotify-pipeline process` again to load the rest"
                ) from None
            report.add("objects_loaded")
        except (MalformedRawObject, MalformedRecord) as exc:
            reason = exc.reason if isinstance(exc, MalformedRawObject) else str(exc)
            qkey = rt.store.quarantine(info.key, reason)
            with rt.engine.begin() as conn:
                writes.mark_quarantined(conn, info.key, kind, user, info.etag, reason)
            report.add("objects_quarantined")
            report.problems.append(f"quarantined {info.key} (copy at {qkey}): {reason}")
            log.error("quarantined %s: %s", info.key, reason)
    if report.problems:
        report.status = "partial"
    n = report.counts.get("objects_loaded", 0)
    report.message = f"loaded {n} objects, {report.counts.get('plays_inserted', 0)} new plays"
    return report


def _n_done(report: JobReport) -> int:
    return report.counts.get("objects_loaded", 0)


def _load(
    conn: Any,
    kind: str,
    envelope: dict[str, Any],
    user: str,
    key: str,
    now: datetime,
    report: JobReport,
    memo: WriteMemo | None = None,
) -> int:
    from ..transform.following import followed_artist_rows
    from ..transform.recently_played import recently_played_rows
    from ..warehouse import writes

    fetches = [f for f in envelope.get("fetches", []) if f.get("status", 200) == 200 or kind == "metadata"]
    if kind == "recently_played":
        inserted = 0
        for fetch in fetches:
            rows = recently_played_rows(fetch["response"], user, key)
            inserted += writes.save_recently_played(conn, rows, memo=memo)
        report.add("plays_inserted", inserted)
        return inserted
    if kind == "following_artists":
        runs: dict[str, list[dict[str, Any]]] = {}
        for fetch in fetches:
            runs.setdefault(fetch.get("run_id") or fetch.get("fetched_at") or "legacy", []).append(fetch)
        folded = 0
        for run in sorted(runs.values(), key=lambda fs: fs[0].get("fetched_at") or ""):
            pages = sorted(run, key=lambda f: f.get("page", 0))
            complete = any(f.get("last_page") for f in pages) or _ends(pages[-1]["response"])
            if not complete:
                report.problems.append(f"{key}: an incomplete followed-artists snapshot was not folded")
                continue
            artists = []
            for fetch in pages:
                artists.extend(followed_artist_rows(fetch["response"], key))
            seen_at = _fetched_at(pages[-1]) or now
            writes.save_artists_full(conn, artists, seen_at, memo=memo)  # the page holds full artist objects
            new, gone = writes.fold_followed_snapshot(conn, user, {a.id for a in artists}, seen_at, memo=memo)
            report.add("follows_opened", new)
            report.add("follows_closed", gone)
            folded += len(artists)
        return folded
    # metadata: single lookups landed by enrich
    saved = 0
    for fetch in fetches:
        saved += _load_lookup(conn, fetch, key, now, memo)
    report.add("metadata_rows", saved)
    return saved


def _ends(page: dict[str, Any]) -> bool:
    inner = page.get("artists") if isinstance(page, dict) else None
    return isinstance(inner, dict) and inner.get("next") is None


def _fetched_at(fetch: dict[str, Any]) -> datetime | None:
    value = fetch.get("fetched_at")
    return parse_played_at(value) if value else None


def _load_lookup(conn: Any, fetch: dict[str, Any], key: str, now: datetime, memo: WriteMemo | None) -> int:
    from ..transform.metadata import album_row, artist_row, audio_features_row
    from ..warehouse import writes

    match = _LOOKUP.match(fetch.get("request", ""))
    if not match:
        raise MalformedRawObject(key, f"unknown metadata request {fetch.get('request')!r}")
    kind, ident = match.groups()
    obj = fetch.get("response")
    at = _fetched_at(fetch) or now
    if fetch.get("status") == 404 or obj is None:
        writes.record_miss(conn, kind, ident, "404", at)
        return 0
    if kind == "artists":
        writes.save_artists_full(conn, [artist_row(obj)], at, memo=memo)
    elif kind == "albums":
        writes.save_albums_full(conn, [album_row(obj)], at, memo=memo)
    elif kind == "audio-features":
        writes.save_audio_features(conn, [audio_features_row(obj)], at)
    else:
        from ..transform.metadata import track_rows

        writes.save_tracks_full(conn, track_rows(obj), memo=memo)
    return 1
