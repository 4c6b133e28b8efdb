"""What ``recommend`` shows and a dashboard page can call: the lists, each item with its reason.

``recommend(conn, user, kind, ...)`` gives one list; ``all_lists(...)`` gives the three at once.
``as_of`` uses only plays (and release checks) before that moment, so a history can be backtested.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine

from ...exports.matching import normalise_name
from . import model
from .history import History, load_history
from .releases import new_releases

KINDS = ("rediscover", "similar", "releases")


class UnknownSeed(ValueError):
    """The seed names no track or artist in the history."""


@dataclass(frozen=True)
class Recommendation:
    kind: str
    track_id: str | None
    track_name: str | None
    artist_name: str | None
    score: float
    reason: str
    album_id: str | None = None  # releases: the album or single (its name is track_name)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["score"] = round(self.score, 4)
        return out


def recommend(
    conn: Connection,
    user_id: str,
    kind: str,
    *,
    now: datetime,
    limit: int = 25,
    seed: str | None = None,
    history: History | None = None,
) -> list[Recommendation]:
    if kind not in KINDS:
        raise ValueError(f"unknown list {kind!r}: use one of {', '.join(KINDS)}")
    if kind == "releases":
        return [
            Recommendation("releases", None, r.name, r.artist_name, score, reason, r.album_id)
            for r, score, reason in new_releases(conn, user_id, now, limit)
        ]
    history = history if history is not None else load_history(conn, user_id, now)
    if kind == "rediscover":
        picks = model.rediscover(history, now, limit)
    else:
        picks = model.similar(history, now, limit, seeds=resolve_seed(history, seed) if seed else None)
    return [_item(history, kind, p) for p in picks]


def lists_for(
    engine: Engine,
    user_id: str,
    *,
    now: datetime,
    kind: str | None = None,
    seed: str | None = None,
    limit: int = 25,
) -> dict[str, list[Recommendation]]:
    """The asked list (all three without ``kind``; ``similar`` when only a seed is given), from the
    plays before ``now``. A dashboard page calls this as it is."""
    with engine.connect() as conn:
        if kind is None and seed is None:
            return all_lists(conn, user_id, now=now, limit=limit)
        kinds = [kind] if kind is not None else ["similar"]
        return {k: recommend(conn, user_id, k, now=now, limit=limit, seed=seed) for k in kinds}


def all_lists(
    conn: Connection, user_id: str, *, now: datetime, limit: int = 25
) -> dict[str, list[Recommendation]]:
    history = load_history(conn, user_id, now)
    return {kind: recommend(conn, user_id, kind, now=now, limit=limit, history=history) for kind in KINDS}


def resolve_seed(history: History, seed: str) -> dict[str, float]:
    """A track id, a track name or an artist name -> seed items weighted by plays."""
    if seed in history.items:
        return {seed: 1.0}
    wanted = normalise_name(seed)
    tracks = {k for k, i in history.items.items() if normalise_name(i.track_name) == wanted}
    if not tracks:
        tracks = {k for k, i in history.items.items() if normalise_name(i.artist_name) == wanted}
    if not tracks or not wanted:
        raise UnknownSeed(
            f"no track or artist {seed!r} in the plays before this moment: give a track id, a track name or an artist name you played"
        )
    plays: dict[str, float] = {}
    for p in history.plays:
        if p.item in tracks:
            plays[p.item] = plays.get(p.item, 0.0) + 1.0
    return plays


def _item(history: History, kind: str, pick: model.Pick) -> Recommendation:
    item = history.items[pick.item]
    reason = pick.reason
    if pick.seed is not None:
        seed = history.items[pick.seed]
        reason = reason.replace(
            "{seed}", f"{seed.track_name or pick.seed} by {seed.artist_name or 'unknown'}"
        )
    return Recommendation(kind, item.track_id, item.track_name, item.artist_name, pick.score, reason)
