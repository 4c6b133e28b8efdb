"""Whom a simulated listener follows, day by day: a starting set, then a few follows and unfollows
a week, each day's events drawn from their own seeded generator (so any moment can be asked in any
order and gets the same answer)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from spotify_pipeline.simulator.day import DAY_MS, User, ms_of
from spotify_pipeline.simulator.ids import stable_seed
from spotify_pipeline.simulator.profiles import SPECS


class FollowHistory:
    """The follow events of every user of one model (``seed``), cached per user and day."""

    def __init__(self, seed: int, artist_pool: list[str]) -> None:
        self.seed = seed
        self._artist_pool = artist_pool  # artists with tracks: what a listener may discover
        self._states: dict[str, list[frozenset[str]]] = {}  # per user: the set at the end of each day
        self._events: dict[tuple[str, date], list[tuple[int, str, str]]] = {}

    def at(self, user: User, at: datetime) -> list[str]:
        """Artist ids ``user`` follows at ``at`` (aware), sorted by id."""
        since_day = user.since.date()
        if at <= user.since:
            return sorted(user.initial_follows)
        states = self._states.setdefault(user.id, [])
        target = at.date()
        # Extend the per-day end states up to the day before `at`.
        while len(states) < (target - since_day).days:
            day = since_day + timedelta(days=len(states))
            current = states[-1] if states else user.initial_follows
            states.append(self._apply(user, day, current, None))
        current = states[(target - since_day).days - 1] if target > since_day else user.initial_follows
        return sorted(self._apply(user, target, current, ms_of(at)))

    def _apply(self, user: User, day: date, state: frozenset[str], before_ms: int | None) -> frozenset[str]:
        followed = set(state)
        since_ms = ms_of(user.since)
        for when, op, artist in self._day_events(user, day, state):
            if when < since_ms or (before_ms is not None and when >= before_ms):
                continue
            if op == "follow":
                followed.add(artist)
            else:
                followed.discard(artist)
        return frozenset(followed)

    def _day_events(self, user: User, day: date, state: frozenset[str]) -> list[tuple[int, str, str]]:
        key = (user.id, day)
        events = self._events.get(key)
        if events is None:
            spec = SPECS[user.profile]
            rng = random.Random(stable_seed(self.seed, user.id, day.isoformat(), "follows"))
            day_ms = ms_of(datetime(day.year, day.month, day.day, tzinfo=UTC))
            events = []
            if rng.random() < spec.follow_chance:
                candidates = [a for a in user.favourite_artists if a not in state]
                if not candidates or rng.random() < 0.3:
                    candidates = [a for a in self._artist_pool if a not in state]
                if candidates:
                    events.append((day_ms + rng.randrange(DAY_MS), "follow", rng.choice(candidates)))
            if state and rng.random() < spec.unfollow_chance:
                events.append((day_ms + rng.randrange(DAY_MS), "unfollow", rng.choice(sorted(state))))
            events.sort()
            self._events[key] = events
        return events
