"""The gap rule, pure: shared by the bihourly fetch and by a rebuild from the raw zone.

Only the latest 50 plays can be reached. When a page is full and even its oldest play is newer
than the newest play already landed, plays between the two were pushed out of reach before this
poll: a gap, from the newest known play to the oldest play of the page.
"""

from __future__ import annotations

from collections.abc import Sequence

PAGE_LIMIT = 50  # the API's maximum page, and its whole window


def detect_gap(
    played_ms: Sequence[int], newest_known_ms: int | None, limit: int = PAGE_LIMIT
) -> tuple[int, int] | None:
    """(from, to) in Unix ms when the page ``played_ms`` (sorted ascending) proves a gap, else None.

    The first page ever (nothing known yet) proves nothing: there is no earlier poll to miss.
    """
    if not played_ms or newest_known_ms is None or len(played_ms) < limit:
        return None
    return (newest_known_ms, played_ms[0]) if played_ms[0] > newest_known_ms else None


def advance(played_ms: Sequence[int], newest_known_ms: int | None) -> int | None:
    """The newest play known after this page (a late, older play never moves it back)."""
    if not played_ms:
        return newest_known_ms
    return played_ms[-1] if newest_known_ms is None else max(newest_known_ms, played_ms[-1])
