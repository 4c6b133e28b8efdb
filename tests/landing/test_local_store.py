from __future__ import annotations

import errno
import gzip
import hashlib
import json
import multiprocessing
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from spotify_pipeline.clock import ManualClock
from spotify_pipeline.errors import StoreError
from spotify_pipeline.landing.decode import dump, parse_object
from spotify_pipeline.landing.envelope import make_fetch, new_envelope
from spotify_pipeline.landing.local import LocalRawStore
from spotify_pipeline.landing.store import open_store
from spotify_pipeline.settings import Settings

KEY = "recently_played/2026112910.json.gz"
PLAIN = "recently_played/2026112910.json"  # the same hour, uncompressed (written before gzip)  # the key a merge writes (raw_compression gzip, the default)
REQ = "GET /v1/me/player/recently-played?limit=50"


def envelope(n: int, writer: int = 0) -> dict[str, Any]:
    when = datetime(2026, 11, 29, 10, n % 60, writer, tzinfo=UTC)
    page = {"items": [{"played_at": f"2026-11-29T09:{n % 60:02d}:00.000Z", "writer": writer, "n": n}]}
    return new_envelope("recently_played", None, [make_fetch(when, REQ, 200, page)])


def responses(store: LocalRawStore, key: str = KEY) -> list[Any]:
    data = store.get(key)
    assert data is not None
    return [f["response"] for f in parse_object(data, key)["fetches"]]


def test_open_store_picks_the_folder(tmp_path: Path) -> None:
    store = open_store(Settings(raw_zone=str(tmp_path / "raw")))
    assert isinstance(store, LocalRawStore)
    assert store.location == str(tmp_path / "raw")


def test_relative_folder_is_shown_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert open_store(Settings(raw_zone="./data/raw")).location == str(tmp_path / "data" / "raw")


def test_get_missing_is_none_and_empty_store_lists_nothing(tmp_path: Path) -> None:
    store = LocalRawStore(tmp_path / "raw")
    assert store.get(KEY) is None
    assert list(store.list()) == []


def test_merge_creates_then_unions(tmp_path: Path) -> None:
    store = LocalRawStore(tmp_path)
    first = store.merge(KEY, envelope(1))
    second = store.merge(KEY, envelope(2))
    assert first.etag != second.etag
    assert [r["items"][0]["n"] for r in responses(store)] == [1, 2]
    data = (tmp_path / "recently_played" / "2026112910.json.gz").read_bytes()
    assert second.size == len(data)


def test_merging_what_is_held_does_not_rewrite(tmp_path: Path) -> None:
    store = LocalRawStore(tmp_path)
    info = store.merge(KEY, envelope(1))
    path = tmp_path / KEY
    before = path.stat()
    assert store.merge(KEY, envelope(1)) == info
    assert path.stat().st_ino == before.st_ino  # not replaced


def test_merge_into_a_legacy_bare_page_keeps_it(tmp_path: Path) -> None:
    legacy = {"items": [{"played_at": "2019-01-01T00:00:00.000Z"}], "next": None}
    (tmp_path / "recently_played").mkdir()
    (tmp_path / PLAIN).write_text(json.dumps(legacy))
    store = LocalRawStore(tmp_path)
    assert store.merge(PLAIN, envelope(1)).key == KEY  # the compressed variant, holding both
    assert responses(store)[0] == legacy
    assert len(responses(store)) == 2
    assert json.loads((tmp_path / PLAIN).read_text()) == legacy  # the old file is never changed


