"""The dashboard's recommendation lists: computed once per warehouse state in the background, the
lists before served while new ones are computed, a failure never served and tried again."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from spotify_pipeline.insights.recommend import cache as cache_module
from spotify_pipeline.insights.recommend.cache import MAX_AGE, ListsCache, warehouse_state
from spotify_pipeline.insights.recommend.lists import Recommendation
from spotify_pipeline.warehouse import schema as s
from spotify_pipeline.warehouse.engine import make_engine, upgrade

NOW = datetime(2026, 10, 1, 12, tzinfo=UTC)


class FakeLists:
    """Stands for ``lists_for``: counts the computations, can be held or made to fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, datetime]] = []
        self.release = threading.Event()
        self.release.set()
        self.fail: Exception | None = None

    def __call__(self, engine: Engine, user_id: str, *, now: datetime, limit: int) -> dict[str, Any]:
        self.calls.append((user_id, now))
        self.release.wait(10)
        if self.fail is not None:
            raise self.fail
        item = Recommendation("similar", "t" * 22, f"computed {now:%H:%M}", "A", 1.0, "why")
        return {"similar": [item] * limit}


@pytest.fixture()
def engine(tmp_path: Path) -> Engine:
    eng = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(eng)
    return eng


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeLists:
    fake = FakeLists()
    monkeypatch.setattr(cache_module, "lists_for", fake)
    return fake


def _load_an_object(engine: Engine, n: int) -> None:
    with engine.begin() as conn:
        conn.execute(insert(s.landed_files).values(key_sha256=f"{n:064d}", key=f"k{n}", kind="recently_played",
                                                   user_id="alice", status="loaded", loaded_at=NOW + timedelta(minutes=n)))  # fmt: skip


def _wait_idle(cache: ListsCache) -> None:
    for _ in range(500):
        if not cache._pending:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the background computation did not finish")


def test_computed_once_per_state_and_cut_to_the_length_asked(engine: Engine, fake: FakeLists) -> None:
    cache = ListsCache(engine)
    first = cache.get("alice", NOW, 3)
    again = cache.get("alice", NOW + timedelta(minutes=5), 2)
    assert len(fake.calls) == 1 and first.as_of == again.as_of == NOW
    assert len(first.lists["similar"]) == 3 and len(again.lists["similar"]) == 2


def test_a_load_serves_the_lists_before_while_new_ones_are_computed(engine: Engine, fake: FakeLists) -> None:
    cache = ListsCache(engine)
    cache.get("alice", NOW, 5)
    before = warehouse_state(engine, "alice")
    _load_an_object(engine, 1)
    assert warehouse_state(engine, "alice") != before
    fake.release.clear()  # the new computation is held
    later = NOW + timedelta(minutes=10)
    served = cache.get("alice", later, 5)
    assert served.as_of == NOW  # at once: the lists before
    assert (
        cache.get("alice", later, 5).as_of == NOW and len(fake.calls) == 2
    )  # one computation, not one per ask
    fake.release.set()
    _wait_idle(cache)
    assert cache.get("alice", later, 5).as_of == later and len(fake.calls) == 2


def test_lists_older_than_the_max_age_are_computed_again(engine: Engine, fake: FakeLists) -> None:
    cache = ListsCache(engine)
    cache.get("alice", NOW, 5)
    cache.get("alice", NOW + MAX_AGE - timedelta(seconds=1), 5)
    assert len(fake.calls) == 1
    cache.get("alice", NOW + MAX_AGE, 5)
    _wait_idle(cache)
    assert len(fake.calls) == 2 and cache.get("alice", NOW + MAX_AGE, 5).as_of == NOW + MAX_AGE


def test_a_failed_computation_is_not_served_and_is_tried_again(engine: Engine, fake: FakeLists) -> None:
    cache = ListsCache(engine)
    fake.fail = RuntimeError("the warehouse went away")
    with pytest.raises(RuntimeError, match="went away"):
        cache.get("alice", NOW, 5)
    _wait_idle(cache)
    fake.fail = None
    assert cache.get("alice", NOW, 5).lists["similar"] and len(fake.calls) == 2


def test_warm_computes_every_listener_ahead(engine: Engine, fake: FakeLists) -> None:
    cache = ListsCache(engine)
    cache.warm(["alice", "bob"], NOW)
    _wait_idle(cache)
    assert sorted(user for user, _ in fake.calls) == ["alice", "bob"]
    cache.get("alice", NOW, 5)
    cache.get("bob", NOW, 5)
    assert len(fake.calls) == 2
