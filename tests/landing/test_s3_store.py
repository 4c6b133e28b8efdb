"""The S3 store against a real moto server over loopback HTTP (the `s3_bucket` fixture).

moto 5 honours If-None-Match: * and If-Match on PutObject like AWS S3 and MinIO, so the race tests
exercise the real conditional-write path.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from spotify_pipeline.errors import StoreError
from spotify_pipeline.landing.decode import parse_object
from spotify_pipeline.landing.envelope import make_fetch, new_envelope
from spotify_pipeline.landing.s3 import S3RawStore, make_client
from spotify_pipeline.landing.store import open_store
from spotify_pipeline.settings import Settings

pytestmark = pytest.mark.s3

KEY = "recently_played/2026112910.json.gz"  # the key a merge writes (raw_compression gzip, the default)
PLAIN = "recently_played/2026112910.json"  # the same hour, uncompressed (written before gzip)
REQ = "GET /v1/me/player/recently-played?limit=50"


def envelope(n: int, writer: int = 0) -> dict[str, Any]:
    when = datetime(2026, 11, 29, 10, n % 60, writer % 60, tzinfo=UTC)
    page = {"items": [{"played_at": f"2026-11-29T09:{n % 60:02d}:00.000Z", "writer": writer, "n": n}]}
    return new_envelope("recently_played", None, [make_fetch(when, REQ, 200, page)])


def held(store: S3RawStore, key: str = KEY) -> set[tuple[int, int]]:
    data = store.get(key)
    assert data is not None
    return {
        (f["response"]["items"][0]["writer"], f["response"]["items"][0]["n"])
        for f in parse_object(data, key)["fetches"]
    }


@pytest.fixture()
def store(s3_bucket: tuple[str, str]) -> S3RawStore:
    endpoint, bucket = s3_bucket
    return S3RawStore(bucket, "raw/zone", endpoint_url=endpoint, region="us-east-1", sleep=lambda s: None)


def raw_client(s3_bucket: tuple[str, str]) -> Any:
    return boto3.client("s3", endpoint_url=s3_bucket[0], region_name="us-east-1")


def test_open_store_parses_bucket_and_prefix(s3_bucket: tuple[str, str]) -> None:
    endpoint, bucket = s3_bucket
    store = open_store(
        Settings(raw_zone=f"s3://{bucket}/some/prefix/", s3_endpoint_url=endpoint, s3_region="us-east-1")
    )
    assert isinstance(store, S3RawStore)
    assert store.location == f"s3://{bucket}/some/prefix"
    store.merge(KEY, envelope(1))
    keys = [o["Key"] for o in raw_client(s3_bucket).list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [f"some/prefix/{KEY}"]


def test_put_get_list_with_prefix(store: S3RawStore, s3_bucket: tuple[str, str]) -> None:
    assert store.get(KEY) is None
    assert list(store.list()) == []
    keys = ["recently_played/2026112912.json.gz", KEY, "following_artists/2026112900.json.gz"]
    infos = {}
    for key in keys:
        kind = key.split("/")[0]
        infos[key] = store.merge(key, new_envelope(kind, None, envelope(1)["fetches"]))
    # Objects outside the store's prefix (even one that shares its first letters) are not ours.
    client = raw_client(s3_bucket)
    client.put_object(Bucket=store.bucket, Key="raw/zonex/recently_played/2026112910.json", Body=b"{}")
    client.put_object(Bucket=store.bucket, Key=KEY, Body=b"{}")
    store.quarantine(KEY, "test")
    listed = list(store.list())
    assert [i.key for i in listed] == sorted(keys)
    assert [i.key for i in store.list("recently_played/")] == [KEY, "recently_played/2026112912.json.gz"]
    for info in listed:
        data = store.get(info.key)
        assert data is not None and info.size == len(data)
        assert info.etag == infos[info.key].etag  # the ETag put_object returned, unquoted


def test_merge_is_a_union_and_idempotent(store: S3RawStore) -> None:
    first = store.merge(KEY, envelope(1))
    second = store.merge(KEY, envelope(2))
    assert first.etag != second.etag
    assert held(store) == {(0, 1), (0, 2)}
    assert store.merge(KEY, envelope(1)) == second  # nothing new: no write


def test_merge_into_a_legacy_bare_page(store: S3RawStore, s3_bucket: tuple[str, str]) -> None:
    legacy = {"items": [{"played_at": "2019-01-01T00:00:00.000Z"}], "next": None}
    raw_client(s3_bucket).put_object(
        Bucket=store.bucket, Key=f"raw/zone/{PLAIN}", Body=json.dumps(legacy).encode()
    )
    assert store.merge(PLAIN, envelope(1)).key == KEY  # the compressed variant, holding both
    assert json.loads(store.get(PLAIN) or b"") == legacy  # the old object is never changed
    data = store.get(KEY)
    assert data is not None
    assert [f["response"] for f in parse_object(data, KEY)["fetches"]][0] == legacy


def test_merging_into_an_unreadable_object_moves_it_aside_and_lands_the_fetch(
    store: S3RawStore, s3_bucket: tuple[str, str]
) -> None:
    raw_client(s3_bucket).put_object(Bucket=store.bucket, Key=f"raw/zone/{KEY}", Body=b"")
    raw_client(s3_bucket).put_object(Bucket=store.bucket, Key=f"raw/zone/_quarantine/{KEY}", Body=b"older")
    told: list[str] = []
    store.merge(KEY, envelope(1), on_set_aside=told.append)
    assert held(store) == {(0, 1)}
    qkey = next(
        k.split("raw/zone/", 1)[1]
        for k in _keys(s3_bucket)
        if "_quarantine" in k
        and k.endswith(".json.gz")
        and "reason" not in k
        and not k.endswith(f"_quarantine/{KEY}")
    )
    assert store.get(qkey) == b"" and store.get(f"_quarantine/{KEY}") == b"older"  # nothing overwritten
    note = json.loads(store.get(qkey + ".reason.json") or b"")
    assert note["reason"] == "empty file" and note["key"] == KEY
    assert len(told) == 1 and f"moved it to {qkey}" in told[0]


def test_setting_aside_loses_a_race_to_a_writer_that_fixed_the_object(
    store: S3RawStore, s3_bucket: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = raw_client(s3_bucket)
    client.put_object(Bucket=store.bucket, Key=f"raw/zone/{KEY}", Body=b"{broken")
    real = store._set_aside

    def racing(*args: Any) -> str:
        qkey = real(*args)
        store_fixed = S3RawStore(store.bucket, "raw/zone", client=make_client(s3_bucket[0], "us-east-1"))
        client.delete_object(Bucket=store.bucket, Key=f"raw/zone/{KEY}")
        store_fixed.merge(KEY, envelope(7, writer=3))  # another writer replaced it meanwhile
        return qkey

    monkeypatch.setattr(store, "_set_aside", racing)
    store.merge(KEY, envelope(1))
    assert held(store) == {(0, 1), (3, 7)}  # the conditional put re-read and merged: nothing lost


def _keys(s3_bucket: tuple[str, str]) -> list[str]:
    listed = raw_client(s3_bucket).list_objects_v2(Bucket=s3_bucket[1])
    return [o["Key"] for o in listed.get("Contents", [])]


def test_quarantine_copies_with_reason(store: S3RawStore) -> None:
    store.merge(KEY, envelope(1))
    original = store.get(KEY)
    qkey = store.quarantine(KEY, "a reason a person can act on")
    assert qkey == "_quarantine/" + KEY
    assert store.get(qkey) == original and store.get(KEY) == original
    note = json.loads(store.get(qkey + ".reason.json") or b"")
    assert note["reason"] == "a reason a person can act on" and note["key"] == KEY


def test_conditional_writes_are_enforced_by_the_server(store: S3RawStore, s3_bucket: tuple[str, str]) -> None:
    # The guarantee the store relies on, checked against this server directly.
    from botocore.exceptions import ClientError

    client = raw_client(s3_bucket)
    client.put_object(Bucket=store.bucket, Key="k", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError) as err:
        client.put_object(Bucket=store.bucket, Key="k", Body=b"2", IfNoneMatch="*")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as err:
        client.put_object(Bucket=store.bucket, Key="k", Body=b"2", IfMatch='"0123"')
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


# --- racing writers -----------------------------------------------------------------------------


def test_a_writer_that_loses_the_race_re_reads_and_re_merges(s3_bucket: tuple[str, str]) -> None:
    """Deterministic interleaving: writer B's whole merge lands between writer A's read and A's put."""
    endpoint, bucket = s3_bucket
    a = S3RawStore(bucket, "p", endpoint_url=endpoint, region="us-east-1", sleep=lambda s: None)
    b = S3RawStore(bucket, "p", endpoint_url=endpoint, region="us-east-1", sleep=lambda s: None)
    a.merge(KEY, envelope(0, writer=0))
    puts: list[int] = []

    def before_put(**kwargs: Any) -> None:
        puts.append(1)
        if len(puts) == 1:
            b.merge(KEY, envelope(1, writer=1))  # B wins; A's If-Match is now stale

    a._client.meta.events.register("before-send.s3.PutObject", before_put)
    a.merge(KEY, envelope(2, writer=0))
    assert len(puts) == 2  # the first put failed with 412, the second carried the re-merged object
    assert held(a) == {(0, 0), (1, 1), (0, 2)}


