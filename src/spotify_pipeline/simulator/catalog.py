"""The simulated music catalog: artists, albums, tracks, playlists, podcasts and audiobooks.

Everything is generated from one seed with ``random.Random`` and BLAKE2b-derived ids, so two
catalogs built with the same seed are identical in every process. The catalog holds records
(plain frozen dataclasses in ``records.py``); ``objects.py`` renders them as Web API JSON.

Shapes that matter to the pipeline and are modelled on purpose:
- a recording (one ISRC) can appear on several releases with different track ids: pre-release
  singles that reappear on the album, and compilations that reuse other artists' recordings;
- tracks can have several artists, ordered (main artist first, then features);
- release dates come with a precision of day, month or year, as Spotify sends them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from spotify_pipeline.simulator.ids import spotify_id
from spotify_pipeline.simulator.records import (
    AlbumRec,
    ArtistRec,
    AudiobookRec,
    ChapterRec,
    EpisodeRec,
    PlaylistRec,
    ShowRec,
    TrackRec,
)
from spotify_pipeline.simulator.search import SearchEntry, search
from spotify_pipeline.simulator.vocabulary import (
    ADJ,
    FIRST,
    GENRES,
    LABELS,
    LAST,
    MARKETS,
    NOUN,
    SHOW_FORMS,
    SHOW_TOPICS,
    artist_name,
    title,
)


@dataclass(frozen=True, slots=True)
class _Recording:
    isrc: str
    name: str
    duration_ms: int
    explicit: bool
    artist_ids: tuple[str, ...]


@dataclass
class _Counter:
    value: int = 0

    def next(self) -> int:
        self.value += 1
        return self.value


class Catalog:
    """A deterministic catalog. ``n_artists`` sets the size (about 30 tracks per artist)."""

    def __init__(self, seed: int, n_artists: int = 400) -> None:
        if n_artists < 2:
            raise ValueError(f"Catalog needs at least 2 artists, got n_artists={n_artists}")
        self.seed = seed
        self.artists: dict[str, ArtistRec] = {}
        self.albums: dict[str, AlbumRec] = {}
        self.tracks: dict[str, TrackRec] = {}
        self.playlists: dict[str, PlaylistRec] = {}
        self.shows: dict[str, ShowRec] = {}
        self.episodes: dict[str, EpisodeRec] = {}
        self.audiobooks: dict[str, AudiobookRec] = {}
        self.chapters: dict[str, ChapterRec] = {}
        # Albums of each artist (oldest first) and the artist's own tracks (no compilations),
        # which the listening model uses for album and artist contexts.
        self.artist_album_ids: dict[str, list[str]] = {}
        self.artist_track_ids: dict[str, list[str]] = {}
        self.various_artists_id = ""
        self._rng = random.Random(seed)
        self._isrc_seq: dict[tuple[str, int], _Counter] = {}
        self._upc_seq = _Counter()
        self._search: list[SearchEntry] | None = None
        self._build_artists(n_artists)
        recordings = self._build_releases()
        self._build_compilations(recordings, max(1, n_artists // 40))
        self._build_playlists(max(4, n_artists // 8))
        self._build_podcasts(max(6, n_artists // 16))
        self._build_audiobooks(max(4, n_artists // 40))
        del self._rng  # generation is over: nothing may draw from it later

    # ----------------------------------------------------------------------------- generation

    def _build_artists(self, n: int) -> None:
        rng = self._rng
        taken: set[str] = set()
        for i in range(n):
            # Popularity falls with rank (a few stars, a long tail), with noise.
            base = 88 - 70 * (i / n) ** 0.6
            popularity = int(max(1, min(98, round(base + rng.gauss(0, 6)))))
            followers = int(10 ** (1.2 + popularity / 18 + rng.gauss(0, 0.35)))
            n_genres = rng.choices((0, 1, 2, 3), weights=(1, 3, 4, 3))[0]
            genres = tuple(sorted(rng.sample(GENRES, n_genres)))
            aid = spotify_id(self.seed, "artist", i)
            self.artists[aid] = ArtistRec(
                id=aid,
                name=artist_name(self._rng, i, taken),
                genres=genres,
                popularity=popularity,
                followers=followers,
                has_images=rng.random() > 0.04,
            )
            self.artist_album_ids[aid] = []
            self.artist_track_ids[aid] = []
        # Spotify files compilations under a "Various Artists" artist.
        self.various_artists_id = spotify_id(self.seed, "artist", "various")
        self.artists[self.various_artists_id] = ArtistRec(
            self.various_artists_id, "Various Artists", (), 70, 2_000_000, False
        )

    def _isrc(self, label_index: int, year: int) -> str:
        _, country, registrant = LABELS[label_index]
        seq = self._isrc_seq.setdefault((registrant, year), _Counter()).next()
        return f"{country}{registrant}{year % 100:02d}{seq:05d}"

    def _duration_ms(self) -> int:
        # Log-normal around 3.5 min: most tracks 2.5-4.5 min, a few short interludes and long epics.
        ms = self._rng.lognormvariate(12.28, 0.24)
        if self._rng.random() < 0.03:
            ms = self._rng.uniform(90_000, 480_000)
        return int(min(480_000, max(90_000, ms)))

    def _release_date(self, year: int) -> tuple[str, str]:
        rng = self._rng
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        # Old catalogue often has only a year or a month; everything recent has a day.
        roll = rng.random()
        if year < 1995 and roll < 0.35:
            return f"{year:04d}", "year"
        if year < 2005 and roll < 0.5:
            return f"{year:04d}-{month:02d}", "month"
        return f"{year:04d}-{month:02d}-{day:02d}", "day"

    def _markets(self) -> tuple[str, ...]:
        rng = self._rng
        if rng.random() < 0.85:
            return MARKETS
        dropped = set(rng.sample(MARKETS, rng.randint(1, 12)))
        return tuple(m for m in MARKETS if m not in dropped)

    def _add_album(
        self,
        key: object,
        name: str,
        album_type: str,
        artist_ids: tuple[str, ...],
        year: int,
        label_index: int,
        recordings: Sequence[_Recording],
        popularity: int,
    ) -> AlbumRec:
        rng = self._rng
        album_id = spotify_id(self.seed, "album", key)
        release_date, precision = self._release_date(year)
        markets = self._markets()
        discs = 2 if len(recordings) > 16 else 1
        per_disc = (len(recordings) + discs - 1) // discs
        track_ids = []
        for n, rec in enumerate(recordings):
            tid = spotify_id(self.seed, "track", key, n)
            self.tracks[tid] = TrackRec(
                id=tid,
                name=rec.name,
                album_id=album_id,
                artist_ids=rec.artist_ids,
                duration_ms=rec.duration_ms,
                explicit=rec.explicit,
                isrc=rec.isrc,
                popularity=int(max(0, min(100, popularity + rng.gauss(0, 8)))),
                disc_number=n // per_disc + 1,
                track_number=n % per_disc + 1,
                available_markets=markets,
            )
            track_ids.append(tid)
        album = AlbumRec(
            id=album_id,
            name=name,
            album_type=album_type,
            artist_ids=artist_ids,
            release_date=release_date,
            release_date_precision=precision,
            track_ids=tuple(track_ids),
            label=LABELS[label_index][0],
            popularity=int(max(0, min(100, popularity))),
            available_markets=markets,
            upc=f"{(self.seed * 7919 + self._upc_seq.next()) % 10**12:012d}",
            copyright_year=year,
        )
        self.albums[album_id] = album
        return album

    def _build_releases(self) -> list[_Recording]:
        artist_ids = [a for a in self.artists if a != self.various_artists_id]
        all_recordings: list[_Recording] = []
        for ai, aid in enumerate(artist_ids):
            all_recordings.extend(self._artist_releases(ai, aid, artist_ids))
        return all_recordings

    def _artist_releases(self, ai: int, aid: str, artist_ids: list[str]) -> list[_Recording]:
        """One artist's albums (each with its lead singles), then standalone singles."""
        rng = self._rng
        artist = self.artists[aid]
        label_index = rng.randrange(len(LABELS))
        year = rng.randint(1968, 2022)
        n_albums = 1 + min(4, int(rng.expovariate(1.0) + artist.popularity / 40))
        explicit_rate = 0.6 if any("hip hop" in g or g == "trap" for g in artist.genres) else 0.08
        out: list[_Recording] = []
        release_no = 0
        for _ in range(n_albums):
            recordings = self._album_recordings(aid, artist_ids, label_index, year, explicit_rate)
            # Lead singles come out months before the album and keep the recording (same ISRC).
            for _ in range(rng.choices((0, 1, 2), weights=(4, 4, 2))[0]):
                lead = recordings[rng.randrange(len(recordings))]
                single = self._add_album(
                    (ai, release_no),
                    lead.name,
                    "single",
                    (aid,),
                    year,
                    label_index,
                    [lead],
                    artist.popularity - 5,
                )
                self._register(aid, single)
                release_no += 1
            album = self._add_album(
                (ai, release_no),
                title(self._rng),
                "album",
                (aid,),
                year,
                label_index,
                recordings,
                artist.popularity,
            )
            self._register(aid, album)
            release_no += 1
            out.extend(recordings)
            year = min(2026, year + rng.randint(1, 4))
        self._standalone_singles(ai, aid, release_no, year, label_index, explicit_rate, out)
        return out

    def _standalone_singles(
        self,
        ai: int,
        aid: str,
        release_no: int,
        year: int,
        label_index: int,
        explicit_rate: float,
        out: list[_Recording],
    ) -> None:
        """Singles outside any album (some with a B-side), numbered on from ``release_no``."""
        rng = self._rng
        artist = self.artists[aid]
        for _ in range(rng.choices((0, 1, 2), weights=(3, 4, 2))[0]):
            recs = [
                _Recording(
                    self._isrc(label_index, year),
                    title(self._rng),
                    self._duration_ms(),
                    rng.random() < explicit_rate,
                    (aid,),
                )
                for _ in range(rng.choice((1, 1, 2)))
            ]
            single = self._add_album(
                (ai, release_no),
                recs[0].name,
                "single",
                (aid,),
                min(year, 2026),
                label_index,
                recs,
                artist.popularity - 8,
            )
            self._register(aid, single)
            release_no += 1
            out.extend(recs)

    def _album_recordings(
        self, aid: str, artist_ids: list[str], label_index: int, year: int, explicit_rate: float
    ) -> list[_Recording]:
        """An album's recordings: 8-14 tracks (sometimes 15-22), about one in eight with a featured artist."""
        rng = self._rng
        recordings = []
        for _ in range(rng.randint(8, 14) if rng.random() < 0.85 else rng.randint(15, 22)):
            year_rec = min(year, 2026)
            feats: tuple[str, ...] = ()
            if rng.random() < 0.12:
                other = artist_ids[rng.randrange(len(artist_ids))]
                feats = () if other == aid else (other,)
            recordings.append(
                _Recording(
                    isrc=self._isrc(label_index, year_rec),
                    name=title(self._rng),
                    duration_ms=self._duration_ms(),
                    explicit=rng.random() < explicit_rate,
                    artist_ids=(aid, *feats),
                )
            )
        return recordings

    def _register(self, artist_id: str, album: AlbumRec) -> None:
        self.artist_album_ids[artist_id].append(album.id)
        self.artist_track_ids[artist_id].extend(album.track_ids)

    def _build_compilations(self, recordings: list[_Recording], n: int) -> None:
        rng = self._rng
        for c in range(n):
            picks = rng.sample(recordings, min(len(recordings), rng.randint(12, 20)))
            self._add_album(
                ("compilation", c),
                f"{rng.choice(ADJ)} {rng.choice(NOUN)}s: {rng.choice(('The Collection', 'Vol. 1', 'Vol. 2', 'Essentials'))}",
                "compilation",
                (self.various_artists_id,),
                rng.randint(2005, 2025),
                rng.randrange(len(LABELS)),
                picks,
                45,
            )

    def _build_playlists(self, n: int) -> None:
        rng = self._rng
        by_genre: dict[str, list[str]] = {}
        for tid, t in self.tracks.items():
            for g in self.artists[t.artist_ids[0]].genres:
                by_genre.setdefault(g, []).append(tid)
        all_ids = list(self.tracks)
        genres = sorted(by_genre)
        for p in range(n):
            genre = rng.choice(genres)
            pool = by_genre[genre]
            size = rng.randint(15, 60)
            chosen = rng.sample(pool, min(len(pool), int(size * 0.8)))
            chosen += rng.sample(all_ids, size - len(chosen))
            pid = spotify_id(self.seed, "playlist", p)
            name = rng.choice(
                (
                    f"{genre.title()} Essentials",
                    f"{rng.choice(ADJ)} {genre}",
                    f"{rng.choice(NOUN)} {rng.choice(('Mix', 'Radio', 'Mood', 'Vibes'))}",
                )
            )
            self.playlists[pid] = PlaylistRec(pid, name, tuple(dict.fromkeys(chosen)))

    def _build_podcasts(self, n: int) -> None:
        rng = self._rng
        for s in range(n):
            sid = spotify_id(self.seed, "show", s)
            name = f"The {rng.choice(SHOW_TOPICS)} {rng.choice(SHOW_FORMS)}"
            if any(show.name == name for show in self.shows.values()):
                name = f"{name} {s}"
            episodes = []
            for e in range(rng.randint(15, 40)):
                eid = spotify_id(self.seed, "episode", s, e)
                self.episodes[eid] = EpisodeRec(
                    eid,
                    f"#{e + 1}: {title(self._rng)}",
                    sid,
                    rng.randint(15, 110) * 60_000 + rng.randint(0, 59_999),
                )
                episodes.append(eid)
            self.shows[sid] = ShowRec(sid, name, f"{rng.choice(FIRST)} {rng.choice(LAST)}", tuple(episodes))

    def _build_audiobooks(self, n: int) -> None:
        rng = self._rng
        for b in range(n):
            bid = spotify_id(self.seed, "audiobook", b)
            chapters = []
            for c in range(rng.randint(8, 30)):
                cid = spotify_id(self.seed, "chapter", b, c)
                self.chapters[cid] = ChapterRec(
                    cid, f"Chapter {c + 1}", bid, rng.randint(8, 45) * 60_000 + rng.randint(0, 59_999)
                )
                chapters.append(cid)
            self.audiobooks[bid] = AudiobookRec(
                bid,
                f"The {rng.choice(ADJ)} {rng.choice(NOUN)}",
                f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                tuple(chapters),
            )

    # ----------------------------------------------------------------------------- lookups

    def track_artist_names(self, track_id: str) -> list[str]:
        return [self.artists[a].name for a in self.tracks[track_id].artist_ids]

    def _search_index(self) -> list[SearchEntry]:
        if self._search is None:
            self._search = [
                SearchEntry.of(
                    t.id,
                    t.name,
                    (self.artists[a].name for a in t.artist_ids),
                    self.albums[t.album_id].name,
                    self.albums[t.album_id].release_date,
                    t.isrc,
                    t.popularity,
                )
                for t in self.tracks.values()
            ]
        return self._search

    def search_tracks(self, query: str, limit: int) -> list[str]:
        """Track ids matching a Spotify-style query, best first (``search.py`` has the rules)."""
        return search(self._search_index(), query, limit)
