"""Raw objects stored gzip-compressed (``.json.gz``), old uncompressed ones (``.json``) still read, on a
local folder and on S3 (moto over loopback HTTP): the same promises for both."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from spotify_pipeline.errors import MalformedRawObject
from spotify_pipeline.landing.decode import (
    MAX_JSON_BYTES,
    compress,
    dump,
    encode_stored,
    parse_object,
    stored_json,
)
from spotify_pipeline.landing.envelope import make_fetch, new_envelope
from spotify_pipeline.landing.keys import logical_key, parse_key, stored_key, variant_keys
from spotify_pipeline.landing.local import LocalRawStore
from spotify_pipeline.landing.s3 import S3RawStore
from spotify_pipeline.landing.store import RawStore, open_store, read_logical
from spotify_pipeline.settings import Settings

PLAIN = "recently_played/2026112910.json"
GZ = PLAIN + ".gz"
REQ = "GET /v1/me/player/recently-played?limit=50"


def envelope(n: int) -> dict[str, Any]:
    when = datetime(2026, 11, 29, 10, n, 0, tzinfo=UTC)
    page = {"items": [{"played_at": f"2026-11-29T09:{n:02d}:00.000Z", "n": n, "name": "Beyoncé"}]}
    return new_envelope("recently_played", "alice", [make_fetch(when, REQ, 200, page)])


def ns(store: RawStore, key: str) -> list[int]:
    data = store.get(key)
    assert data is not None
    return [f["response"]["items"][0]["n"] for f in parse_object(data, key)["fetches"]]


# --- keys and bytes ---------------------------------------------------------------------------


def test_both_variants_name_one_logical_object() -> None:
    assert parse_key(GZ) == parse_key(PLAIN)
    assert logical_key(GZ) == logical_key(PLAIN) == PLAIN
    assert stored_key(PLAIN, "gzip") == stored_key(GZ, "gzip") == GZ
    assert stored_key(GZ, "none") == PLAIN
    assert variant_keys(PLAIN) == variant_keys(GZ) == (GZ, PLAIN)
    legacy = "recently_played/recently_played_2024010100.json.gz"
    assert parse_key(legacy).kind == "recently_played" and logical_key(legacy).endswith(".json")
    with pytest.raises(ValueError, match="raw_compression"):
        stored_key(PLAIN, "zstd")


def test_compression_is_deterministic_and_verbatim() -> None:
    data = dump(envelope(1))
    assert compress(data) == compress(data)  # no time stamp: the same bytes, so the same ETag
    assert gzip.decompress(compress(data)) == data  # any gzip reader gets Spotify's answer back
    assert encode_stored(envelope(1), "none") == data
    assert stored_json(compress(data), GZ) == data
    assert stored_json(compress(data), PLAIN) == data  # a .json someone gzipped: recognised by its bytes
    assert stored_json(data, PLAIN) == data


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"fetches": []}', "not gzip data"),
        (compress(b'{"fetches": []}')[:-9], "truncated gzip data"),
        (compress(b'{"fetches": []}')[:12] + b"\x00garbage\xff" * 4, "damaged gzip data"),
        (compress(b"{}") + b"trailing", "after the gzip data"),
    ],
)
def test_damaged_gzip_is_a_malformed_object_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedRawObject, match=reason):
        parse_object(data, GZ)


def test_a_gzip_bomb_is_cut_off_without_inflating_it_whole() -> None:
    bomb = compress(b" " * (MAX_JSON_BYTES + 10))
    assert len(bomb) < 200_000
    with pytest.raises(MalformedRawObject, match="MiB of JSON once decompressed"):
        parse_object(bomb, GZ)


def test_several_gzip_members_are_read_one_after_another() -> None:
    data = dump(envelope(1))
    assert stored_json(compress(data[:10]) + compress(data[10:]), GZ) == data


# --- both stores -------------------------------------------------------------------------------


@pytest.fixture(params=["folder", pytest.param("s3", marks=pytest.mark.s3)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], RawStore]]:
    if request.param == "folder":
        yield lambda compression: LocalRawStore(tmp_path / "raw", compression=compression)
        return
    endpoint, bucket = request.getfixturevalue("s3_bucket")
    yield lambda compression: S3RawStore(
        bucket,
        "zone",
        endpoint_url=endpoint,
        region="us-east-1",
        sleep=lambda s: None,
        compression=compression,
    )


def test_new_objects_are_gzip_and_identical_content_gives_identical_bytes(
    make_store: Callable[[str], RawStore],
) -> None:
    store = make_store("gzip")
    info = store.merge(PLAIN, envelope(1))
    assert info.key == GZ and store.get(PLAIN) is None
    data = store.get(GZ)
    assert data is not None and data[:2] == b"\x1f\x8b" and info.size == len(data)
    assert json.loads(gzip.decompress(data)) == envelope(1)  # the envelope, verbatim, in plain gzip
    assert [(i.key, i.size, i.etag) for i in store.list()] == [(GZ, info.size, info.etag)]
    assert store.merge(PLAIN, envelope(1)) == info  # nothing new: not rewritten, same ETag
    expected = (
        hashlib.md5(data).hexdigest() if isinstance(store, S3RawStore) else hashlib.sha256(data).hexdigest()
    )
    assert info.etag == expected
    store.delete(GZ)  # written again later, the same content: the same bytes, the same ETag
    assert store.merge(PLAIN, envelope(1)) == info and store.get(GZ) == data


def test_an_hour_written_before_compression_keeps_its_file_and_the_union_is_written(
    make_store: Callable[[str], RawStore],
) -> None:
    old = make_store("none")
    plain = old.merge(PLAIN, envelope(1))
    assert plain.key == PLAIN and ns(old, PLAIN) == [1]
    new = make_store("gzip")
    assert new.merge(PLAIN, envelope(1)) == plain  # nothing new: the old file stands, nothing written
    assert new.get(GZ) is None
    info = new.merge(PLAIN, envelope(2))
    assert info.key == GZ and ns(new, GZ) == [1, 2]  # the union: the old file's fetch and the new one
    assert ns(new, PLAIN) == [1] and new.get(PLAIN) == old.get(PLAIN)  # never changed nor removed
    # a writer still on raw_compression=none adds to the .json: a gzip writer reads it in again
    old.merge(PLAIN, envelope(3))
    assert new.merge(PLAIN, envelope(4)).key == GZ and ns(new, GZ) == [1, 2, 3, 4]
    read = read_logical(new, PLAIN)
    assert read is not None and [f["response"]["items"][0]["n"] for f in read["fetches"]] == [1, 2, 3, 4]
    # and back: compression turned off writes the .json, holding everything again
    assert old.merge(GZ, envelope(5)).key == PLAIN and ns(old, PLAIN) == [1, 2, 3, 4, 5]


def test_an_unreadable_other_variant_is_left_alone_and_the_fetch_lands(
    make_store: Callable[[str], RawStore],
) -> None:
    old = make_store("none")
    old.merge(PLAIN, envelope(1))
    store = make_store("gzip")
    if isinstance(store, LocalRawStore):
        (store.root / PLAIN).write_bytes(b'{"items": [')
    else:
        assert isinstance(store, S3RawStore)
        store._client.put_object(Bucket=store.bucket, Key=f"zone/{PLAIN}", Body=b'{"items": [')
    assert store.merge(PLAIN, envelope(2)).key == GZ and ns(store, GZ) == [2]
    assert store.get(PLAIN) == b'{"items": ['  # kept for process to quarantine, never overwritten


def test_a_damaged_compressed_object_is_set_aside_with_its_bytes(
    make_store: Callable[[str], RawStore],
) -> None:
    store = make_store("gzip")
    damaged = compress(b'{"items": [')
    if isinstance(store, LocalRawStore):
        (store.root / "recently_played").mkdir(parents=True)
        (store.root / GZ).write_bytes(damaged)
    else:
        assert isinstance(store, S3RawStore)
        store._client.put_object(Bucket=store.bucket, Key=f"zone/{GZ}", Body=damaged)
    told: list[str] = []
    store.merge(PLAIN, envelope(1), on_set_aside=told.append)
    assert ns(store, GZ) == [1]
    assert store.get("_quarantine/" + GZ) == damaged and len(told) == 1 and "truncated JSON" in told[0]
    note = json.loads(store.get("_quarantine/" + GZ + ".reason.json") or b"")
    assert note["key"] == GZ


def test_raw_compression_is_one_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().raw_compression == "gzip"
    monkeypatch.setenv("SPOTIFY_PIPELINE_RAW_COMPRESSION", "none")
    from spotify_pipeline.settings import load_settings

    settings = load_settings(raw_zone=str(tmp_path / "raw"))
    assert settings.raw_compression == "none"
    assert open_store(settings).compression == "none"
    with pytest.raises(ValueError, match="raw_compression"):
        Settings(raw_compression="zip")  # type: ignore[arg-type]


def test_s3_objects_are_stored_as_gzip_files_without_content_encoding(s3_bucket: tuple[str, str]) -> None:
    endpoint, bucket = s3_bucket
    store = S3RawStore(bucket, "zone", endpoint_url=endpoint, region="us-east-1")
    store.merge(PLAIN, envelope(1))
    head = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").head_object(
        Bucket=bucket, Key=f"zone/{GZ}"
    )
    assert head["ContentType"] == "application/gzip" and "ContentEncoding" not in head