def test_two_writers_racing_on_a_new_key(s3_bucket: tuple[str, str]) -> None:
    """Both read 'no object'; If-None-Match: * lets only one create it, the other merges on top."""
    endpoint, bucket = s3_bucket
    a = S3RawStore(bucket, "", endpoint_url=endpoint, region="us-east-1", sleep=lambda s: None)
    b = S3RawStore(bucket, "", endpoint_url=endpoint, region="us-east-1", sleep=lambda s: None)
    fired: list[int] = []

    def before_put(**kwargs: Any) -> None:
        if not fired:
            fired.append(1)
            b.merge(KEY, envelope(1, writer=1))

    a._client.meta.events.register("before-send.s3.PutObject", before_put)
    a.merge(KEY, envelope(2, writer=0))
    assert held(a) == {(1, 1), (0, 2)}


def test_racing_threads_lose_nothing(s3_bucket: tuple[str, str]) -> None:
    endpoint, bucket = s3_bucket
    writers, merges = 4, 6
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def run(writer: int) -> None:
        store = S3RawStore(bucket, "race", endpoint_url=endpoint, region="us-east-1", max_merge_attempts=50)
        barrier.wait()
        try:
            for n in range(merges):
                store.merge(KEY, envelope(n, writer))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    check = S3RawStore(bucket, "race", endpoint_url=endpoint, region="us-east-1")
    assert held(check) == {(w, n) for w in range(writers) for n in range(merges)}


