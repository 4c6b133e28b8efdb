"""The raw zone on S3 or an S3-compatible store (MinIO, moto), through boto3.

A read-merge-write is made safe against racing writers with S3 conditional writes: the first write
of a key uses ``If-None-Match: *``, later ones ``If-Match: <etag read>``. A writer that lost the race
gets 412 PreconditionFailed (or 409 ConditionalRequestConflict while another write is in flight),
re-reads, re-merges and tries again, so no writer drops a fetch another one added. AWS S3 has
honoured both headers since 2024-11, MinIO for longer. A PUT is atomic, so a failed write leaves the
previous object as it was.

Credentials come only from boto3's standard chain (environment, ~/.aws, instance or task role);
this module never reads or prints them.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ..clock import Clock, SystemClock
from ..errors import MalformedRawObject, StoreError
from .decode import encode_stored, parse_object
from .envelope import merge_envelopes
from .keys import QUARANTINE_PREFIX, is_compressed_key, stored_key, variant_keys
from .store import (
    RawObjectInfo,
    already_there,
    check_key,
    quarantine_key,
    reason_note,
    reason_sidecar_key,
    set_aside_key,
    set_aside_notice,
    sidecar_of,
    stream_digests,
    with_other_variant,
)

log = logging.getLogger(__name__)

_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}  # not NoSuchBucket: that one must surface
_CONTENT_TYPE = "application/json; charset=utf-8"
# A compressed object is stored as what it is, a gzip file: no Content-Encoding, so no client ever
# decompresses it on the way (the bytes read are the bytes whose MD5 is the ETag).
_GZIP_TYPE = "application/gzip"


def _content_type(key: str) -> str:
    if is_compressed_key(key):
        return _GZIP_TYPE
    return _CONTENT_TYPE if key.endswith(".json") else "application/octet-stream"


def make_client(
    endpoint_url: str | None,
    region: str | None,
    *,
    max_attempts: int = 4,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
) -> Any:
    """An S3 client: standard retry mode (5xx, throttling, timeouts) and path-style addressing on a
    custom endpoint, which MinIO and IP-address endpoints need."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},  # first try included
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        s3={"addressing_style": "path"} if endpoint_url else {},
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


