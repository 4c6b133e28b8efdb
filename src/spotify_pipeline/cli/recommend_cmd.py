"""`spotify-pipeline recommend`: lists from your own history, and (opt-in) playlists written back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from ..insights.recommend import Recommendation, UnknownSeed, lists_for
from ..jobs.recommend import PlaylistPlan, write_playlists
from ..jobs.runtime import migrated_engine
from ..landing.keys import check_user
from ..warehouse.engine import DbTimeouts
from .common import call, console, fail, print_json, settings

KINDS = ("rediscover", "similar", "releases")


def parse_as_of(text: str) -> datetime:
    """``2026-10-01`` (midnight UTC) or an ISO time; naive times are UTC."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--as-of {text!r} is not a date: give YYYY-MM-DD (UTC) or an ISO 8601 time")
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def recommend(
    ctx: typer.Context,
    kind: Annotated[
        str | None, typer.Option("--kind", help="rediscover, similar or releases (default: all)")
    ] = None,
    seed: Annotated[
        str | None,
        typer.Option("--seed", help="For similar: a track id, track name or artist name you played"),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, help="Items per list")] = 25,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Use only plays before this date (backtest)")
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="The listener (default: the user setting)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    to_playlist: Annotated[
        str | None,
        typer.Option("--to-playlist", help="Write each list to a private playlist named NAME · kind"),
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="With --to-playlist: write (default: show the plan)")
    ] = False,
) -> None:
    """Rediscover, similar to what you play now, and new releases from your artists, each with a reason."""
    _check_options(kind, seed, apply, to_playlist)
    when = parse_as_of(as_of) if as_of else None
    s = settings(ctx)
    if user is not None:
        try:
            check_user(user)
        except ValueError as exc:
            fail(f"--user: {exc}")
        s = s.model_copy(update={"user": user})
    try:
        engine = call(migrated_engine, s.warehouse_url.get_secret_value(), DbTimeouts.from_settings(s))
        now = when or datetime.now(UTC)
        lists = call(lists_for, engine, s.user, now=now, kind=kind, seed=seed, limit=limit)
    except UnknownSeed as exc:
        fail(str(exc))
    items = [r for k in KINDS for r in lists.get(k, [])]
    plans: list[PlaylistPlan] = []
    if to_playlist is not None:
        report, plans = call(write_playlists, s, lists, to_playlist, apply=apply)
    if as_json:
        body: Any = [r.to_dict() for r in items]
        if to_playlist is not None:
            body = {"items": body, "playlists": [p.to_dict() for p in plans], "applied": apply}
        print_json(body)
        return
    for k in KINDS:
        if k in lists:
            console.print(_table(k, lists[k]))
    if to_playlist is not None:
        for p in plans:
            console.print(_plan_line(p, apply))
        if not apply:
            console.print("dry run: nothing was written; add --apply to write these playlists")


def _check_options(kind: str | None, seed: str | None, apply: bool, to_playlist: str | None) -> None:
    """Refuse combinations that mean nothing, before any work, naming the option."""
    if kind is not None and kind not in KINDS:
        fail(f"--kind {kind!r}: use one of {', '.join(KINDS)}")
    if seed is not None and kind not in (None, "similar"):
        fail("--seed applies to --kind similar")
    if apply and to_playlist is None:
        fail("--apply writes playlists: give --to-playlist NAME")


def _table(kind: str, rows: list[Recommendation]) -> Table | str:
    if not rows:
        return f"{kind}: nothing to recommend yet"
    table = Table(title=kind, title_justify="left")
    for column in ("#", "track", "artist", "score", "reason"):
        table.add_column(column, justify="right" if column in ("#", "score") else "left")
    for n, r in enumerate(rows, start=1):
        table.add_row(str(n), r.track_name or "?", r.artist_name or "?", f"{r.score:.2f}", r.reason)
    return table


def _plan_line(p: PlaylistPlan, applied: bool) -> str:
    what = {
        "create": f"create a private playlist with {len(p.uris)} tracks",
        "recreate": f"create again (the old one was deleted) with {len(p.uris)} tracks",
        "update": f"update {p.playlist_id}: +{len(p.added)} -{len(p.removed)} tracks",
        "unchanged": f"unchanged ({len(p.uris)} tracks)",
    }[p.action]
    done = {"create": "created", "recreate": "created again", "update": "updated", "unchanged": "unchanged"}
    head = f"{p.name}: {done[p.action]}" if applied else f"{p.name}: would {what}"
    if applied and p.action != "unchanged":
        head += f" ({p.playlist_id}, {len(p.uris)} tracks)"
    if p.skipped:
        head += f"; {p.skipped} items without a Spotify id left out"
    return head
