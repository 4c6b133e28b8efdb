"""One listener's day, planned: who the listener is (``User``), the sessions of a day
(``DayPlan`` draws them) and how each track of a music session ends (``how_it_ends``).

Every draw comes from the day's ``random.Random`` in a fixed order: that order is the output, so
the same seed gives the same day only while these functions draw as they do (tests/simulator
pin it).
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from spotify_pipeline.simulator.profiles import ProfileSpec

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_MS = 86_400_000
MINUTE = 60_000


@dataclass
class User:
    id: str
    profile: str
    since: datetime
    country: str
    utc_offset_min: int
    mobile: str
    desktop: str
    favourite_artists: list[str]
    favourite_weights: list[float]
    playlists: list[str]
    shows: list[str]
    audiobook: str | None
    initial_follows: frozenset[str]
    hour_cum_weights: list[float]  # cumulative session-start weights per UTC hour


@dataclass
class Session:
    start_ms: int
    kind: str  # music | podcast | audiobook
    n: int
    platform: str
    private: bool
    offline: bool
    skip_rate: float
    allow_pause: bool
    anchored: bool = False  # commute and binge bursts keep their time: the session before yields to them
    sampling: bool = False  # a binge burst: most tracks are sampled for 30-60 s, then skipped


def dt(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def ms_of(when: datetime) -> int:
    delta = when - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


@dataclass
class DayPlan:
    """The sessions of one user's day, drawn from the day's ``rng`` (the order of draws is the output:
    the same seed gives the same day only while it stays as it is)."""

    rng: random.Random
    user: User
    spec: ProfileSpec
    day_ms: int

    def at_local(self, hour: float, spread_min: int) -> int:
        local = int(hour * 60 + self.rng.randint(-spread_min, spread_min))
        return (
            self.day_ms + ((local - self.user.utc_offset_min) % 1440) * MINUTE + self.rng.randint(0, 59_999)
        )

    def anytime(self) -> int:
        weights = self.user.hour_cum_weights
        hour = bisect.bisect_right(weights, self.rng.random() * weights[-1])
        return self.day_ms + min(hour, 23) * 3_600_000 + self.rng.randint(0, 3_599_999)

    def private(self) -> bool:
        return self.rng.random() < self.spec.private_chance

    def commutes(self) -> list[Session]:
        """Weekday commute bursts on the phone, music or a podcast."""
        rng, user, spec = self.rng, self.user, self.spec
        out = []
        for hour in (8.0, 17.75):
            if rng.random() < spec.commute_chance:
                podcast = rng.random() < spec.podcast_chance * 2 and user.shows
                n = 1 if podcast else rng.randint(8, 14)
                out.append(
                    Session(
                        self.at_local(hour, 30),
                        "podcast" if podcast else "music",
                        n,
                        user.mobile,
                        self.private(),
                        rng.random() < 0.25,
                        spec.skip_rate,
                        False,
                        anchored=True,
                    )
                )
        return out

    def podcast(self) -> Session | None:
        rng, user = self.rng, self.user
        if user.shows and rng.random() < self.spec.podcast_chance:
            return Session(
                self.anytime(),
                "podcast",
                rng.randint(1, 2),
                user.mobile,
                False,
                rng.random() < 0.1,
                0.0,
                True,
            )
        return None

    def audiobook(self) -> Session | None:
        rng, user = self.rng, self.user
        if user.audiobook and rng.random() < self.spec.audiobook_chance:
            return Session(
                self.at_local(22.0, 60), "audiobook", rng.randint(1, 2), user.mobile, False, False, 0.0, True
            )
        return None

    def binge(self) -> Session | None:
        """A burst of mostly skipped tracks, hunting for the right song: no pauses. Most are sampled
        for 30-60 s, long enough to count as plays, so more than 50 plays that the API shows fall
        inside two hours: more than one poll every 2 h can see. Kept 2.5 h clear of midnight UTC so
        the day boundary never cuts it short."""
        if self.rng.random() >= self.spec.binge_chance:
            return None
        start = min(self.at_local(20.5, 90), self.day_ms + DAY_MS - 150 * MINUTE)
        n = self.rng.randint(80, 110)
        return Session(
            start, "music", n, self.user.desktop, False, False, 0.8, False, anchored=True, sampling=True
        )

    def ordinary(self, budget: int) -> list[Session]:
        """The rest of the day's music, in sessions placed by the user's hour-of-day curve."""
        rng, user, spec = self.rng, self.user, self.spec
        out = []
        while budget > 0:
            lo, hi = spec.session_plays
            n = min(budget, rng.randint(lo, hi))
            budget -= n
            platform = user.mobile if rng.random() < 0.6 else user.desktop
            offline = platform == user.mobile and rng.random() < 0.03
            out.append(
                Session(self.anytime(), "music", n, platform, self.private(), offline, spec.skip_rate, True)
            )
        return out


def how_it_ends(rng: random.Random, s: Session, duration: int, last: bool) -> tuple[bool, int, str, int]:
    """How one track of a music session ends: (skipped, ms_played, reason_end, pause after it in ms)."""
    skipped = rng.random() < s.skip_rate
    pause = 0
    if skipped and s.sampling:
        r = rng.random()
        ms_played = rng.randint(3_000, 29_999) if r < 0.2 else rng.randint(30_000, min(60_000, duration))
        reason_end = "fwdbtn"
    elif skipped:
        r = rng.random()
        if r < 0.45:
            ms_played = rng.randint(800, 10_000)
        elif r < 0.75:
            ms_played = rng.randint(10_000, 29_999)
        else:
            ms_played = rng.randint(30_000, duration * 6 // 10)
        reason_end = rng.choices(("fwdbtn", "backbtn", "clickrow"), (85, 10, 5))[0]
    elif last and rng.random() < 0.6:
        # The session ends during this track: stopped, app closed, or the phone died.
        ms_played = rng.randint(duration // 5, duration)
        reason_end = rng.choices(("endplay", "logout", "unexpected-exit-while-paused"), (6, 3, 1))[0]
        if reason_end != "endplay":
            # Logged when the app noticed, not when the sound stopped.
            pause = rng.randint(0, 30) * MINUTE
    else:
        ms_played = max(1, duration - rng.randint(0, 800))
        reason_end = "trackdone"
    return skipped, ms_played, reason_end, pause
