"""The co-listening list as first written: every (seed, other) pair of every session counted one
by one. Kept as the reference the faster ``model.similar`` is checked against (same picks, scores
equal up to the order floats were added in, same reasons)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime

from spotify_pipeline.insights.recommend.history import History
from spotify_pipeline.insights.recommend.model import ARTIST_WEIGHT, HALF_LIFE, RECENT, Pick, sessions


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