class S3RawStore:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
        clock: Clock | None = None,
        max_merge_attempts: int = 10,
        sleep: Callable[[float], None] = time.sleep,
        compression: str = "gzip",
    ) -> None:
        stored_key("x/0000000000.json", compression)  # refuses an unknown compression
        self.compression = compression
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.location = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._client = client if client is not None else make_client(endpoint_url, region)
        self._clock: Clock = clock or SystemClock()
        self._max_merge_attempts = max_merge_attempts
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"S3RawStore({self.location!r})"

    # --- reading ---------------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        found = self._read(key)
        return None if found is None else found[0]

    def open(self, key: str) -> IO[bytes] | None:
        full = self._full(key)
        try:
            body: IO[bytes] = self._client.get_object(Bucket=self.bucket, Key=full)["Body"]
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise self._error("read", full, exc) from None
        except BotoCoreError as exc:
            raise self._error("read", full, exc) from None
        return body  # botocore's StreamingBody: read(n) and close()

    def list(self, prefix: str = "", accept: Callable[[str], bool] | None = None) -> Iterator[RawObjectInfo]:
        base = self.prefix + "/" if self.prefix else ""
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            # S3 lists keys in UTF-8 byte order, which is code point order: already sorted by key.
            for page in paginator.paginate(Bucket=self.bucket, Prefix=base + prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"][len(base) :]
                    if key.startswith(QUARANTINE_PREFIX) or (accept is not None and not accept(key)):
                        continue
                    yield RawObjectInfo(key, int(obj["Size"]), obj["ETag"].strip('"'))
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list", base + prefix + "*", exc) from None

    def _read(self, key: str) -> tuple[bytes, str] | None:
        full = self._full(key)
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=full)
            return response["Body"].read(), response["ETag"].strip('"')
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise self._error("read", full, exc) from None
        except BotoCoreError as exc:
            raise self._error("read", full, exc) from None

    # --- writing ---------------------------------------------------------------------------
    def merge(
        self, key: str, envelope: dict[str, Any], on_set_aside: Callable[[str], None] | None = None
    ) -> RawObjectInfo:
        target = stored_key(key, self.compression)
        other = next(k for k in variant_keys(key) if k != target)
        full = self._full(target)
        for attempt in range(self._max_merge_attempts):
            found = self._read(target)
            old = None
            notice = None
            if found is not None:
                try:
                    old = parse_object(found[0], target)
                except MalformedRawObject as exc:
                    # Never overwrite what we cannot read: copy it under _quarantine/ first. The
                    # If-Match put below is the conditional delete: it replaces exactly the bytes
                    # copied, or loses the race and re-reads (the copy then is a spare, not a loss).
                    qkey = self._set_aside(target, found[0], found[1], exc.reason)
                    notice = set_aside_notice(target, qkey, exc.reason)
            # The other variant (written before raw_compression changed) is read, never written: its
            # fetches join the union, and the conditional put on the target is all the safety needed.
            held = self._read(other)
            base = with_other_variant(old, held[0] if held else None, other)
            merged = merge_envelopes(base, envelope)
            if found is not None and old is not None and merged == old:
                return RawObjectInfo(target, len(found[0]), found[1])
            if found is None and held is not None and base is not None and merged == base:
                return RawObjectInfo(other, len(held[0]), held[1])  # nothing new: nothing written
            data = encode_stored(merged, self.compression)
            condition = {"IfMatch": found[1]} if found is not None else {"IfNoneMatch": "*"}
            try:
                response = self._client.put_object(
                    Bucket=self.bucket, Key=full, Body=data, ContentType=_content_type(target), **condition
                )
            except ClientError as exc:
                lost_race = _code(exc) in _CONFLICT_CODES or _status(exc) in (409, 412)
                # If-Match on an object deleted since we read it: also someone else's change.
                vanished = found is not None and _is_missing(exc)
                if lost_race or vanished:
                    # Another writer changed the object since we read it: read again and re-merge.
                    # Jitter keeps racing writers from colliding in lockstep.
                    self._sleep(random.uniform(0, min(0.05 * 2**attempt, 1.0)))
                    continue
                raise self._error("write", full, exc) from None
            except BotoCoreError as exc:
                raise self._error("write", full, exc) from None
            etag = str(response.get("ETag") or hashlib.md5(data, usedforsecurity=False).hexdigest())
            if notice is not None:
                log.warning("%s", notice)
                if on_set_aside is not None:
                    on_set_aside(notice)
            return RawObjectInfo(target, len(data), etag.strip('"'))
        raise StoreError(
            f"gave up writing s3://{self.bucket}/{full} after {self._max_merge_attempts} attempts: other "
            "writers kept changing it. Nothing the object held was lost; run again"
        )

    def quarantine(self, key: str, reason: str) -> str:
        found = self._read(key)
        if found is None:
            raise StoreError(f"cannot quarantine {key}: there is no such object in {self.location}")
        data, etag = found
        qkey = quarantine_key(key)
        note = reason_note(key, reason, etag, self._clock.now())
        self._put_copy_and_note(qkey, data, reason_sidecar_key(key), note)
        return qkey

    def _set_aside(self, key: str, data: bytes, etag: str, reason: str) -> str:
        qkey = quarantine_key(key)
        held = self._read(qkey)
        if held is not None and held[0] != data:
            qkey = set_aside_key(key, etag, taken=True)
        note = reason_note(key, reason, etag, self._clock.now(), moved=True)
        self._put_copy_and_note(qkey, data, sidecar_of(qkey), note)
        return qkey

    def _put_copy_and_note(self, qkey: str, data: bytes, note_key: str, note: bytes) -> None:
        """The quarantined bytes, then the reason beside them (plain puts: these keys are ours alone)."""
        for target, payload in ((qkey, data), (note_key, note)):
            full = self._full(target)
            try:
                self._client.put_object(
                    Bucket=self.bucket, Key=full, Body=payload, ContentType=_content_type(target)
                )
            except (ClientError, BotoCoreError) as exc:
                raise self._error("write", full, exc) from None

    def delete(self, key: str) -> None:
        full = self._full(key)
        try:
            self._client.delete_object(Bucket=self.bucket, Key=full)
        except ClientError as exc:
            if not _is_missing(exc):
                raise self._error("write", full, exc) from None
        except BotoCoreError as exc:
            raise self._error("write", full, exc) from None

    def put_bytes(self, key: str, data: bytes) -> RawObjectInfo:
        full = self._full(key)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        content_type = _content_type(key)
        for attempt in range(self._max_merge_attempts):
            held = self._head(full)
            if held is not None:
                size, etag = held
                # A single-part upload's ETag is its MD5; other ETags (multipart, SSE-KMS) say nothing
                # about the bytes, so those are compared with what the object holds.
                if size == len(data) and (etag == md5 or self._holds(full, data)):
                    return RawObjectInfo(key, size, etag)
                raise already_there(self.location, key)
            try:
                # If-None-Match: * makes the write-once promise hold against racing writers too.
                response = self._client.put_object(
                    Bucket=self.bucket, Key=full, Body=data, ContentType=content_type, IfNoneMatch="*"
                )
            except ClientError as exc:
                if _code(exc) in _CONFLICT_CODES or _status(exc) in (409, 412):
                    # Written (or being written) by someone else since the HEAD: compare with theirs.
                    self._sleep(random.uniform(0, min(0.05 * 2**attempt, 1.0)))
                    continue
                raise self._error("write", full, exc) from None
            except BotoCoreError as exc:
                raise self._error("write", full, exc) from None
            return RawObjectInfo(key, len(data), str(response.get("ETag") or md5).strip('"'))
        raise StoreError(
            f"gave up writing s3://{self.bucket}/{full} after {self._max_merge_attempts} attempts: another "
            "writer kept it busy. Nothing was overwritten; run again"
        )

    def put_file(self, key: str, src: IO[bytes]) -> RawObjectInfo:
        """``put_bytes`` from a stream: one PUT (If-None-Match: *) whose body botocore reads in chunks
        from the file, so write-once holds and the file is never in memory whole (a PUT takes up to
        5 GB, far above ``exports.limits.MAX_FILE_BYTES``)."""
        full = self._full(key)
        size, _sha, md5 = stream_digests(src)
        content_type = _content_type(key)
        for attempt in range(self._max_merge_attempts):
            held = self._head(full)
            if held is not None:
                if held[0] == size and (held[1] == md5 or self._holds_stream(full, src)):
                    return RawObjectInfo(key, size, held[1])
                raise already_there(self.location, key)
            src.seek(0)
            try:
                response = self._client.put_object(
                    Bucket=self.bucket, Key=full, Body=src, ContentLength=size, ContentType=content_type,
                    IfNoneMatch="*",
                )  # fmt: skip
            except ClientError as exc:
                if _code(exc) in _CONFLICT_CODES or _status(exc) in (409, 412):
                    self._sleep(random.uniform(0, min(0.05 * 2**attempt, 1.0)))
                    continue
                raise self._error("write", full, exc) from None
            except BotoCoreError as exc:
                raise self._error("write", full, exc) from None
            return RawObjectInfo(key, size, str(response.get("ETag") or md5).strip('"'))
        raise StoreError(
            f"gave up writing s3://{self.bucket}/{full} after {self._max_merge_attempts} attempts: another "
            "writer kept it busy. Nothing was overwritten; run again"
        )

    def _holds_stream(self, full: str, src: IO[bytes]) -> bool:
        """Whether the object's bytes are the stream's, both read in 1 MiB chunks."""
        src.seek(0)
        try:
            body = self._client.get_object(Bucket=self.bucket, Key=full)["Body"]
            try:
                for chunk in body.iter_chunks(1 << 20):
                    if src.read(len(chunk)) != chunk:
                        return False
            finally:
                body.close()
        except (ClientError, BotoCoreError) as exc:
            raise self._error("read", full, exc) from None
        return src.read(1) == b""

    def _head(self, full: str) -> tuple[int, str] | None:
        try:
            response = self._client.head_object(Bucket=self.bucket, Key=full)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise self._error("read", full, exc) from None
        except BotoCoreError as exc:
            raise self._error("read", full, exc) from None
        return int(response["ContentLength"]), str(response["ETag"]).strip('"')

    def _holds(self, full: str, data: bytes) -> bool:
        """Whether the object's bytes are ``data``, streamed in 1 MiB chunks (never a second copy)."""
        view = memoryview(data)
        offset = 0
        try:
            body = self._client.get_object(Bucket=self.bucket, Key=full)["Body"]
            try:
                for chunk in body.iter_chunks(1 << 20):
                    if view[offset : offset + len(chunk)] != chunk:
                        return False
                    offset += len(chunk)
            finally:
                body.close()
        except (ClientError, BotoCoreError) as exc:
            raise self._error("read", full, exc) from None
        return offset == len(data)

    # --- helpers ---------------------------------------------------------------------------
    def _full(self, key: str) -> str:
        try:
            check_key(key)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        return f"{self.prefix}/{key}" if self.prefix else key

    def _error(self, action: str, full_key: str, exc: Exception) -> StoreError:
        where = f"s3://{self.bucket}/{full_key}"
        if isinstance(exc, NoCredentialsError):
            return StoreError(
                f"could not {action} {where}: no AWS credentials found. Set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, an AWS_PROFILE in ~/.aws/credentials, or use an instance role"
            )
        if isinstance(exc, ClientError):
            status, code = _status(exc), _code(exc)
            if code == "NoSuchBucket":
                advice = f"create the bucket {self.bucket!r} or fix SPOTIFY_PIPELINE_RAW_ZONE"
            elif code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch") or status == 403:
                advice = "check the AWS credentials and the bucket policy"
            else:
                advice = "run again later"
            detail = f"S3 answered {status} {code}" + (", after retries" if status >= 500 else "")
        else:
            advice = "check SPOTIFY_PIPELINE_S3_ENDPOINT_URL and the network, then run again"
            detail = f"{type(exc).__name__}: {exc}, after retries"
        # A PUT is atomic: whatever failed, the object is the old one (or, after an ambiguous 5xx, the
        # complete new one, which holds the old one's fetches too).
        tail = "; nothing was half-written and the previous object is intact" if action == "write" else ""
        return StoreError(f"could not {action} {where} ({detail}){tail}. {advice[0].upper()}{advice[1:]}")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _is_missing(exc: ClientError) -> bool:
    return _code(exc) in _MISSING_CODES or (_status(exc) == 404 and not _code(exc))
