"""Compare-and-set token state: a refresh that lost the race to another worker never overwrites or
deletes the newer token; it re-reads and uses it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.spotify.tokens import FileTokenStore, MemoryTokenStore, TokenState, TokenStore

from .conftest import make_token


def newer(token: TokenState, suffix: str) -> TokenState:
    return TokenState(
        access_token=SecretStr("access-" + suffix),
        refresh_token=SecretStr("refresh-" + suffix),
        expires_at=token.expires_at + timedelta(hours=1),
        scope=token.scope,
        consented_at=token.consented_at,
        client_id=token.client_id,
    )


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TokenStore:
    return FileTokenStore(tmp_path / "t" / "tokens.json") if request.param == "file" else MemoryTokenStore()


def test_versions_count_every_write(store: TokenStore, clock: ManualClock) -> None:
    token = make_token(clock)
    store.save(token)
    loaded = store.load()
    assert loaded is not None and loaded.version == token.version == 1
    fresh = newer(loaded, "2")
    assert store.replace(loaded, fresh) and fresh.version == 2
    assert (store.load() or token).version == 2


def test_a_stale_replace_keeps_the_newer_token(store: TokenStore, clock: ManualClock) -> None:
    store.save(make_token(clock))
    mine = store.load()
    theirs = store.load()
    assert mine is not None and theirs is not None
    assert store.replace(theirs, newer(theirs, "theirs"))  # the other worker wins
    assert not store.replace(mine, newer(mine, "mine"))  # ours lost: nothing written
    kept = store.load()
    assert kept is not None and kept.refresh_token.get_secret_value() == "refresh-theirs"


def test_a_stale_delete_keeps_the_newer_token(store: TokenStore, clock: ManualClock) -> None:
    store.save(make_token(clock))
    failed = store.load()
    assert failed is not None
    store.save(newer(failed, "relogin"))  # the user logged in again meanwhile
    assert not store.delete_if(failed)
    kept = store.load()
    assert kept is not None and kept.refresh_token.get_secret_value() == "refresh-relogin"
    assert store.delete_if(kept) and store.load() is None


def test_a_file_written_before_versions_reads_as_version_0(tmp_path: Path, clock: ManualClock) -> None:
    import json

    path = tmp_path / "tokens.json"
    data = json.loads(make_token(clock).to_json())
    del data["version"]
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    store = FileTokenStore(path)
    old = store.load()
    assert old is not None and old.version == 0
    assert store.replace(old, newer(old, "x"))
    assert (store.load() or old).version == 1
