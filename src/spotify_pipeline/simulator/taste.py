"""Structure in what a listener plays, for recommending to be meaningful (opt-in).

With ``SimulatorConfig(structured_taste=True)`` a listener's favourite artists fall into a few
clusters (tastes). A music session picks one cluster and stays in it, so artists of one cluster are
played together; how much each cluster is played drifts slowly over the weeks. Each favourite artist
has its own cycle of active and dormant stretches, so an old favourite goes quiet for weeks and comes
back. An artist's new release (``releases.ReleaseSchedule``) is played often in the four weeks after
it comes out. All of it is deterministic from the seed and the user, and readable as ground truth
(``clusters``, ``is_active``).

The default (flat) model is untouched: its random draws happen in the same order as before.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from .ids import stable_seed
from .model import Context
from .releases import ReleaseSchedule, released_by

if TYPE_CHECKING:
    from .catalog import Catalog

NEW_RELEASE_WINDOW = timedelta(days=28)
_DORMANT_WEIGHT = 0.02  # an artist in a dormant stretch is (almost) never picked
_EPOCH_DAY = date(2020, 1, 1)

ContextPick = tuple["Context | None", list[str], bool]


@dataclass(frozen=True)
class _Cycle:
    period: int  # days
    active_share: float
    phase: int  # days


@dataclass(frozen=True)
class UserTaste:
    clusters: tuple[tuple[str, ...], ...]
    cluster_period: tuple[int, ...]  # days of each cluster's slow drift
    cluster_phase: tuple[float, ...]
    cycles: dict[str, _Cycle]
    rank: dict[str, int]


class Taste:
    def __init__(self, catalog: Catalog, seed: int, schedule: ReleaseSchedule) -> None:
        self.catalog = catalog
        self.seed = seed
        self.schedule = schedule
        self._users: dict[str, UserTaste] = {}

    def of(self, user_id: str, favourites: list[str]) -> UserTaste:
        taste = self._users.get(user_id)
        if taste is None:
            taste = self._users[user_id] = self._make(user_id, favourites)
        return taste

    def _make(self, user_id: str, favourites: list[str]) -> UserTaste:
        rng = random.Random(stable_seed(self.seed, user_id, "clusters"))
        k = max(2, min(6, len(favourites) // 8))
        shuffled = list(favourites)
        rng.shuffle(shuffled)
        clusters = tuple(tuple(shuffled[i::k]) for i in range(k))
        cycles = {
            a: _Cycle(rng.randint(40, 120), rng.uniform(0.45, 0.8), rng.randint(0, 119)) for a in favourites
        }
        return UserTaste(
            clusters=clusters,
            cluster_period=tuple(rng.randint(30, 90) for _ in clusters),
            cluster_phase=tuple(rng.uniform(0, 2 * math.pi) for _ in clusters),
            cycles=cycles,
            rank={a: r for r, a in enumerate(favourites)},
        )

    def clusters(self, user_id: str) -> tuple[tuple[str, ...], ...]:
        """Ground truth: the user's taste clusters (artist ids)."""
        return self._users[user_id].clusters

    def is_active(self, user_id: str, artist_id: str, day: date) -> bool:
        """Ground truth: whether a favourite artist is in an active stretch on ``day``."""
        cycle = self._users[user_id].cycles.get(artist_id)
        if cycle is None:
            return False
        position = ((day - _EPOCH_DAY).days + cycle.phase) % cycle.period
        return position < cycle.active_share * cycle.period

    def picker(
        self, rng: random.Random, user_id: str, favourites: list[str], day: date
    ) -> Callable[[], ContextPick]:
        """The context picker of one session: its cluster is drawn once, here."""
        taste = self.of(user_id, favourites)
        n = (day - _EPOCH_DAY).days
        drift = [
            1.0 + 0.9 * math.sin(2 * math.pi * n / period + phase)
            for period, phase in zip(taste.cluster_period, taste.cluster_phase, strict=True)
        ]
        cluster = rng.choices(taste.clusters, drift)[0]
        weights = [
            (1 / (taste.rank[a] + 1) ** 0.5) * (1.0 if self.is_active(user_id, a, day) else _DORMANT_WEIGHT)
            for a in cluster
        ]
        cum = list(itertools.accumulate(weights))
        return lambda: self._pick(rng, list(cluster), cum, day)

    def _pick(self, rng: random.Random, artists: list[str], cum: list[float], day: date) -> ContextPick:
        cat = self.catalog
        artist = rng.choices(artists, cum_weights=cum)[0]
        fresh = self.schedule.recent(artist, day, NEW_RELEASE_WINDOW)
        roll = rng.random()
        if fresh is not None and roll < 0.5:
            queue = list(cat.albums[fresh.album_id].track_ids)
            return Context("album", f"spotify:album:{fresh.album_id}"), queue, False
        if roll < 0.35:
            albums = [a for a in cat.artist_album_ids[artist] if released_by(cat.albums[a], day)]
            album = cat.albums[rng.choice(albums)]
            return Context("album", f"spotify:album:{album.id}"), list(album.track_ids), False
        if roll < 0.65:
            own = [
                t
                for t in cat.artist_track_ids[artist]
                if released_by(cat.albums[cat.tracks[t].album_id], day)
            ]
            queue = sorted(dict.fromkeys(own), key=lambda t: -cat.tracks[t].popularity)[:25]
            rng.shuffle(queue)
            return Context("artist", f"spotify:artist:{artist}"), queue, True
        # Liked songs from this taste: a mix of the cluster's artists, each a favourite track or two.
        picks = rng.choices(artists, cum_weights=cum, k=15)
        queue = [rng.choice(cat.artist_track_ids[a][:8]) for a in picks]
        return None, queue, True
