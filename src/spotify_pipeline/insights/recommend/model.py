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
from operator import attrgetter

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
    love: dict[str, float] = {}
    last: dict[str, datetime] = {}
    artist_of: dict[str, str] = {}
    artist_last: dict[str, datetime] = {}
    for at, item, artist, liked in history.plays:  # one pass; a long history has millions
        love[item] = love.get(item, 0.0) + liked
        last[item] = at
        artist_of[item] = artist
        artist_last[artist] = at
    plays = Counter(map(attrgetter("item"), history.plays))
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
    """Tracks co-listened with ``seeds`` (item -> weight); default: the last week's tracks by plays.

    The score of a track ``o`` is ``sum over seeds s of weight(s) * c(s, o) / sqrt(n(s) n(o))``,
    where ``c(s, o)`` sums the recency weights of the sessions holding both, plus the artist-level
    term. Counting every (seed, other) pair of every session costs sessions x seeds x tracks (a
    heavy listener's ten years: 45 million pairs, minutes); the sum is regrouped by session instead,
    ``sum over sessions k holding o of w(k) * sum over seeds s in k of weight(s) / sqrt(n(s))``,
    which costs one pass over the sessions' tracks. Only the picks' reasons need the pairs: for
    them alone, the best seed and its session count are then counted the direct way.
    """
    if seeds is None:
        seeds = dict(Counter(p.item for p in history.plays if now - p.at <= RECENT))
    if not seeds:
        return []
    artist_of = {p.item: p.artist for p in history.plays}
    split = [
        (0.5 ** ((now - started) / HALF_LIFE), set(items), {artist_of[i] for i in items})
        for started, items in sessions(history)
    ]
    n: dict[str, float] = defaultdict(float)  # weighted sessions holding each item
    na: dict[str, float] = defaultdict(float)  # ... each artist
    for w, unique, artists in split:
        for i in unique:
            n[i] += w
        for a in artists:
            na[a] += w
    by_artist: dict[str, float] = defaultdict(float)  # seed artists, weighted by their seeds
    for seed, weight in seeds.items():
        by_artist[artist_of.get(seed, "")] += weight
    share = {seed: weight / math.sqrt(n[seed]) for seed, weight in seeds.items() if n.get(seed)}
    artist_share = {a: weight / math.sqrt(na[a]) for a, weight in by_artist.items() if na.get(a)}
    together: dict[str, float] = defaultdict(float)  # sum over sessions of w * (seed shares in it)
    artist_together: dict[str, float] = defaultdict(float)
    seeds_of: list[list[str]] = []  # the seeds each session holds
    for w, unique, artists in split:
        in_session = [i for i in unique if i in share]
        seeds_of.append(in_session)
        if in_session:
            pull = w * sum(share[i] for i in in_session)
            for other in unique:
                if other not in seeds:
                    together[other] += pull
        seed_artists = [a for a in artists if a in artist_share]
        if seed_artists:
            total = sum(artist_share[a] for a in seed_artists)
            for b in artists:
                if b not in artist_share:
                    artist_together[b] += w * total
                elif len(seed_artists) > 1:  # a seed artist, with another seed artist in the session
                    artist_together[b] += w * (total - artist_share[b])
    plays_of = Counter(map(attrgetter("item"), history.plays))
    most = max(plays_of.values())
    by_artist_score: dict[str, float] = {}
    for b in na:
        score = artist_together.get(b, 0.0) / math.sqrt(na[b]) + by_artist.get(b, 0.0)
        if score:
            by_artist_score[b] = ARTIST_WEIGHT * score
    scores: dict[str, float] = {}
    for other, plays in plays_of.items():
        if other in seeds:
            continue
        score = together[other] / math.sqrt(n[other]) if other in together else 0.0
        artist_score = by_artist_score.get(artist_of[other])
        if artist_score:
            score += artist_score * plays / most
        if other in together or artist_score:
            scores[other] = score
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    reasons = _best_seeds({item for item, _ in ranked}, seeds, n, split, seeds_of)
    return [_pick(item, score, *reasons.get(item, ("", 0))) for item, score in ranked]


def _best_seeds(
    picked: set[str],
    seeds: dict[str, float],
    n: dict[str, float],
    split: list[tuple[float, set[str], set[str]]],
    seeds_of: list[list[str]],
) -> dict[str, tuple[str, int]]:
    """For each pick, the seed that contributes most to its score (the first of equal ones, in the
    seeds' order) and how many sessions hold both: counted pair by pair, for the picks alone."""
    c: dict[str, dict[str, float]] = defaultdict(dict)
    count: dict[str, Counter[str]] = defaultdict(Counter)
    for (w, unique, _), in_session in zip(split, seeds_of, strict=True):
        if not in_session:
            continue
        for item in picked & unique:
            weights = c[item]
            for seed in in_session:
                weights[seed] = weights.get(seed, 0.0) + w
            count[item].update(in_session)
    out: dict[str, tuple[str, int]] = {}
    for item, weights in c.items():
        best, best_seed = 0.0, ""
        for seed, weight in seeds.items():
            if seed in weights:
                contribution = weight * weights[seed] / math.sqrt(n[seed] * n[item])
                if contribution > best:
                    best, best_seed = contribution, seed
        if best_seed:
            out[item] = (best_seed, count[item][best_seed])
    return out


def _pick(item: str, score: float, seed: str, sessions_together: int) -> Pick:
    if seed:
        return Pick(item, score, f"played with {{seed}} in {sessions_together} sessions", seed)
    return Pick(item, score, "often played in the same sessions as the artists you play now")


def most_played(
    history: History, limit: int, since: datetime | None = None, pool: set[str] | None = None
) -> list[str]:
    counts = Counter(p.item for p in history.plays if (since is None or p.at >= since))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [i for i, _ in ranked if pool is None or i in pool][:limit]


def random_from_history(history: History, limit: int, seed: int, pool: set[str] | None = None) -> list[str]:
    items = sorted({p.item for p in history.plays} if pool is None else pool)
    return random.Random(seed).sample(items, min(limit, len(items)))
