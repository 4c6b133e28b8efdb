"""The co-listening list regrouped by session gives what counting every (seed, other) pair gave.

Random histories (a few artists and tracks, sessions of random length and gaps, some tracks by an
unknown artist, plays over two years so recency weights spread) and random seeds (the default, or
a few tracks with weights): the fast ``model.similar`` and the pair-by-pair reference
(``tests/recommend/reference_model.py``) give the same picks in the same order, scores equal up to
the order floats were added in (picks whose scores tie that closely may swap), and the same reasons
naming the same seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.recommend.reference_model import similar as reference_similar

from spotify_pipeline.insights.recommend import model
from spotify_pipeline.insights.recommend.history import build_history

NOW = datetime(2026, 10, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    played_at: datetime
    track_id: str | None
    track_name: str
    artist_name: str | None
    ms_played: int = 200_000
    skipped: bool = False
    reason_end: str = "trackdone"


plays = st.lists(
    st.tuples(
        st.integers(0, 11),  # track
        st.integers(1, 3000),  # minutes since the previous play: some over 30 start a session
        st.booleans(),  # skipped
    ),
    min_size=1,
    max_size=120,
)


def _history(picks: list[tuple[int, int, bool]], start_days: int) -> list[Row]:
    rows, at = [], NOW - timedelta(days=start_days)
    for track, minutes, skipped in picks:
        at += timedelta(minutes=minutes)
        if at >= NOW:
            break
        artist = None if track == 11 else f"Artist {track % 4}"
        rows.append(Row(at, f"{track:022d}", f"Track {track}", artist, skipped=skipped))
    return rows


@settings(max_examples=300, deadline=None)
@given(
    picks=plays,
    start_days=st.integers(1, 700),
    seeds=st.none() | st.dictionaries(st.integers(0, 11), st.floats(0.5, 9.0), min_size=1, max_size=4),
    limit=st.integers(1, 12),
)
def test_the_fast_similar_equals_the_pair_by_pair_one(
    picks: list[tuple[int, int, bool]], start_days: int, seeds: dict[int, float] | None, limit: int
) -> None:
    history = build_history(_history(picks, start_days))
    seed_items = None
    if seeds is not None:
        seed_items = {f"{t:022d}": w for t, w in seeds.items() if f"{t:022d}" in history.items}
    fast = model.similar(history, NOW, limit, seeds=seed_items)
    slow = reference_similar(history, NOW, limit, seeds=seed_items)
    assert len(fast) == len(slow)
    for f, s in zip(fast, slow, strict=True):
        assert math.isclose(f.score, s.score, rel_tol=1e-9, abs_tol=1e-12), (f, s)
        if f.item != s.item:  # a near tie, ordered by the last bits of the sums: both in both lists
            assert f.item in {p.item for p in slow} and s.item in {p.item for p in fast}
            continue
        assert (f.reason, f.seed) == (s.reason, s.seed)
