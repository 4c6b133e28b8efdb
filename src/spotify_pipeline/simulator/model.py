"""The listening model: the ground truth of who played what, when, for how long.

Each user's day is generated on its own from ``random.Random(stable_seed(seed, user, day))`` and
cached, so ``plays()`` gives the same answer whatever window is asked and in whatever order. All
plays of a UTC day start and end inside that day (a session that would cross midnight stops
before it), so one day never overlaps the next and no cross-day state is needed.

What a day holds, by profile: listening sessions placed by an hour-of-day curve in the user's
local time (busier in the evening), weekday commute bursts on the phone, album / playlist / artist
contexts (or none) with shuffle, skips that end early, back-to-back repeats, the odd pause,
podcast and audiobook sessions, private sessions and offline plays. Binge listeners add bursts of
well over 50 mostly skipped plays inside two hours.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from spotify_pipeline.simulator.catalog import Catalog
from spotify_pipeline.simulator.day import DAY_MS, MINUTE, DayPlan, Session, User, dt, how_it_ends, ms_of
from spotify_pipeline.simulator.follows import FollowHistory
from spotify_pipeline.simulator.ids import stable_seed
from spotify_pipeline.simulator.profiles import PROFILES, SPECS

if TYPE_CHECKING:
    from spotify_pipeline.simulator.taste import Taste

MIN_API_MS = 30_000  # the API lists a play only after 30 s of playback


# Relative chance that a session starts in each local hour: quiet nights, a lunch bump, a high evening.
_HOUR_WEIGHTS = (
    0.6, 0.3, 0.15, 0.08, 0.05, 0.05, 0.2, 0.6, 0.9, 0.8, 0.7, 0.8,
    1.0, 0.9, 0.8, 0.8, 0.9, 1.1, 1.4, 1.7, 1.9, 1.8, 1.4, 1.0,
)  # fmt: skip
# Home country and its UTC offset in minutes (standard time is close enough for a listening curve).
_COUNTRIES = (("DE", 60), ("GB", 0), ("US", -300), ("SE", 60), ("NL", 60), ("FR", 60), ("BR", -180),
              ("JP", 540), ("IN", 330), ("AU", 600), ("CA", -360), ("ES", 60))  # fmt: skip
_MOBILE = ("android", "ios")
_DESKTOP = ("windows", "osx", "linux", "web_player")


@dataclass(frozen=True)
class Context:
    type: str  # "album" | "playlist" | "artist"
    uri: str


@dataclass(frozen=True)
class TruePlay:
    user_id: str
    kind: str  # "music" | "podcast" | "audiobook"
    track_id: str | None
    episode_id: str | None
    started_at: datetime
    ended_at: datetime  # ms precision; this is the API's played_at
    ms_played: int
    context: Context | None
    reason_start: str
    reason_end: str
    shuffle: bool
    skipped: bool
    private_session: bool
    offline: bool
    platform: str
    country: str
    available_at: datetime  # when the API starts listing the play (later than ended_at for late plays)
    chapter_id: str | None = None  # set for audiobook plays (track_id and episode_id are None then)

    @property
    def api_visible(self) -> bool:
        """Whether recently-played ever lists this play (music, not private, at least 30 s)."""
        return self.kind == "music" and not self.private_session and self.ms_played >= MIN_API_MS


def _aware(when: datetime, what: str) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {when.isoformat()}")
    return when.astimezone(UTC)


class ListeningModel:
    """Ground truth for several users, deterministic from ``seed``.

    ``late_share`` of the API-visible plays become visible ``late_delay`` (±50 %) after they ended,
    i.e. after newer plays, as Spotify's feed sometimes does. Changing it never changes the plays.
    """

    def __init__(
        self,
        catalog: Catalog,
        seed: int,
        late_share: float = 0.0,
        late_delay: timedelta = timedelta(minutes=40),
        taste: Taste | None = None,
    ) -> None:
        if not 0.0 <= late_share <= 1.0:
            raise ValueError(f"late_share must be between 0 and 1, got {late_share}")
        if late_delay < timedelta(0):
            raise ValueError(f"late_delay must not be negative, got {late_delay}")
        self.catalog = catalog
        self.seed = seed
        self.late_share = late_share
        self.late_delay = late_delay
        self.taste = taste  # structured tastes (simulator/taste.py); None: the flat model
        self._users: dict[str, User] = {}
        self._days: dict[tuple[str, date], tuple[TruePlay, ...]] = {}
        # Followed set at the end of each day since the user's `since`.
        self._artist_pool = sorted(a for a in catalog.artists if catalog.artist_track_ids.get(a))
        self._follows = FollowHistory(seed, self._artist_pool)

    # ----------------------------------------------------------------------------- users

    @property
    def users(self) -> dict[str, str]:
        """User id -> profile."""
        return {u.id: u.profile for u in self._users.values()}

    def add_user(self, user_id: str, profile: str, since: datetime) -> None:
        """Register a listener whose history starts at ``since``. Re-adding the same user is a no-op."""
        if profile not in SPECS:
            raise ValueError(
                f"unknown listener profile {profile!r} for user {user_id!r}; use one of {PROFILES}"
            )
        since = _aware(since, f"since for user {user_id!r}")
        existing = self._users.get(user_id)
        if existing is not None:
            if (existing.profile, existing.since) != (profile, since):
                raise ValueError(
                    f"user {user_id!r} already exists with profile {existing.profile!r} since "
                    f"{existing.since.isoformat()}; pick another user id"
                )
            return
        self._users[user_id] = self._make_user(user_id, profile, since)

    def _make_user(self, user_id: str, profile: str, since: datetime) -> User:
        spec = SPECS[profile]
        rng = random.Random(stable_seed(self.seed, user_id, "taste"))
        cat = self.catalog
        pool = self._artist_pool
        weights = [cat.artists[a].popularity ** 1.5 + 1 for a in pool]
        favourites: list[str] = []
        seen: set[str] = set()
        while len(favourites) < min(spec.favourite_artists, len(pool)):
            pick = rng.choices(pool, weights)[0]
            if pick not in seen:
                seen.add(pick)
                favourites.append(pick)
        country, offset = rng.choice(_COUNTRIES)
        # Session-start weight of each UTC hour = the weight of the same instant in local time.
        shifted = [_HOUR_WEIGHTS[(h + round(offset / 60)) % 24] for h in range(24)]
        playlists = sorted(cat.playlists)
        shows = sorted(cat.shows)
        books = sorted(cat.audiobooks)
        lo, hi = spec.initial_follows
        n_follow = rng.randint(lo, hi)
        follows = set(rng.sample(favourites, min(len(favourites), n_follow * 2 // 3)))
        while len(follows) < min(n_follow, len(pool)):
            follows.add(rng.choice(pool))
        return User(
            id=user_id,
            profile=profile,
            since=since,
            country=country,
            utc_offset_min=offset,
            mobile=rng.choice(_MOBILE),
            desktop=rng.choice(_DESKTOP),
            favourite_artists=favourites,
            favourite_weights=list(itertools.accumulate(1 / (r + 1) ** 0.8 for r in range(len(favourites)))),
            playlists=rng.sample(playlists, min(len(playlists), rng.randint(3, 8))),
            shows=rng.sample(shows, min(len(shows), rng.randint(1, 4))),
            audiobook=rng.choice(books) if books else None,
            initial_follows=frozenset(follows),
            hour_cum_weights=list(itertools.accumulate(shifted)),
        )

    def _user(self, user_id: str) -> User:
        try:
            return self._users[user_id]
        except KeyError:
            raise KeyError(f"unknown simulated user {user_id!r}; add it with add_user() first") from None

    # ----------------------------------------------------------------------------- plays

    def plays(self, user_id: str, start: datetime, end: datetime) -> list[TruePlay]:
        """Every play of the user with ``start <= ended_at < end``, oldest first."""
        user = self._user(user_id)
        start, end = _aware(start, "start"), _aware(end, "end")
        if end <= start:
            return []
        first = max(start, user.since).date()
        last = (end - timedelta(microseconds=1)).date()
        out: list[TruePlay] = []
        day = first
        while day <= last:
            out.extend(p for p in self._day(user, day) if start <= p.ended_at < end)
            day += timedelta(days=1)
        return out

    def _day(self, user: User, day: date) -> tuple[TruePlay, ...]:
        key = (user.id, day)
        cached = self._days.get(key)
        if cached is None:
            plays = self._generate_day(user, day)
            since_ms = ms_of(user.since)
            cached = tuple(p for p in plays if ms_of(p.started_at) >= since_ms)
            self._days[key] = cached
        return cached

    def _plan_sessions(self, rng: random.Random, user: User, day: date, day_ms: int) -> list[Session]:
        spec = SPECS[user.profile]
        plan = DayPlan(rng, user, spec, day_ms)
        local_weekday = (dt(day_ms + 12 * 3_600_000 + user.utc_offset_min * MINUTE)).weekday()
        weekend = local_weekday >= 5
        sessions: list[Session] = []
        budget = rng.randint(*spec.daily_plays)
        if weekend:
            budget = int(budget * 1.1)
        if not weekend:
            commutes = plan.commutes()
            sessions += commutes
            budget -= sum(c.n for c in commutes if c.kind == "music")
        # In this order: each draws from the day's rng.
        sessions += [s for s in (plan.podcast(), plan.audiobook(), plan.binge()) if s is not None]
        sessions += plan.ordinary(budget)
        sessions.sort(key=lambda s: s.start_ms)
        return sessions

    def _generate_day(self, user: User, day: date) -> list[TruePlay]:
        rng = random.Random(stable_seed(self.seed, user.id, day.isoformat()))
        day_ms = ms_of(datetime(day.year, day.month, day.day, tzinfo=UTC))
        day_end = day_ms + DAY_MS
        out: list[TruePlay] = []
        cursor = day_ms
        sessions = self._plan_sessions(rng, user, day, day_ms)
        for i, session in enumerate(sessions):
            # Sessions never overlap: a session planned inside the previous one starts after it ...
            start = session.start_ms
            if out:
                start = max(start, cursor + rng.randint(2, 20) * MINUTE)
            if start >= day_end - MINUTE:
                break
            # ... and ends before the next anchored one (a commute, a binge) is due.
            stop = next((s.start_ms - 2 * MINUTE for s in sessions[i + 1 :] if s.anchored), day_end)
            stop = min(day_end, max(stop, start + MINUTE))
            if session.kind == "music":
                plays = self._music_session(rng, user, session, start, stop)
            else:
                plays = self._spoken_session(rng, user, session, start, stop, day)
            if plays:
                out.extend(plays)
                cursor = ms_of(plays[-1].ended_at)
        return self._mark_late(user, day, out)

    def _mark_late(self, user: User, day: date, plays: list[TruePlay]) -> list[TruePlay]:
        # Its own random stream, two draws per play whatever the share, so late_share never
        # changes the plays themselves, only when they become visible.
        rng = random.Random(stable_seed(self.seed, user.id, day.isoformat(), "late"))
        out = []
        for p in plays:
            u, f = rng.random(), rng.random()
            if self.late_share and p.api_visible and u < self.late_share:
                p = _replace_available(p, p.ended_at + self.late_delay * (0.5 + f))
            out.append(p)
        return out

    def _pick_context(self, rng: random.Random, user: User) -> tuple[Context | None, list[str], bool]:
        """A context, its play queue and whether shuffle is on."""
        cat = self.catalog
        roll = rng.random()
        artist = rng.choices(user.favourite_artists, cum_weights=user.favourite_weights)[0]
        if roll < 0.3:
            albums = [a for a in cat.artist_album_ids[artist] if cat.albums[a].album_type == "album"]
            album = cat.albums[rng.choice(albums or cat.artist_album_ids[artist])]
            shuffle = rng.random() < 0.1
            queue = list(album.track_ids)
            if not shuffle and rng.random() < 0.3:
                queue = queue[rng.randrange(len(queue)) :]
            ctx: Context | None = Context("album", f"spotify:album:{album.id}")
        elif roll < 0.65 and user.playlists:
            playlist = cat.playlists[rng.choice(user.playlists)]
            shuffle = rng.random() < 0.65
            queue = list(playlist.track_ids)
            ctx = Context("playlist", f"spotify:playlist:{playlist.id}")
        elif roll < 0.8:
            tracks = sorted(cat.artist_track_ids[artist], key=lambda t: -cat.tracks[t].popularity)
            queue = list(dict.fromkeys(tracks))[:25]
            shuffle = rng.random() < 0.6
            ctx = Context("artist", f"spotify:artist:{artist}")
        else:
            # Liked songs, search results, a queue: the API reports no context.
            picks = rng.choices(user.favourite_artists, cum_weights=user.favourite_weights, k=15)
            queue = [rng.choice(cat.artist_track_ids[a]) for a in picks]
            shuffle = rng.random() < 0.5
            ctx = None
        if shuffle:
            rng.shuffle(queue)
        return ctx, queue, shuffle

    def _context_picker(
        self, rng: random.Random, user: User, start: int
    ) -> Callable[[], tuple[Context | None, list[str], bool]]:
        if self.taste is None:
            return lambda: self._pick_context(rng, user)
        return self.taste.picker(rng, user.id, user.favourite_artists, dt(start).date())

    def _music_session(
        self, rng: random.Random, user: User, s: Session, start: int, day_end: int
    ) -> list[TruePlay]:
        cat = self.catalog
        pick = self._context_picker(rng, user, start)
        ctx, queue, shuffle = pick()
        reason_start = rng.choices(("clickrow", "playbtn", "appload", "remote"), (5, 3, 2, 1))[0]
        t = start
        out: list[TruePlay] = []
        prev: str | None = None
        prev_full = False
        for i in range(s.n):
            if prev is not None and prev_full and rng.random() < 0.03:
                track_id = prev  # a repeat, back to back
                reason_start = rng.choice(("trackdone", "clickrow"))
            else:
                if not queue or rng.random() < 0.05:
                    ctx, queue, shuffle = pick()
                    if prev is not None:
                        reason_start = "clickrow"
                track_id = queue.pop(0)
            last = i == s.n - 1
            skipped, ms_played, reason_end, pause = how_it_ends(
                rng, s, cat.tracks[track_id].duration_ms, last
            )
            if s.allow_pause and not last and rng.random() < 0.03:
                pause = rng.randint(20_000, 15 * MINUTE)
            ended = t + ms_played + pause
            if ended >= day_end:
                break
            out.append(
                TruePlay(
                    user_id=user.id,
                    kind="music",
                    track_id=track_id,
                    episode_id=None,
                    started_at=dt(t),
                    ended_at=dt(ended),
                    ms_played=ms_played,
                    context=ctx,
                    reason_start=reason_start,
                    reason_end=reason_end,
                    shuffle=shuffle,
                    skipped=skipped,
                    private_session=s.private,
                    offline=s.offline,
                    platform=s.platform,
                    country=user.country,
                    available_at=dt(ended),
                )
            )
            reason_start = {"trackdone": "trackdone", "fwdbtn": "fwdbtn", "backbtn": "backbtn"}.get(
                reason_end, "clickrow"
            )
            prev, prev_full = track_id, reason_end == "trackdone"
            t = ended + rng.randint(0, 1_500)  # gapless to a short load
        return out

    def _spoken_session(
        self, rng: random.Random, user: User, s: Session, start: int, day_end: int, day: date
    ) -> list[TruePlay]:
        cat = self.catalog
        out: list[TruePlay] = []
        t = start
        for i in range(s.n):
            episode_id = chapter_id = None
            if s.kind == "podcast":
                show = cat.shows[rng.choice(user.shows)]
                episode_id = rng.choice(show.episode_ids)
                duration = cat.episodes[episode_id].duration_ms
            else:
                assert user.audiobook is not None
                chapters = cat.audiobooks[user.audiobook].chapter_ids
                # Progress through the book a chapter every couple of days.
                index = ((day - user.since.date()).days // 2 + i) % len(chapters)
                chapter_id = chapters[index]
                duration = cat.chapters[chapter_id].duration_ms
            ms_played = min(duration, rng.randint(2, 55) * MINUTE + rng.randint(0, 59_999))
            done = ms_played == duration
            ended = t + ms_played + (0 if done else rng.randint(0, 2_000))
            if ended >= day_end:
                break
            out.append(
                TruePlay(
                    user_id=user.id,
                    kind=s.kind,
                    track_id=None,
                    episode_id=episode_id,
                    started_at=dt(t),
                    ended_at=dt(ended),
                    ms_played=ms_played,
                    context=None,
                    reason_start=rng.choice(("clickrow", "playbtn", "appload")) if i == 0 else "trackdone",
                    reason_end="trackdone" if done else rng.choice(("endplay", "logout")),
                    shuffle=False,
                    skipped=False,
                    private_session=s.private,
                    offline=s.offline,
                    platform=s.platform,
                    country=user.country,
                    available_at=dt(ended),
                    chapter_id=chapter_id,
                )
            )
            t = ended + rng.randint(500, 5_000)
        return out

    # ----------------------------------------------------------------------------- follows

    def followed_artists(self, user_id: str, at: datetime) -> list[str]:
        """Artist ids the user follows at ``at``, sorted by id (the order GET /me/following pages in).

        The set at ``since`` is the user's starting set; after that, a few follows and unfollows a week.
        """
        return self._follows.at(self._user(user_id), _aware(at, "at"))


def _replace_available(play: TruePlay, when: datetime) -> TruePlay:
    return replace(play, available_at=dt(ms_of(when)))  # keep ms precision like every other instant
