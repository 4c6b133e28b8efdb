"""TokenState and the token stores: masking, the 6-month clock, 0600 atomic files."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.errors import ConfigError
from spotify_pipeline.spotify.tokens import FileTokenStore, MemoryTokenStore, TokenState

from .conftest import ACCESS, REFRESH, make_token


def test_repr_and_str_mask_both_tokens(clock: ManualClock) -> None:
    token = make_token(clock)
    for text in (repr(token), str(token), repr(MemoryTokenStore(token))):
        assert ACCESS not in text and REFRESH not in text
    assert "**********" in repr(token)


def test_days_left_counts_from_consent_not_from_the_last_refresh(clock: ManualClock) -> None:
    token = make_token(clock, consented_days_ago=152)
    assert token.days_left(clock.now()) == pytest.approx(30)
    assert token.refresh_expires_at == token.consented_at + timedelta(days=182)
    assert token.days_left(clock.now() + timedelta(days=40)) == pytest.approx(-10)


def test_access_token_counts_as_expired_a_minute_early(clock: ManualClock) -> None:
    token = make_token(clock, expires_in=120)
    assert not token.access_expired(clock.now())
    assert token.access_expired(clock.now() + timedelta(seconds=61))


def test_json_round_trip(clock: ManualClock) -> None:
    token = make_token(clock)
    assert TokenState.from_json(token.to_json()) == token


def test_file_store_writes_0600_in_a_0700_folder(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "state" / "tokens.json"
    store = FileTokenStore(path)
    assert store.load() is None
    store.save(make_token(clock))

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert store.load() == make_token(clock)
    assert [p.name for p in path.parent.iterdir()] == ["tokens.json"]  # no temp file left
    assert str(path) in repr(store) and ACCESS not in repr(store)


def test_a_crash_while_saving_leaves_the_old_file_intact(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tokens.json"
    store = FileTokenStore(path)
    old = make_token(clock)
    store.save(old)
    before = path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    clock.advance(3600)
    with pytest.raises(OSError):
        store.save(make_token(clock))
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert store.load() == old
    assert [p.name for p in tmp_path.iterdir()] == ["tokens.json"]


def test_the_temp_file_is_never_readable_by_others(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append(stat.S_IMODE(os.stat(src).st_mode))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    FileTokenStore(tmp_path / "tokens.json").save(make_token(clock))
    assert seen == [0o600]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"access_token": "x"}',
        '{"access_token": "a", "refresh_token": "r", "client_id": "c", '
        '"expires_at": "yesterday", "consented_at": "2026-01-01T00:00:00+00:00"}',
    ],
)
def test_a_corrupt_file_names_itself_and_says_log_in_again(tmp_path: Path, content: str) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as err:
        FileTokenStore(path).load()
    assert str(path) in str(err.value)
    assert "run `spotify-pipeline auth login` again" in str(err.value)


def test_a_corrupt_file_with_a_token_in_it_does_not_echo_the_token(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(f'{{"access_token": "{ACCESS}", "refresh_token": "{REFRESH}", ')
    with pytest.raises(ConfigError) as err:
        FileTokenStore(path).load()
    assert ACCESS not in str(err.value) and REFRESH not in str(err.value)


def test_a_too_open_file_is_tightened(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "tokens.json"
    FileTokenStore(path).save(make_token(clock))
    os.chmod(path, 0o644)
    assert FileTokenStore(path).load() == make_token(clock)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_delete(tmp_path: Path, clock: ManualClock) -> None:
    store = FileTokenStore(tmp_path / "tokens.json")
    store.save(make_token(clock))
    store.delete()
    store.delete()  # idempotent
    assert store.load() is None


# --- a token_file setting naming someone else's file -------------------------


@pytest.mark.parametrize("content", ["127.0.0.1 localhost\n", '{"hosts": []}', "[1, 2]", "{not json"])
def test_a_foreign_file_is_never_tightened_overwritten_or_deleted(
    tmp_path: Path, clock: ManualClock, content: str
) -> None:
    path = tmp_path / "hosts"
    path.write_text(content)
    os.chmod(path, 0o644)
    store = FileTokenStore(path)
    for action in (store.load, lambda: store.save(make_token(clock)), store.delete):
        with pytest.raises(ConfigError, match="is not a spotify-pipeline token store .*left untouched"):
            action()
    assert path.read_text() == content and stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_damaged_file_of_ours_can_be_replaced_by_a_new_login(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "tokens.json"
    path.write_text('{"format": "spotify-pipeline.tokens/1", "refresh_token": ""}')
    with pytest.raises(ConfigError, match="is corrupt"):
        FileTokenStore(path).load()
    FileTokenStore(path).save(make_token(clock))
    assert FileTokenStore(path).load() == make_token(clock)
    assert FileTokenStore(path).delete() is True and FileTokenStore(path).delete() is False


def test_a_symlinked_token_file_is_refused_and_its_target_keeps_its_bytes(
    tmp_path: Path, clock: ManualClock
) -> None:
    target = tmp_path / "real-tokens.json"
    FileTokenStore(target).save(make_token(clock))
    before = target.read_bytes()
    link = tmp_path / "tokens.json"
    link.symlink_to(target)
    store = FileTokenStore(link)
    for action in (store.load, lambda: store.save(make_token(clock)), store.delete):
        with pytest.raises(ConfigError, match="is a symbolic link"):
            action()
    assert link.is_symlink() and target.read_bytes() == before


def test_a_device_or_folder_is_not_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a regular file"):
        FileTokenStore(Path("/dev/zero")).load()  # would read forever
    with pytest.raises(ConfigError, match="not a regular file"):
        FileTokenStore(tmp_path).load()
