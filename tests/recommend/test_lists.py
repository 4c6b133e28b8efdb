"""The lists from a history alone: sessions, co-listening with reasons, rediscover, names-only rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from spotify_pipeline.insights.recommend import UnknownSeed, model
from spotify_pipeline.insights.recommend.history import build_history
from spotify_pipeline.insights.recommend.lists import _item, resolve_seed

NOW = datetime(2026, 10, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    played_at: datetime
    track_id: str | None
    track_name: str
    artist_name: str
    ms_played: int = 200_000
    skipped: bool = False
    reason_end: str = "trackdone"


def _session(
    start: datetime, tracks: list[tuple[str | None, str, str]], gap: timedelta = timedelta(minutes=4)
) -> list[Row]:
    return [Row(start + n * gap, tid, name, artist) for n, (tid, name, artist) in enumerate(tracks)]


A = ("a" * 22, "Alpha", "Ann")
B = ("b" * 22, "Beta", "Bob")
C = ("c" * 22, "Gamma", "Cid")
D = ("d" * 22, "Delta", "Dee")


def test_a_gap_over_30_minutes_starts_a_new_session() -> None:
    rows = _session(NOW - timedelta(days=3), [A, B]) + _session(NOW - timedelta(days=3, minutes=-40), [C])
    split = model.sessions(build_history(rows))
    assert [items for _, items in split] == [[A[0], B[0]], [C[0]]]


def test_similar_explains_each_pick_with_its_session_count() -> None:
    rows: list[Row] = []
    for week in range(14):
        rows += _session(NOW - timedelta(days=60 + 3 * week), [A, B])  # A and B together in 14 sessions
    for week in range(3):
        rows += _session(NOW - timedelta(days=40 + week), [A, D])
    rows += _session(NOW - timedelta(days=100), [C])
    rows += _session(NOW - timedelta(days=2), [A])  # this week: A
    history = build_history(rows)
    picks = model.similar(history, NOW, 10)
    assert [p.item for p in picks][:2] == [B[0], D[0]]
    assert A[0] not in [p.item for p in picks]  # a seed is not recommended back
    item = _item(history, "similar", picks[0])
    assert item.reason == "played with Alpha by Ann in 14 sessions"
    assert item.track_id == B[0] and item.artist_name == "Bob"


def test_rediscover_keeps_loved_tracks_that_rested_and_ranks_finished_over_skipped() -> None:
    rows: list[Row] = []
    for n in range(10):
        rows += _session(NOW - timedelta(days=200 - n), [A, B])
    rows += [Row(NOW - timedelta(days=150 + n), C[0], C[1], C[2], 5_000, True, "fwdbtn") for n in range(10)]
    rows += _session(NOW - timedelta(days=3), [D])  # recent: not a rediscovery
    picks = model.rediscover(build_history(rows), NOW, 10)
    items = [p.item for p in picks]
    assert D[0] not in items
    assert items.index(A[0]) < items.index(C[0]) and items.index(B[0]) < items.index(C[0])
    assert "you played it 10 times" in picks[0].reason


def test_rows_without_ids_get_the_id_of_the_same_names_or_a_name_identity() -> None:
    rows = [
        Row(NOW - timedelta(days=10), A[0], "Alpha", "Ann"),
        Row(NOW - timedelta(days=9), None, "alpha", "ANN"),  # an account-data row of the same track
        Row(NOW - timedelta(days=8), None, "Only Names", "Nobody"),
    ]
    history = build_history(rows)
    assert [p.item for p in history.plays] == [A[0], A[0], "name:nobody|only names"]
    assert history.items["name:nobody|only names"].track_id is None


def test_an_export_only_history_gets_every_list() -> None:
    rows: list[Row] = []
    for n in range(12):
        rows += _session(NOW - timedelta(days=90 - n), [(None, "Alpha", "Ann"), (None, "Beta", "Bob")])
    rows += _session(NOW - timedelta(days=1), [(None, "Alpha", "Ann")])
    history = build_history(rows)
    assert [p.item for p in model.similar(history, NOW, 5)] == ["name:bob|beta"]
    assert [p.item for p in model.rediscover(history, NOW, 5)] == ["name:bob|beta"]


def test_a_seed_is_a_track_id_a_track_name_or_an_artist() -> None:
    history = build_history(_session(NOW - timedelta(days=5), [A, B, A]))
    assert resolve_seed(history, A[0]) == {A[0]: 1.0}
    assert resolve_seed(history, "alpha") == {A[0]: 2.0}
    assert resolve_seed(history, "Bob") == {B[0]: 1.0}
    with pytest.raises(UnknownSeed, match="no track or artist 'Zed'"):
        resolve_seed(history, "Zed")
