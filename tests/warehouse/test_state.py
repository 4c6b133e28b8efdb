from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from spotify_pipeline.warehouse.state import WarehouseStateStore

from .helpers import T0


def test_state_survives_a_new_store_and_values_are_copies(engine: Engine) -> None:
    store = WarehouseStateStore(engine, now=lambda: T0)
    assert store.get("paused_until") is None
    value = {"until": "2026-11-29T18:00:00Z", "reason": "429 Retry-After 86400"}
    store.set("paused_until", value)
    value["until"] = "changed"
    again = WarehouseStateStore(engine)
    assert again.get("paused_until") == {"until": "2026-11-29T18:00:00Z", "reason": "429 Retry-After 86400"}
    again.set("paused_until", {})
    assert store.get("paused_until") == {}
    store.set("capabilities:client-1", {"batch_artists": False, "audio_features": False, "since": [1, 2]})
    assert store.keys() == ["capabilities:client-1", "paused_until"]
    assert store.get("capabilities:client-1") == {
        "batch_artists": False,
        "audio_features": False,
        "since": [1, 2],
    }


def test_state_records_when_it_changed(engine: Engine) -> None:
    from sqlalchemy import select

    from spotify_pipeline.warehouse import schema as s

    WarehouseStateStore(engine, now=lambda: T0 + timedelta(minutes=5)).set("k", {"a": "ü🎵"})
    with engine.connect() as conn:
        row = conn.execute(select(s.app_state)).one()
    assert (row.key, row.updated_at) == ("k", T0 + timedelta(minutes=5))
    assert WarehouseStateStore(engine).get("k") == {"a": "ü🎵"}


@pytest.mark.parametrize(
    "value",
    [{"refresh_token": "x"}, {"nested": {"Access_Token": "x"}}, {"list": [{"client_secret": "x"}]}],
)
def test_state_refuses_credentials_without_echoing_them(engine: Engine, value: dict[str, object]) -> None:
    store = WarehouseStateStore(engine)
    with pytest.raises(ValueError, match="looks like a credential") as exc:
        store.set("auth", value)
    assert "'x'" not in str(exc.value)
    assert store.get("auth") is None


def test_state_values_must_be_objects(engine: Engine) -> None:
    with pytest.raises(TypeError, match="must be a dict"):
        WarehouseStateStore(engine).set("k", ["a"])  # type: ignore[arg-type]


def test_the_outage_tolerant_store_tries_the_warehouse_once_then_keeps_state_in_memory() -> None:
    from sqlalchemy.exc import OperationalError

    from spotify_pipeline.warehouse.state import OutageTolerantStateStore

    tries: list[int] = []

    def down() -> Any:
        tries.append(1)
        raise OperationalError("connect", {}, ConnectionRefusedError(111, "Connection refused"))

    store = OutageTolerantStateStore(WarehouseStateStore(down))
    assert store.get("paused_until") is None  # unknown: the fetch goes ahead
    assert store.outage is not None and "Connection refused" in store.outage
    store.set("paused_until", {"until": "2026-11-30T00:00:00+00:00"})
    assert store.get("paused_until") == {"until": "2026-11-30T00:00:00+00:00"}
    assert store.unsaved == {"paused_until": {"until": "2026-11-30T00:00:00+00:00"}}
    assert len(tries) == 1  # never a second connect timeout in one run
    with pytest.raises(ValueError, match="credential"):
        store.set("k", {"refresh_token": "x"})
