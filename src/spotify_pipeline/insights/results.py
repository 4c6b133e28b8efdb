"""What the read layer returns: frozen dataclasses, each with ``as_dict()`` (JSON-safe), so the
CLI's ``--json``, its CSV and a dashboard's ``/api/...`` answer with the same numbers.

Minutes are rounded to one decimal in ``as_dict`` only; the dataclasses keep milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime
from typing import Any

from .period import Period


def jsonable(value: Any) -> Any:
    """Dataclasses, dates and tuples as JSON types (dates and times as ISO 8601 strings)."""
    if hasattr(value, "as_dict") and callable(value.as_dict):
        return value.as_dict()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def minutes(ms: int) -> float:
    return round(ms / 60_000, 1)


class _Result:
    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = minutes(value) if f.name == "ms" else jsonable(value)
        if "ms" in out:
            out["minutes"] = out.pop("ms")
        return out


@dataclass(frozen=True)
class Totals(_Result):
    plays: int
    ms: int  # listening time: ms_played where known, else the track's duration
    tracks: int  # distinct tracks (by id, else by normalised artist + track name)
    artists: int  # distinct primary artists
    albums: int  # distinct albums


@dataclass(frozen=True)
class TopItem(_Result):
    key: str  # the Spotify id, or "name:<normalised names>" for plays without one
    name: str
    artist: str | None  # the primary artist (tracks, albums); None for artists
    plays: int
    ms: int


@dataclass(frozen=True)
class TopList(_Result):
    kind: str  # artists | tracks | albums
    by_plays: tuple[TopItem, ...]
    by_minutes: tuple[TopItem, ...]


@dataclass(frozen=True)
class Day(_Result):
    day: date  # local calendar day
    plays: int
    ms: int


@dataclass(frozen=True)
class ClockGrid(_Result):
    """Plays and minutes per local weekday (0 = Monday) and hour (0..23): ``plays[weekday][hour]``."""

    plays: tuple[tuple[int, ...], ...]
    minutes: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class DiscoveryMonth(_Result):
    month: str  # YYYY-MM, local
    new_tracks: int  # tracks first played ever in that month
    new_artists: int  # primary artists first played ever in that month


@dataclass(frozen=True)
class Streak(_Result):
    days: int
    first: date | None
    last: date | None


@dataclass(frozen=True)
class Streaks(_Result):
    """Runs of consecutive local days with at least one play, within the period. ``current`` ends
    on the period's last day (or the day before, so a day not yet listened to does not break it)."""

    current: Streak
    longest: Streak


@dataclass(frozen=True)
class Skips(_Result):
    """Only export rows say whether a play was skipped; API plays never do."""

    known: int  # plays whose skip flag is known
    skipped: int

    def as_dict(self) -> dict[str, Any]:
        rate = round(self.skipped / self.known, 4) if self.known else None
        return {"known": self.known, "skipped": self.skipped, "rate": rate}


@dataclass(frozen=True)
class FollowEvent(_Result):
    at: datetime  # UTC: the fetch that first listed (or first no longer listed) the artist
    day: date  # local
    user: str
    artist_id: str
    artist: str
    event: str  # followed | unfollowed


@dataclass(frozen=True)
class Following(_Result):
    followed_now: int  # artists followed at the last fetch (open periods)
    events: tuple[FollowEvent, ...]  # within the period, oldest first


@dataclass(frozen=True)
class Stats(_Result):
    """Everything ``spotify-pipeline stats`` shows, for one user (or all: ``user`` None)."""

    user: str | None
    period: Period
    totals: Totals
    top_artists: TopList
    top_tracks: TopList
    top_albums: TopList
    minutes_per_day: tuple[Day, ...]
    clock: ClockGrid
    discoveries: tuple[DiscoveryMonth, ...]
    streaks: Streaks
    skips: Skips
    following: Following
