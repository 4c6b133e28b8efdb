"""The shared token store: encrypted rows every worker reaches, compare-and-set per user."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from tests.jobs.harness import START, World, make_world

from spotify_pipeline.errors import ConfigError
from spotify_pipeline.jobs import download_recently_played
from spotify_pipeline.jobs.runtime import Runtime
from spotify_pipeline.jobs.token_stores import SharedTokenStore, open_token_store
from spotify_pipeline.settings import Settings
from spotify_pipeline.spotify.auth import token_from_grant
from spotify_pipeline.warehouse.token_table import token_state

KEY = Fernet.generate_key().decode()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("mysql", marks=pytest.mark.mysql),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue(f"{request.param}_url"))


def shared_world(tmp_path: Path, url: str, key: str = KEY) -> World:
    world = make_world(tmp_path)
    world.settings = world.settings.model_copy(
        update={"token_store_url": _secret(url), "token_key": _secret(key)}
    )
    store = open_token_store(world.settings)
    store.save(
        token_from_grant(world.sim.grant("alice"), client_id=world.sim.default_app.client_id, now=START)
    )
    world.runtime = runtime(world)
    return world


def _secret(text: str) -> object:
    from pydantic import SecretStr

    return SecretStr(text)


def runtime(world: World, settings: Settings | None = None) -> Runtime:
    rt = Runtime(settings or world.settings, clock=world.clock, transport=world.sim.transport())
    rt.sleep = lambda s: world.clock.advance(s)
    return rt


def test_rows_hold_only_ciphertext(tmp_path: Path, store_url: str) -> None:
    world = shared_world(tmp_path, store_url)
    state = open_token_store(world.settings).load()
    assert state is not None and state.version == 1
    check = sa.create_engine(store_url)
    with check.connect() as conn:
        rows = conn.execute(sa.select(token_state)).mappings().all()
    check.dispose()
    assert [r["user_name"] for r in rows] == ["alice"]
    text = rows[0]["ciphertext"]
    for secret in (state.access_token.get_secret_value(), state.refresh_token.get_secret_value()):
        assert secret not in text
    assert "refresh_token" not in text and text.startswith("gAAAA")  # a Fernet token


def test_refreshes_race_and_no_token_is_lost(tmp_path: Path, store_url: str) -> None:
    world = shared_world(tmp_path, store_url)
    first, second = runtime(world), runtime(world)
    # Both workers read the stored token before either refreshes.
    first.client._access_token()
    second.client._access_token()
    world.clock.advance(timedelta(hours=2))  # both access tokens expired
    assert download_recently_played(world.settings, runtime=first).status == "ok"
    assert download_recently_played(world.settings, runtime=second).status == "ok"  # lost the race
    stored = open_token_store(world.settings).load()
    assert stored is not None and stored.version >= 2
    world.clock.advance(timedelta(hours=2))
    assert download_recently_played(world.settings, runtime=runtime(world)).status == "ok"  # still works


def test_a_wrong_key_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    world = shared_world(tmp_path, f"sqlite:///{tmp_path / 's.db'}")
    other = world.settings.model_copy(update={"token_key": _secret(Fernet.generate_key().decode())})
    with pytest.raises(ConfigError, match="cannot be decrypted with token_key"):
        open_token_store(other).load()
    with pytest.raises(ConfigError, match="SPOTIFY_PIPELINE_TOKEN_KEY"):
        open_token_store(world.settings.model_copy(update={"token_key": None}))
    with pytest.raises(ConfigError, match="not a valid Fernet key"):
        open_token_store(world.settings.model_copy(update={"token_key": _secret("short")}))


def test_rotated_keys_still_open_old_rows(tmp_path: Path) -> None:
    world = shared_world(tmp_path, f"sqlite:///{tmp_path / 's.db'}")
    rotated = world.settings.model_copy(
        update={"token_key": _secret(Fernet.generate_key().decode() + "," + KEY)}
    )
    store = open_token_store(rotated)
    assert isinstance(store, SharedTokenStore)
    assert store.load() is not None