def test_merging_into_an_unreadable_object_moves_it_aside_and_lands_the_fetch(tmp_path: Path) -> None:
    (tmp_path / "recently_played").mkdir()
    damaged = gzip.compress(b'{"items": [', mtime=0)
    (tmp_path / KEY).write_bytes(damaged)
    store = LocalRawStore(tmp_path)
    told: list[str] = []
    store.merge(KEY, envelope(1), on_set_aside=told.append)
    assert len(responses(store)) == 1  # the new fetch landed, alone
    assert (tmp_path / "_quarantine" / KEY).read_bytes() == damaged  # the bytes, moved aside
    note = json.loads((tmp_path / "_quarantine" / (KEY + ".reason.json")).read_bytes())
    assert note["key"] == KEY and "truncated JSON at byte 11" in note["reason"] and "moved" in note["note"]
    assert len(told) == 1 and "moved it to _quarantine/" + KEY in told[0] and "truncated JSON" in told[0]
    store.merge(KEY, envelope(2), on_set_aside=told.append)  # told once: the new object reads fine
    assert len(told) == 1 and len(responses(store)) == 2


def test_a_second_damaged_version_never_overwrites_the_first_set_aside(tmp_path: Path) -> None:
    store = LocalRawStore(tmp_path)
    (tmp_path / "recently_played").mkdir()
    (tmp_path / KEY).write_bytes(b"first damage")
    store.merge(KEY, envelope(1))
    (tmp_path / KEY).write_bytes(b"second damage")
    store.merge(KEY, envelope(2))
    kept = {
        p.read_bytes()
        for p in (tmp_path / "_quarantine" / "recently_played").iterdir()
        if "reason" not in p.name
    }
    assert kept == {b"first damage", b"second damage"}
    assert [k.key for k in store.list()] == [KEY]  # set-aside copies are not raw objects


def test_list_is_sorted_with_prefix_and_skips_temp_lock_and_quarantine(tmp_path: Path) -> None:
    store = LocalRawStore(tmp_path)
    keys = [
        "recently_played/2026112912.json.gz",
        "recently_played/2026112910.json.gz",
        "following_artists/2026112900.json.gz",
        "users/alice/recently_played/2026112910.json.gz",
    ]
    for key in keys:
        kind = key.split("/")[-2]
        store.merge(key, new_envelope(kind, None, envelope(1)["fetches"]))
    store.quarantine("recently_played/2026112912.json.gz", "test")
    (tmp_path / "recently_played" / ".tmp-2026112913.json.1.abc").write_text("{")
    listed = list(store.list())
    assert [i.key for i in listed] == sorted(keys)
    assert [i.key for i in store.list("recently_played/")] == sorted(keys[:2])
    for info in listed:
        data = store.get(info.key)
        assert data is not None and info.size == len(data)
        assert info.etag == hashlib.sha256(data).hexdigest()


def test_etag_follows_content_changes(tmp_path: Path) -> None:
    store = LocalRawStore(tmp_path)
    store.merge(KEY, envelope(1))
    (before,) = store.list()
    store.merge(KEY, envelope(2))
    (after,) = store.list()
    assert before.etag != after.etag


def test_quarantine_copies_with_a_reason_and_keeps_the_original(tmp_path: Path) -> None:
    (tmp_path / "recently_played").mkdir()
    (tmp_path / KEY).write_bytes(b"[1, 2]")
    clock = ManualClock(datetime(2026, 11, 29, 12, tzinfo=UTC))
    store = LocalRawStore(tmp_path, clock=clock)
    qkey = store.quarantine(KEY, "expected an object with 'fetches' or a Spotify page, got list of int")
    assert qkey == "_quarantine/" + KEY
    assert (tmp_path / KEY).read_bytes() == b"[1, 2]"
    assert store.get(qkey) == b"[1, 2]"
    note = json.loads((tmp_path / "_quarantine" / (KEY + ".reason.json")).read_text())
    assert note["key"] == KEY
    assert note["reason"].endswith("got list of int")
    assert note["quarantined_at"] == "2026-11-29T12:00:00+00:00"
    with pytest.raises(StoreError, match="no such object"):
        store.quarantine("recently_played/2000010100.json", "x")


@pytest.mark.parametrize("key", ["../escape.json", "/etc/passwd", "a//b.json", "a/./b.json", ""])
def test_keys_cannot_leave_the_folder(tmp_path: Path, key: str) -> None:
    with pytest.raises(StoreError, match="not a valid raw-zone key"):
        LocalRawStore(tmp_path / "raw").get(key)


