"""The same seed gives the same world from one version to the next, not only within one run.

Catalog and listening model draw from seeded generators: moving code around must keep the order of
draws, or every seeded benchmark, demo and doc number changes silently. These digests pin both; a
change on purpose (a new field, a new kind of play) updates them in the same commit, and says why.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta

from spotify_pipeline.simulator.catalog import Catalog
from spotify_pipeline.simulator.model import PROFILES, ListeningModel

CATALOG_DIGEST = "84764acb42814a51"
MODEL_DIGEST = "c8540749c1de712a"
SINCE = datetime(2026, 10, 1, tzinfo=UTC)


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode())
    return h.hexdigest()[:16]


def _catalog_digest(cat: Catalog) -> str:
    kinds = ("artists", "albums", "tracks", "playlists", "shows", "episodes", "audiobooks", "chapters")
    return _digest(*(dataclasses.astuple(rec) for kind in kinds for rec in getattr(cat, kind).values()))


def test_a_seed_builds_the_same_catalog_as_before() -> None:
    assert _catalog_digest(Catalog(7, n_artists=40)) == CATALOG_DIGEST


def test_a_seed_plays_the_same_week_as_before() -> None:
    model = ListeningModel(Catalog(7, n_artists=40), 7)
    for profile in PROFILES:
        model.add_user(profile, profile, SINCE)
    plays = [model.plays(p, SINCE, SINCE + timedelta(days=7)) for p in PROFILES]
    follows = [model.followed_artists(p, SINCE + timedelta(days=6)) for p in PROFILES]
    assert _digest(plays, follows) == MODEL_DIGEST