def test_gives_up_after_bounded_conflicts(store: S3RawStore, s3_bucket: tuple[str, str]) -> None:
    store.merge(KEY, envelope(0))
    other = S3RawStore(store.bucket, store.prefix, endpoint_url=s3_bucket[0], region="us-east-1")
    counter = iter(range(1, 1000))

    def other_writer_gets_in_first(**kwargs: Any) -> None:
        other.merge(KEY, envelope(next(counter), writer=9))

    store._client.meta.events.register("before-send.s3.PutObject", other_writer_gets_in_first)
    with pytest.raises(
        StoreError, match="gave up writing .* after 10 attempts.*Nothing the object held was lost"
    ):
        store.merge(KEY, envelope(1))
    assert held(other) == {(0, 0)} | {(9, n) for n in range(1, 11)}


# --- S3 failures --------------------------------------------------------------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._body


def _internal_error(request: Any, **kwargs: Any) -> AWSResponse:
    body = b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"
    return AWSResponse(request.url, 500, {"Content-Type": "application/xml"}, _Raw(body))


def test_a_500_from_s3_is_a_store_error_and_nothing_is_lost(s3_bucket: tuple[str, str]) -> None:
    endpoint, bucket = s3_bucket
    client = make_client(endpoint, "us-east-1", max_attempts=2)
    store = S3RawStore(bucket, "p", client=client)
    store.merge(KEY, envelope(1))
    before = store.get(KEY)
    sent: list[int] = []

    def fail(request: Any, **kwargs: Any) -> AWSResponse:
        sent.append(1)
        return _internal_error(request)

    client.meta.events.register("before-send.s3.PutObject", fail)
    with pytest.raises(StoreError) as err:
        store.merge(KEY, envelope(2))
    message = str(err.value)
    assert f"s3://{bucket}/p/{KEY}" in message
    assert "500 InternalError" in message and "previous object is intact" in message
    assert "testing" not in message  # the (fake) credentials never appear
    assert len(sent) == 2  # boto3 retried before we gave up
    assert store.get(KEY) == before


def test_a_transient_500_is_retried_by_boto3(s3_bucket: tuple[str, str]) -> None:
    endpoint, bucket = s3_bucket
    client = make_client(endpoint, "us-east-1", max_attempts=3)
    store = S3RawStore(bucket, "p", client=client)
    sent: list[int] = []

    def fail_once(request: Any, **kwargs: Any) -> AWSResponse | None:
        sent.append(1)
        return _internal_error(request) if len(sent) == 1 else None

    client.meta.events.register("before-send.s3.PutObject", fail_once)
    store.merge(KEY, envelope(1))
    assert len(sent) == 2
    assert held(store) == {(0, 1)}


