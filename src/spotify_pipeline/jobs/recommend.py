"""`recommend`: the lists, and (opt-in) one private playlist per list written back to Spotify.

Reading the lists needs only the warehouse. Writing a playlist needs the `playlist-modify-private`
scope, which the default login does not ask for (`auth login --scope playlists` adds it). Without
``apply`` nothing is written: the plan says per list whether a playlist would be created or which
tracks an update would add and remove (read from Spotify when a playlist is remembered).

With ``apply``: a list without a remembered playlist gets one (``POST /me/playlists``, private);
then its items are replaced in place (``PUT /playlists/{id}/items``), so running it again with the
same list changes nothing. A remembered playlist that answers 404 (the user deleted it) is created
again. A 403 says how to opt in. The ids are kept in ``recommendation_playlists``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from ..clock import Clock
from ..errors import AuthError
from ..settings import Settings
from ..spotify.library import (
    PlaylistGone,
    PlaylistScopeMissing,
    album_track_uris,
    create_private_playlist,
    playlist_uris,
    replace_items,
)
from ..spotify.tokens import TokenStore
from ..warehouse.releases import remember_playlist, remembered_playlist
from .report import JobReport
from .runtime import Runtime

log = logging.getLogger(__name__)

KINDS = ("rediscover", "similar", "releases")


class PlaylistItem(Protocol):
    """What a list item needs to go into a playlist (``insights.recommend.Recommendation`` has it)."""

    @property
    def track_id(self) -> str | None: ...

    @property
    def album_id(self) -> str | None: ...


RELEASE_TRACKS = 3  # tracks of each new album put in the releases playlist
OPT_IN = (
    "Spotify refused to write the playlist (403: the login lacks playlist-modify-private): run "
    "`spotify-pipeline auth login --scope playlists` to allow private playlists, then run again"
)


@dataclass
class PlaylistPlan:
    kind: str
    name: str
    action: str  # create | update | recreate | unchanged
    playlist_id: str | None
    uris: list[str]
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: int = 0  # items without a Spotify id (names-only export rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "playlist_id": self.playlist_id,
            "tracks": len(self.uris),
            "added": len(self.added),
            "removed": len(self.removed),
            "skipped_without_id": self.skipped,
        }


def write_playlists(
    settings: Settings,
    lists: Mapping[str, Sequence[PlaylistItem]],
    name: str,
    *,
    apply: bool = False,
    clock: Clock | None = None,
    transport: httpx.BaseTransport | None = None,
    token_store: TokenStore | None = None,
    runtime: Runtime | None = None,
) -> tuple[JobReport, list[PlaylistPlan]]:
    rt = Runtime.resolve(settings, runtime, clock=clock, transport=transport, token_store=token_store)
    report = JobReport("recommend_playlists" if apply else "recommend_playlists_dry_run")
    plans = []
    try:
        for kind in (k for k in KINDS if k in lists):
            plan = _plan(rt, kind, f"{name} · {kind}", lists[kind])
            if apply and plan.action != "unchanged":
                _apply(rt, plan)
                report.add(f"playlists_{plan.action}d" if plan.action != "update" else "playlists_updated")
            plans.append(plan)
    except PlaylistScopeMissing:
        raise AuthError(OPT_IN) from None
    verb = "wrote" if apply else "would write"
    report.message = f"{verb} {len(plans)} playlists" + ("" if apply else " (dry run: add --apply to write)")
    return report, plans


def _uris(rt: Runtime, kind: str, items: Sequence[PlaylistItem]) -> tuple[list[str], int]:
    uris: list[str] = []
    skipped = 0
    for item in items:
        if kind == "releases" and item.album_id:
            uris.extend(album_track_uris(rt.client, item.album_id, RELEASE_TRACKS))
        elif item.track_id:
            uris.append(f"spotify:track:{item.track_id}")
        else:
            skipped += 1
    return list(dict.fromkeys(uris))[:100], skipped


def _plan(rt: Runtime, kind: str, name: str, items: Sequence[PlaylistItem]) -> PlaylistPlan:
    uris, skipped = _uris(rt, kind, items)
    with rt.engine.connect() as conn:
        known = remembered_playlist(conn, rt.settings.user, kind)
    if known is None:
        return PlaylistPlan(kind, name, "create", None, uris, added=uris, skipped=skipped)
    current = _current_uris(rt, known["playlist_id"])
    if current is None:
        return PlaylistPlan(kind, name, "recreate", None, uris, added=uris, skipped=skipped)
    added = [u for u in uris if u not in current]
    removed = [u for u in current if u not in uris]
    action = "update" if (added or removed or current != uris or known["name"] != name) else "unchanged"
    return PlaylistPlan(kind, name, action, known["playlist_id"], uris, added, removed, skipped)


def _current_uris(rt: Runtime, playlist_id: str) -> list[str] | None:
    """The playlist's track URIs as Spotify has them; None when it is gone (404)."""

    return playlist_uris(rt.client, playlist_id)


def _apply(rt: Runtime, plan: PlaylistPlan) -> None:
    created = plan.playlist_id is None
    if plan.playlist_id is None:
        made = create_private_playlist(
            rt.client, plan.name, f"spotify-pipeline: {plan.kind}, from your own history"
        )
        plan.playlist_id = made.id
    try:
        snapshot = replace_items(rt.client, plan.playlist_id, plan.uris)
    except PlaylistGone:
        # Deleted between the plan and now: make it again.
        plan.playlist_id = create_private_playlist(rt.client, plan.name, f"spotify-pipeline: {plan.kind}").id
        snapshot = replace_items(rt.client, plan.playlist_id, plan.uris)
        created = True
    with rt.engine.begin() as conn:
        remember_playlist(
            conn,
            rt.settings.user,
            plan.kind,
            name=plan.name,
            playlist_id=plan.playlist_id,
            snapshot_id=snapshot,
            track_count=len(plan.uris),
            at=rt.clock.now(),
            created=created,
        )
    log.info("playlist %s (%s): %d tracks", plan.name, plan.playlist_id, len(plan.uris))


def remembered_playlists(settings: Settings, *, runtime: Runtime | None = None) -> dict[str, str]:
    """List kind -> the base name of the playlist the user opted in to (``--to-playlist NAME --apply``)."""

    rt = Runtime.resolve(settings, runtime)
    out = {}
    with rt.engine.connect() as conn:
        for kind in KINDS:
            known = remembered_playlist(conn, settings.user, kind)
            if known is not None:
                out[kind] = str(known["name"]).rsplit(f" · {kind}", 1)[0]
    return out