# --- atomicity and failures ---------------------------------------------------------------------


@pytest.mark.parametrize("target", ["write", "replace", "open", "fsync"])
def test_disk_full_leaves_the_previous_object_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    store = LocalRawStore(tmp_path)
    store.merge(KEY, envelope(1))
    before = (tmp_path / KEY).read_bytes()
    real = getattr(os, target)

    def full(*args: Any, **kwargs: Any) -> Any:
        # Let the lock file and directory opens through; fail the data write path.
        if target == "open" and ".tmp-" not in str(args[0]):
            return real(*args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, target, full)
    with pytest.raises(StoreError) as err:
        store.merge(KEY, envelope(2))
    monkeypatch.undo()
    message = str(err.value)
    assert KEY in message and str(tmp_path) in message
    assert "ENOSPC" in message and "The disk holding" in message and "free some space" in message
    assert "previous object is intact" in message
    assert (tmp_path / KEY).read_bytes() == before
    assert [p.name for p in (tmp_path / "recently_played").iterdir() if p.name.startswith(".tmp-")] == []


def test_read_only_folder_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalRawStore(tmp_path)
    store.merge(KEY, envelope(1))
    before = (tmp_path / KEY).read_bytes()
    folder = tmp_path / "recently_played"
    folder.chmod(0o555)
    if os.geteuid() == 0:
        # root ignores directory permissions: have the kernel's answer to a non-root user given instead.
        real_open = os.open

        def denied(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if str(path).startswith(str(folder)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                raise OSError(errno.EACCES, "Permission denied", str(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", denied)
    try:
        with pytest.raises(StoreError, match="is not writable") as err:
            store.merge(KEY, envelope(2))
    finally:
        monkeypatch.undo()
        folder.chmod(0o755)
    assert f"{folder} is not writable" in str(err.value)
    assert "EACCES" in str(err.value)
    assert (tmp_path / KEY).read_bytes() == before
    assert store.get(KEY) == before  # reading still works


def test_read_only_filesystem_names_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The same path as a read-only folder, reproducible as root: the lock file cannot be created.
    store = LocalRawStore(tmp_path)
    real_open = os.open

    def read_only(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    (tmp_path / "recently_played").mkdir()
    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(StoreError) as err:
        store.merge(KEY, envelope(1))
    assert "EROFS" in str(err.value)
    assert f"{tmp_path / 'recently_played'} is not writable" in str(err.value)
    assert "SPOTIFY_PIPELINE_RAW_ZONE" in str(err.value)


def test_a_reader_never_sees_a_partial_object(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Stop the writer after the temp file is complete but before the rename: the object is unchanged.
    store = LocalRawStore(tmp_path)
    store.merge(KEY, envelope(1))
    seen: list[bytes | None] = []

    def crash(src: Any, dst: Any) -> None:
        seen.append(store.get(KEY))
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(StoreError):
        store.merge(KEY, envelope(2))
    assert seen[0] is not None and parse_object(seen[0], KEY) == parse_object(dump(envelope(1)), PLAIN)


# --- concurrency across processes -------------------------------------------------------------

WRITERS, MERGES = 4, 10


def _writer(root: str, writer: int, start: Any) -> None:
    store = LocalRawStore(Path(root))
    start.wait()
    for n in range(MERGES):
        store.merge(KEY, envelope(n, writer))


def test_concurrent_merges_from_several_processes_lose_nothing(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, start)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    held = {(r["items"][0]["writer"], r["items"][0]["n"]) for r in responses(LocalRawStore(tmp_path))}
    assert held == {(w, n) for w in range(WRITERS) for n in range(MERGES)}


# --- write-once bytes (archived export files) ---------------------------------------------------

ARCHIVED = "imports/alice/" + "ab" * 32 + "/Streaming_History_Audio_2026.json"


def test_put_bytes_writes_once_and_a_same_content_repeat_is_a_no_op(tmp_path: Path) -> None:
    store = LocalRawStore(tmp_path)
    data = b'[{"ts": "2026-11-29T10:00:00Z"}]'
    info = store.put_bytes(ARCHIVED, data)
    assert info == (ARCHIVED, len(data), hashlib.sha256(data).hexdigest())
    assert store.get(ARCHIVED) == data
    inode = (tmp_path / ARCHIVED).stat().st_ino
    assert store.put_bytes(ARCHIVED, data) == info
    assert (tmp_path / ARCHIVED).stat().st_ino == inode  # not rewritten
    with pytest.raises(StoreError, match=f"{ARCHIVED} already exists in {tmp_path} with other content"):
        store.put_bytes(ARCHIVED, b"[]")
    assert store.get(ARCHIVED) == data
    assert sorted(p.name for p in (tmp_path / ARCHIVED).parent.iterdir()) == [
        "Streaming_History_Audio_2026.json"
    ]


def test_put_bytes_racing_writers_never_overwrite(tmp_path: Path) -> None:
    # Eight writers of one key with different bytes: the hard-link publish lets exactly one win.
    import threading

    store = LocalRawStore(tmp_path)
    start = threading.Barrier(8)
    won: list[bytes] = []
    refused: list[StoreError] = []

    def write(n: int) -> None:
        data = f"writer {n}".encode()
        start.wait()
        try:
            store.put_bytes(ARCHIVED, data)
            won.append(data)
        except StoreError as exc:
            refused.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(refused) == 7
    assert store.get(ARCHIVED) == won[0]
    assert [p.name for p in (tmp_path / ARCHIVED).parent.iterdir()] == ["Streaming_History_Audio_2026.json"]


def test_put_bytes_without_hard_links_still_writes_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)  # FAT, some FUSE and SMB mounts
    store = LocalRawStore(tmp_path)
    store.put_bytes(ARCHIVED, b"one")
    assert store.put_bytes(ARCHIVED, b"one").size == 3
    with pytest.raises(StoreError, match="other content"):
        store.put_bytes(ARCHIVED, b"two")
    assert store.get(ARCHIVED) == b"one"
    assert [p.name for p in (tmp_path / ARCHIVED).parent.iterdir()] == ["Streaming_History_Audio_2026.json"]


def test_put_bytes_on_a_full_disk_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    store = LocalRawStore(tmp_path)
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StoreError, match=f"could not write {ARCHIVED} .*ENOSPC.*is full"):
        store.put_bytes(ARCHIVED, b"data")
    monkeypatch.undo()
    assert store.get(ARCHIVED) is None
    assert list((tmp_path / ARCHIVED).parent.iterdir()) == []


def test_a_fresh_store_hashes_only_the_files_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The etags of listed files are kept in a hidden cache at the root (inode, mtime, size -> sha256),
    so the next run (a new process) lists a year of objects without reading them again."""
    from spotify_pipeline.landing import local

    writer = LocalRawStore(tmp_path)
    for hour in range(10, 14):
        writer.merge(f"recently_played/20261129{hour}.json", envelope(hour))
    first = list(LocalRawStore(tmp_path).list())
    assert (tmp_path / ".etags.json").exists() and ".etags.json" not in {i.key for i in first}
    hashed: list[Path] = []
    real = local._file_digest

    def counting(path: Path) -> tuple[int, str]:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(local, "_file_digest", counting)
    assert list(LocalRawStore(tmp_path).list()) == first and hashed == []
    writer.merge(KEY, envelope(59))  # one object changes: only it is read
    changed = list(LocalRawStore(tmp_path).list())
    assert hashed == [tmp_path / KEY]
    assert [i.etag for i in changed if i.key != KEY] == [i.etag for i in first if i.key != KEY]
    assert (
        next(i.etag for i in changed if i.key == KEY)
        == hashlib.sha256((tmp_path / KEY).read_bytes()).hexdigest()
    )
    (tmp_path / ".etags.json").write_text("{damaged")  # a damaged cache: everything hashed once more
    hashed.clear()
    assert list(LocalRawStore(tmp_path).list()) == changed and len(hashed) == 4
