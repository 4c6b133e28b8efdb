"""Which search result is the track an export names (exports of account data carry only names).

A result counts only when one of its artists is the artist asked for (after ``normalise_name``);
then the same title scores 3, the same title once a " - 2011 Remaster" or " (Live)" suffix is cut
off scores 2, any other title 1. The highest score wins; the first result wins a tie.
"""

from __future__ import annotations

from typing import Any

from ..transform.names import normalise_name

# Development mode caps search at limit=10 (spotify-api.md §5).
SEARCH_LIMIT = 5


def search_terms(track: str, artist: str) -> tuple[str, str]:
    """The names without the double quotes a search query cannot carry."""
    return track.replace('"', " ").strip(), artist.replace('"', " ").strip()


def track_query(track: str, artist: str) -> str:
    """``track:NAME artist:NAME`` (field filters, spotify-api.md §5)."""
    return f"track:{track}" + (f" artist:{artist}" if artist else "")


def best_track_id(page: dict[str, Any], track: str, artist: str) -> str | None:
    """The id of the best-scoring track in a search answer, or None when none has the artist."""
    tracks = page.get("tracks")
    items = tracks.get("items") if isinstance(tracks, dict) else None
    if not isinstance(items, list):
        return None
    best_id, best_score = None, 0
    for item in items:
        if not isinstance(item, dict) or not item.get("id"):
            continue
        score = match_score(item, track, artist)
        if score > best_score:
            best_id, best_score = str(item["id"]), score
    return best_id


def match_score(item: dict[str, Any], track: str, artist: str) -> int:
    names = [normalise_name(str(a.get("name", ""))) for a in item.get("artists", []) if isinstance(a, dict)]
    if artist and normalise_name(artist) not in names:
        return 0
    title = str(item.get("name", ""))
    if normalise_name(title) == normalise_name(track):
        return 3
    if _base_title(title) == _base_title(track):
        return 2
    return 1


def _base_title(text: str) -> str:
    """'Song - 2011 Remaster' / 'Song (Live)' -> 'song'."""
    for sep in (" - ", " (", " ["):
        text = text.split(sep, 1)[0]
    return normalise_name(text)
