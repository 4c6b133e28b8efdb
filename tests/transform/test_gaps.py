"""The gap rule on its own: a full page entirely newer than what we knew proves lost plays."""

from __future__ import annotations

from spotify_pipeline.transform.gaps import advance, detect_gap


def page(start: int, n: int = 50) -> list[int]:
    return [start + i * 1000 for i in range(n)]


def test_a_full_page_newer_than_everything_known_is_a_gap() -> None:
    assert detect_gap(page(10_000), newest_known_ms=5_000) == (5_000, 10_000)


def test_an_overlapping_full_page_is_not_a_gap() -> None:
    assert detect_gap(page(10_000), newest_known_ms=10_000) is None
    assert detect_gap(page(10_000), newest_known_ms=20_000) is None


def test_a_short_page_is_never_a_gap() -> None:
    assert detect_gap(page(10_000, 49), newest_known_ms=5_000) is None


def test_the_first_page_proves_nothing() -> None:
    assert detect_gap(page(10_000), newest_known_ms=None) is None
    assert detect_gap([], newest_known_ms=5) is None


def test_the_cursor_only_moves_forward() -> None:
    assert advance(page(10_000), None) == 59_000
    assert advance([1_000], 5_000) == 5_000  # a late, older play never moves it back
    assert advance([], 5_000) == 5_000
