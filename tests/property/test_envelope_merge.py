"""The raw zone's envelope merge is a union: it holds both sides, in any order, once (property tests
of ``landing.envelope.merge_envelopes``; the example tests are in tests/landing/test_raw_envelope.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from tests.landing.test_raw_envelope import fetch

from spotify_pipeline.landing.decode import dump
from spotify_pipeline.landing.envelope import fetch_identity, merge_envelopes, new_envelope

fetches = st.builds(
    fetch,
    second=st.integers(0, 59),
    items=st.lists(st.sampled_from(["p1", "p2", "p3", "p4"]), max_size=3),
    ms=st.integers(0, 999),
)
envelopes = st.lists(fetches, max_size=6).map(lambda fs: new_envelope("recently_played", "alice", fs))


def ids(env: dict[str, Any]) -> set[str]:
    return {fetch_identity(f) for f in env["fetches"]}


@given(envelopes, envelopes)
def test_merge_holds_both_sides(a: dict[str, Any], b: dict[str, Any]) -> None:
    merged = merge_envelopes(a, b)
    assert ids(merged) == ids(a) | ids(b)
    assert len(merged["fetches"]) == len(ids(merged))  # no fetch twice


@given(envelopes, envelopes)
def test_merge_is_commutative(a: dict[str, Any], b: dict[str, Any]) -> None:
    # Same set of fetches, and even the same bytes: racing writers converge on one object.
    assert dump(merge_envelopes(a, b)) == dump(merge_envelopes(b, a))


@given(envelopes, envelopes)
def test_merge_is_idempotent(a: dict[str, Any], b: dict[str, Any]) -> None:
    once = merge_envelopes(a, b)
    assert merge_envelopes(once, b) == once
    assert merge_envelopes(once, once) == once


@given(envelopes, envelopes, envelopes)
def test_merge_is_associative(a: dict[str, Any], b: dict[str, Any], c: dict[str, Any]) -> None:
    assert merge_envelopes(merge_envelopes(a, b), c) == merge_envelopes(a, merge_envelopes(b, c))
