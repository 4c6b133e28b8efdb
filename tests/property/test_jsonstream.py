"""The streaming JSON reader under any chunking and any bytes (property tests of
``exports.jsonstream``; the example tests are in tests/exports/test_reader_hostile.py)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.exports.test_reader_hostile import GOOD, GOOD_BYTES, _extended, _read, _stream

from spotify_pipeline.errors import MalformedRecord
from spotify_pipeline.exports.jsonstream import BrokenFile, NotAJsonArray, iter_json_array

_text = st.text(alphabet=st.sampled_from(list('ab"\\[]{},: \u00e9\u4e2d\n')), max_size=12)
_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(st.tuples(_values, st.booleans()), max_size=8),
    chunk=st.integers(1, 64),
)
def test_any_chunking_reads_every_record_and_skips_exactly_the_oversized(
    records: list[tuple[object, bool]], chunk: int
) -> None:
    # An oversized record is a normal one padded to more than the cap; it is skipped at its index.
    cap = 300
    parts, expected = [], []
    for i, (value, big) in enumerate(records):
        if big:
            parts.append(json.dumps({"pad": '"x\\' * cap, "v": value}).encode())
            expected.append(("bad", i))
        else:
            parts.append(json.dumps(value, ensure_ascii=False).encode())
            expected.append(value)
    out = _read(_extended(parts), chunk_chars=chunk, max_record_chars=cap)
    assert [o[:2] if isinstance(o, tuple) else o for o in out] == expected


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200), chunk=st.integers(1, 32))
def test_arbitrary_bytes_never_raise_anything_but_the_readers_own_errors(data: bytes, chunk: int) -> None:
    try:
        for element in iter_json_array(_stream(data), "f.json", chunk_chars=chunk, max_record_chars=64):
            if isinstance(element, MalformedRecord):
                assert element.source == "f.json" and element.reason
    except (NotAJsonArray, BrokenFile):
        pass


@settings(max_examples=100, deadline=None)
@given(
    prefix=st.lists(st.just(GOOD_BYTES), max_size=3),
    junk=st.binary(min_size=1, max_size=40),
    chunk=st.integers(1, 50),
)
def test_bytes_spliced_into_a_file_never_lose_the_records_before_them(
    prefix: list[bytes], junk: bytes, chunk: int
) -> None:
    data = b"[" + b",".join([*prefix, junk]) + b"]"
    out = _read(data, chunk_chars=chunk, max_record_chars=1000)
    assert out[: len(prefix)] == [GOOD] * len(prefix)
