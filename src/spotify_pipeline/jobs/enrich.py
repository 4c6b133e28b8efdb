"""Fetch metadata for artists and albums seen in plays but not described yet: each id once.

Tracks need no call: every play carries the full track object. Artists and albums arrive
simplified inside it; the full objects (genres, label, ...) are looked up here, in batches where
the app may use batch endpoints and one id at a time where it may not (development mode). The
answers are landed in the raw zone first (``metadata/YYYYMMDDHH.json``), so a rebuild needs no
API call, then saved. Ids that do not exist are remembered and never asked for again.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx

from ..clock import Clock
from ..errors import RateLimitPaused
from ..landing.decode import parse_object
from ..landing.envelope import new_envelope
from ..landing.keys import raw_key
from ..settings import Settings
from ..spotify.tokens import TokenStore
from ..warehouse import manifest, reads, writes
from .process_save import load_object
from .report import JobReport
from .runtime import Runtime

log = logging.getLogger(__name__)


def enrich(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: httpx.BaseTransport | None = None,
    token_store: TokenStore | None = None,
    force: bool = True,
    runtime: Runtime | None = None,
) -> JobReport:
    """Look up missing artists, albums and audio features. Without ``force`` it waits until
    ``settings.enrich_threshold`` ids are missing (the daily run always forces)."""

    rt = Runtime.resolve(settings, runtime, clock=clock, transport=transport, token_store=token_store)
    report = JobReport("enrich")
    with rt.engine.connect() as conn:
        artists = reads.missing_artist_ids(conn)
        albums = reads.missing_album_ids(conn)
        tracks = reads.tracks_without_audio_features(conn)
    missing = len(artists) + len(albums)
    report.add("artists_missing", len(artists))
    report.add("albums_missing", len(albums))
    if not force and missing < settings.enrich_threshold:
        report.status = "skipped"
        report.message = f"{missing} ids missing, below the threshold of {settings.enrich_threshold}"
        return report
    if missing == 0 and not tracks:
        report.message = "nothing to enrich"
        return report
    calls_before = sum(rt.client.calls.values())
    fetches: list[dict[str, Any]] = []
    run_id = uuid.uuid4().hex
    try:
        for kind, ids, lookup in (
            ("artists", artists, rt.client.artists),
            ("albums", albums, rt.client.albums),
        ):
            if not ids:
                continue
            found = lookup(ids)
            fetches += _as_fetches(kind, found, rt, run_id)
            report.add(f"{kind}_fetched", sum(1 for v in found.values() if v is not None))
        if tracks:
            features = rt.client.audio_features(tracks)
            if features is None:
                report.add("audio_features_unavailable", len(tracks))
            else:
                fetches += _as_fetches("audio-features", features, rt, run_id)
                report.add("audio_features_fetched", sum(1 for v in features.values() if v is not None))
    except RateLimitPaused as exc:
        report.status = "paused"
        report.paused_until = exc.until
        report.message = str(exc)
    finally:
        report.add("api_calls", sum(rt.client.calls.values()) - calls_before)
        if fetches:
            _land_and_save(rt, fetches, report)
    if report.status == "ok":
        report.message = (
            f"described {report.counts.get('artists_fetched', 0)} artists and "
            f"{report.counts.get('albums_fetched', 0)} albums"
        )
    return report


def _as_fetches(kind: str, found: dict[str, Any], rt: Runtime, run_id: str) -> list[dict[str, Any]]:
    at = rt.clock.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return [
        {
            "fetched_at": at,
            "request": f"GET /v1/{kind}/{ident}",
            "status": 200 if obj is not None else 404,
            "run_id": run_id,
            "response": obj,
        }
        for ident, obj in found.items()
    ]


def _land_and_save(rt: Runtime, fetches: list[dict[str, Any]], report: JobReport) -> None:
    """Land first (the raw zone is the source of truth), then load that object like `process` does."""

    key = raw_key("metadata", rt.clock.now(), rt.partition_user)
    envelope = new_envelope("metadata", rt.settings.user, fetches)
    info = rt.store.merge(key, envelope)
    key = info.key  # the stored key: .json.gz when compressed
    stored = rt.store.get(key)

    full = parse_object(stored or b"", key)
    with rt.engine.begin() as conn:
        now = rt.clock.now()
        writes.ensure_user(conn, rt.settings.user, now)
        n = load_object(conn, "metadata", full, rt.settings.user, key, now, report)
        manifest.mark_loaded(
            conn, key, kind="metadata", user_id=rt.settings.user, etag=info.etag, size=info.size, rows=n,
            loaded_at=now,
        )  # fmt: skip