def test_an_unresponsive_endpoint_times_out_into_a_store_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
        client = make_client(endpoint, "us-east-1", max_attempts=1, connect_timeout=0.5, read_timeout=0.2)
        store = S3RawStore("bucket", "p", client=client)
        with pytest.raises(StoreError) as err:
            store.get(KEY)
    assert f"s3://bucket/p/{KEY}" in str(err.value) and "ReadTimeout" in str(err.value)
    assert "SPOTIFY_PIPELINE_S3_ENDPOINT_URL" in str(err.value)


def test_missing_bucket_says_what_to_do(s3_bucket: tuple[str, str]) -> None:
    store = S3RawStore("no-such-bucket-here", "", endpoint_url=s3_bucket[0], region="us-east-1")
    with pytest.raises(StoreError, match="404 NoSuchBucket\\). Create the bucket 'no-such-bucket-here'"):
        store.merge(KEY, envelope(1))


# --- write-once bytes (archived export files) ---------------------------------------------------

ARCHIVED = "imports/alice/" + "ab" * 32 + "/Streaming_History_Audio_2026.json"


def test_put_bytes_writes_once_and_a_same_content_repeat_is_a_no_op(
    store: S3RawStore, s3_bucket: tuple[str, str]
) -> None:
    data = b'[{"ts": "2026-11-29T10:00:00Z"}]'
    info = store.put_bytes(ARCHIVED, data)
    assert info.key == ARCHIVED and info.size == len(data)
    assert store.get(ARCHIVED) == data
    client = raw_client(s3_bucket)
    modified = client.head_object(Bucket=store.bucket, Key="raw/zone/" + ARCHIVED)["LastModified"]
    assert store.put_bytes(ARCHIVED, data) == info
    assert client.head_object(Bucket=store.bucket, Key="raw/zone/" + ARCHIVED)["LastModified"] == modified
    with pytest.raises(StoreError, match=f"{ARCHIVED} already exists in {store.location} with other content"):
        store.put_bytes(ARCHIVED, b"[]")
    assert store.get(ARCHIVED) == data


def test_put_bytes_compares_bytes_when_the_etag_is_not_an_md5(
    store: S3RawStore, s3_bucket: tuple[str, str]
) -> None:
    # A multipart upload's ETag is "<md5 of md5s>-<parts>": only the bytes can say it is the same file.
    client = raw_client(s3_bucket)
    full = "raw/zone/" + ARCHIVED
    upload = client.create_multipart_upload(Bucket=store.bucket, Key=full)
    part = client.upload_part(
        Bucket=store.bucket, Key=full, UploadId=upload["UploadId"], PartNumber=1, Body=b"abc"
    )
    client.complete_multipart_upload(
        Bucket=store.bucket, Key=full, UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )  # fmt: skip
    assert client.head_object(Bucket=store.bucket, Key=full)["ETag"].endswith('-1"')
    assert store.put_bytes(ARCHIVED, b"abc").size == 3
    with pytest.raises(StoreError, match="other content"):
        store.put_bytes(ARCHIVED, b"abd")  # same size, other bytes


@pytest.mark.parametrize("theirs", [b"same", b"other"])
def test_put_bytes_racing_a_writer_after_the_head_uses_if_none_match(
    store: S3RawStore, s3_bucket: tuple[str, str], monkeypatch: pytest.MonkeyPatch, theirs: bytes
) -> None:
    # Another writer lands the key between our HEAD and our PUT: the server refuses our PUT (412),
    # and the store compares with what the other writer put instead of overwriting it.
    real_head = store._head
    calls: list[str] = []

    def head_then_race(full: str) -> tuple[int, str] | None:
        calls.append(full)
        if len(calls) == 1:
            raw_client(s3_bucket).put_object(Bucket=store.bucket, Key=full, Body=theirs)
            return None
        return real_head(full)

    monkeypatch.setattr(store, "_head", head_then_race)
    if theirs == b"same":
        assert store.put_bytes(ARCHIVED, b"same").size == 4
    else:
        with pytest.raises(StoreError, match="other content"):
            store.put_bytes(ARCHIVED, b"same")
    assert len(calls) == 2
    assert store.get(ARCHIVED) == theirs
