"""The three lists, computed from a ``History`` alone (pure: no clock, no database).

* rediscover: loved tracks (finished plays weigh 1, skips 0.25) not played in the last ``REST``
  days, ranked by love, raised when the track's artist has gone quiet as well;
* similar: item-to-item co-listening. Plays less than ``SESSION_GAP`` apart form a session; two
  tracks co-occur when one session holds both. Counts are weighted by the session's recency (half
  life ``HALF_LIFE``) and normalised by cosine, ``c(i,j) / sqrt(n(i) n(j))``; an artist-level
  cosine, scaled down, fills in where tracks are too sparse. Seeds: one track or artist, or every
  track of the last week weighted by its plays; the seeds themselves are not recommended;
* baselines for the backtest: most played ever, most played recently, random from history.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from .history import History

SESSION_GAP = timedelta(minutes=30)
HALF_LIFE = timedelta(days=90)
REST = timedelta(days=28)
RECENT = timedelta(days=7)
QUIET_BOOST = 3.0
QUIET_FULL = 60  # days
ARTIST_WEIGHT = 1.0


@dataclass(frozen=True)
class Pick:
    item: str
    score: float
    reason: str  # "{seed}" stands for the seed track's name, filled in by lists.py
    seed: str | None = None


def rediscover(history: History, now: datetime, limit: int) -> list[Pick]:
    """Loved tracks (finished plays 1, skips 0.25) not played for ``REST``; a track whose artist has
    gone quiet too ranks higher (up to ``1 + QUIET_BOOST`` after ``QUIET_FULL``): favourites come back
    in stretches, and the backtest shows a quiet artist's hits return sooner than a busy artist's
    neglected ones."""
    love: dict[str, float] = defaultdict(float)
    plays: Counter[str] = Counter()
    last: dict[str, datetime] = {}
    artist_of: dict[str, str] = {}
    artist_last: dict[str, datetime] = {}
    for p in history.plays:
        love[p.item] += p.liked
        plays[p.item] += 1
        last[p.item] = p.at
        artist_of[p.item] = p.artist
        artist_last[p.artist] = p.at
    picks = []
    for item, at in last.items():
        if now - at < REST:
            continue
        quiet_days = (now - artist_last[artist_of[item]]).days
        score = love[item] * (1 + QUIET_BOOST * min(quiet_days, QUIET_FULL) / QUIET_FULL)
        why = f"you played it {plays[item]} times, last {(now - at).days} days ago"
        if quiet_days >= REST.days:
            why += f"; nothing by {history.items[item].artist_name or 'its artist'} for {quiet_days} days"
        picks.append(Pick(item, score, why))
    picks.sort(key=lambda k: (-k.score, k.item))
    return picks[:limit]


def sessions(history: History) -> list[tuple[datetime, list[str]]]:
    out: list[tuple[datetime, list[str]]] = []
    previous: datetime | None = None
    for p in history.plays:
        if previous is None or p.at - previous > SESSION_GAP:
            out.append((p.at, []))
        out[-1][1].append(p.item)
        previous = p.at
    return out


def similar(history: History, now: datetime, limit: int, seeds: dict[str, float] | None = None) -> list[Pick]:
    """Tracks co-listened with ``seeds`` (item -> weight); default: the last week's tracks by plays."""
    if seeds is None:
        seeds = dict(Counter(p.item for p in history.plays if now - p.at <= RECENT))
    if not seeds:
        return []
    artist_of = {p.item: p.artist for p in history.plays}
    split = sessions(history)
    n: dict[str, float] = defaultdict(float)  # weighted sessions holding each item
    na: dict[str, float] = defaultdict(float)
    pair: dict[str, dict[str, float]] = defaultdict(
        lambda: defaultdict(float)
    )  # seed -> other -> weighted co-occurrence
    raw_pair: dict[str, Counter[str]] = defaultdict(Counter)  # seed -> other -> sessions (unweighted)
    apair: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    seed_artists = {artist_of.get(s, "") for s in seeds}
    for started, items in split:
        w = 0.5 ** ((now - started) / HALF_LIFE)
        unique = set(items)
        artists = {artist_of[i] for i in unique}
        for i in unique:
            n[i] += w
        for a in artists:
            na[a] += w
        for seed in unique & seeds.keys():
            for other in unique - {seed}:
                pair[seed][other] += w
                raw_pair[seed][other] += 1
        for a in artists & seed_artists:
            for b in artists - {a}:
                apair[a][b] += w
    plays_of = Counter(p.item for p in history.plays)
    most = max(plays_of.values())
    scores: dict[str, float] = defaultdict(float)
    best: dict[str, tuple[float, str]] = {}
    for seed, weight in seeds.items():
        for other, c in pair[seed].items():
            if other in seeds:
                continue
            contribution = weight * c / math.sqrt(n[seed] * n[other])
            scores[other] += contribution
            if contribution > best.get(other, (0.0, ""))[0]:
                best[other] = (contribution, seed)
    by_artist: dict[str, float] = defaultdict(float)
    for seed, weight in seeds.items():
        by_artist[artist_of.get(seed, "")] += weight
    for a, weight in by_artist.items():
        for other in plays_of:
            if other in seeds:
                continue
            b = artist_of[other]
            c = apair[a].get(b, 0.0) if b != a else na[a]
            if c:
                scores[other] += (
                    ARTIST_WEIGHT * weight * c / math.sqrt(na[a] * na[b]) * plays_of[other] / most
                )
    picks = []
    for item, score in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])):
        seed = best.get(item, (0.0, ""))[1]
        if seed:
            reason = f"played with {{seed}} in {raw_pair[seed][item]} sessions"
        else:
            reason = "often played in the same sessions as the artists you play now"
        picks.append(Pick(item, score, reason, seed or None))
        if len(picks) == limit:
            break
    return picks


def most_played(
    history: History, limit: int, since: datetime | None = None, pool: set[str] | None = None
) -> list[str]:
    counts = Counter(p.item for p in history.plays if (since is None or p.at >= since))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [i for i, _ in ranked if pool is None or i in pool][:limit]


def random_from_history(history: History, limit: int, seed: int, pool: set[str] | None = None) -> list[str]:
    items = sorted({p.item for p in history.plays} if pool is None else pool)
    return random.Random(seed).sample(items, min(limit, len(items)))
