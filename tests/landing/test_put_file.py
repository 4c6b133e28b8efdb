"""``put_file``: the write-once put of an archived export from a stream, on both stores (the copy of
a large export is never held in memory whole)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest

from spotify_pipeline.errors import StoreError
from spotify_pipeline.landing.local import LocalRawStore
from spotify_pipeline.landing.s3 import S3RawStore
from spotify_pipeline.landing.store import RawStore

ARCHIVED = "imports/alice/" + "cd" * 32 + "/Streaming_History_Audio_2026.json"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> RawStore:
    if request.param == "local":
        return LocalRawStore(tmp_path / "raw")
    endpoint, bucket = request.getfixturevalue("s3_bucket")
    return S3RawStore(bucket, "raw/zone", endpoint_url=endpoint, region="us-east-1", sleep=lambda s: None)


def _spool(data: bytes) -> io.BufferedRandom:
    f = tempfile.TemporaryFile()
    f.write(data)
    f.seek(len(data) // 2)  # put_file reads from the start wherever the stream stands
    return f  # type: ignore[return-value]


def test_put_file_writes_once_and_a_same_content_repeat_is_a_no_op(store: RawStore) -> None:
    data = b'[{"ts": "2026-11-29T10:00:00Z"}]' * 100_000  # 3 MB: several chunks
    with _spool(data) as src:
        info = store.put_file(ARCHIVED, src)
    assert info.key == ARCHIVED and info.size == len(data) and store.get(ARCHIVED) == data
    with _spool(data) as src:
        assert store.put_file(ARCHIVED, src).size == len(data)
    with _spool(data[:-1] + b"X") as src, pytest.raises(StoreError, match="other content"):
        store.put_file(ARCHIVED, src)  # same size, other bytes
    assert store.get(ARCHIVED) == data
