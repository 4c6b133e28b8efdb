"""The simulated catalog: deterministic, realistic shapes, and name search."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from spotify_pipeline.simulator.catalog import Catalog
from spotify_pipeline.simulator.ids import is_spotify_id, spotify_id, stable_seed

ISRC = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}\d{7}$")
DATE_BY_PRECISION = {
    "day": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "month": re.compile(r"^\d{4}-\d{2}$"),
    "year": re.compile(r"^\d{4}$"),
}


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog(seed=11, n_artists=120)


def test_ids_are_spotify_shaped_and_stable() -> None:
    a = spotify_id(1, "track", 5)
    assert is_spotify_id(a) and len(a) == 22
    assert a == spotify_id(1, "track", 5)
    assert a != spotify_id(2, "track", 5)
    assert stable_seed("x", 1) == stable_seed("x", 1) != stable_seed("x", 2)
    assert not is_spotify_id("abc") and not is_spotify_id("!" * 22)


def test_same_seed_same_catalog_other_seed_other_catalog(cat: Catalog) -> None:
    again = Catalog(seed=11, n_artists=120)
    assert again.tracks == cat.tracks and again.albums == cat.albums and again.artists == cat.artists
    assert again.playlists == cat.playlists and again.episodes == cat.episodes
    other = Catalog(seed=12, n_artists=120)
    assert set(other.tracks).isdisjoint(cat.tracks)


def test_every_id_is_base62_and_unique_across_kinds(cat: Catalog) -> None:
    ids = [*cat.artists, *cat.albums, *cat.tracks, *cat.playlists, *cat.shows, *cat.episodes,
           *cat.audiobooks, *cat.chapters]  # fmt: skip
    assert all(is_spotify_id(i) for i in ids)
    assert len(ids) == len(set(ids))


def test_durations_are_realistic(cat: Catalog) -> None:
    durations = [t.duration_ms for t in cat.tracks.values()]
    assert min(durations) >= 90_000 and max(durations) <= 480_000
    typical = sum(150_000 <= d <= 270_000 for d in durations) / len(durations)
    assert typical > 0.6, f"only {typical:.0%} of tracks last 2.5-4.5 min"


def test_albums_have_types_dates_and_consistent_tracks(cat: Catalog) -> None:
    assert {a.album_type for a in cat.albums.values()} == {"album", "single", "compilation"}
    assert {a.release_date_precision for a in cat.albums.values()} == {"day", "month", "year"}
    for album in cat.albums.values():
        assert DATE_BY_PRECISION[album.release_date_precision].match(album.release_date), album
        assert album.total_tracks == len(album.track_ids) >= 1
        numbers = [(cat.tracks[t].disc_number, cat.tracks[t].track_number) for t in album.track_ids]
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
        for t in album.track_ids:
            assert cat.tracks[t].album_id == album.id
        if album.album_type != "compilation":
            assert cat.tracks[album.track_ids[0]].artist_ids[0] == album.artist_ids[0]
        else:
            assert album.artist_ids == (cat.various_artists_id,)


def test_isrc_identifies_a_recording_across_releases(cat: Catalog) -> None:
    by_isrc: dict[str, list[str]] = defaultdict(list)
    for t in cat.tracks.values():
        assert ISRC.match(t.isrc), t.isrc
        by_isrc[t.isrc].append(t.id)
    shared = {isrc: ids for isrc, ids in by_isrc.items() if len(ids) > 1}
    assert shared, "no recording appears on two releases"
    types_seen = set()
    for ids in shared.values():
        recs = [cat.tracks[i] for i in ids]
        # Same recording: same name, length and artists; different track ids and albums.
        assert len({(r.name, r.duration_ms, r.artist_ids) for r in recs}) == 1
        assert len({r.album_id for r in recs}) == len(recs)
        types_seen |= {cat.albums[r.album_id].album_type for r in recs}
    assert {"single", "album", "compilation"} <= types_seen
    for album in cat.albums.values():
        isrcs = [cat.tracks[t].isrc for t in album.track_ids]
        assert len(isrcs) == len(set(isrcs)), f"album {album.id} repeats a recording"


def test_track_artists_are_ordered_with_features(cat: Catalog) -> None:
    featured = [t for t in cat.tracks.values() if len(t.artist_ids) > 1]
    assert 0.03 < len(featured) / len(cat.tracks) < 0.3
    for t in featured:
        assert len(set(t.artist_ids)) == len(t.artist_ids)
        if cat.albums[t.album_id].album_type != "compilation":
            assert t.id in cat.artist_track_ids[t.artist_ids[0]]


def test_artists_have_popularity_followers_and_some_genres(cat: Catalog) -> None:
    artists = [a for a in cat.artists.values() if a.id != cat.various_artists_id]
    assert all(0 <= a.popularity <= 100 and a.followers > 0 for a in artists)
    assert any(a.genres for a in artists) and any(not a.genres for a in artists)
    assert len({a.name for a in artists}) == len(artists)


def test_podcasts_and_audiobooks_exist(cat: Catalog) -> None:
    assert cat.shows and cat.episodes and cat.audiobooks and cat.chapters
    for show in cat.shows.values():
        assert all(cat.episodes[e].show_id == show.id for e in show.episode_ids)
    for book in cat.audiobooks.values():
        assert all(cat.chapters[c].audiobook_id == book.id for c in book.chapter_ids)


def test_search_by_track_and_artist_finds_the_track_first(cat: Catalog) -> None:
    for track in list(cat.tracks.values())[::997]:
        artist = cat.artists[track.artist_ids[0]].name
        hits = cat.search_tracks(f"track:{track.name.upper()} artist:{artist.lower()}", 10)
        assert hits, track
        first = cat.tracks[hits[0]]
        assert first.name == track.name and artist in cat.track_artist_names(hits[0])
        assert track.id in hits
        quoted = cat.search_tracks(f'track:"{track.name}" artist:"{artist}"', 10)
        assert quoted == hits


def test_search_free_text_limit_order_and_misses(cat: Catalog) -> None:
    track = max(cat.tracks.values(), key=lambda t: t.popularity)
    artist = cat.artists[track.artist_ids[0]].name
    hits = cat.search_tracks(f"{track.name} {artist}", 50)
    assert track.id in hits
    pops = [cat.tracks[h].popularity for h in hits if cat.tracks[h].name != track.name]
    assert pops == sorted(pops, reverse=True)
    assert len(cat.search_tracks(artist, 3)) <= 3
    assert cat.search_tracks("zzzz nothing like this", 5) == []
    assert cat.search_tracks("", 5) == []
    assert cat.search_tracks(f"isrc:{track.isrc.lower()}", 5)[0] in {
        t.id for t in cat.tracks.values() if t.isrc == track.isrc
    }
