"""The listening model: deterministic ground truth with realistic listening behaviour."""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from spotify_pipeline.simulator.catalog import Catalog
from spotify_pipeline.simulator.model import PROFILES, Context, ListeningModel, TruePlay

SINCE = datetime(2026, 10, 5, 9, 30, tzinfo=UTC)  # a Monday, mid-morning: the first day is partial
DAYS = 28


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog(seed=3, n_artists=150)


def make_model(cat: Catalog, seed: int = 3, **kw: object) -> ListeningModel:
    model = ListeningModel(cat, seed, **kw)  # type: ignore[arg-type]
    for profile in PROFILES:
        model.add_user(profile, profile, SINCE)
    return model


@pytest.fixture(scope="module")
def model(cat: Catalog) -> ListeningModel:
    return make_model(cat)


@pytest.fixture(scope="module")
def history(model: ListeningModel) -> dict[str, list[TruePlay]]:
    return {u: model.plays(u, SINCE, SINCE + timedelta(days=DAYS)) for u in model.users}


def full_days(plays: list[TruePlay]) -> Counter[object]:
    first = SINCE.date()
    last = (SINCE + timedelta(days=DAYS)).date()
    return Counter(p.ended_at.date() for p in plays if first < p.ended_at.date() < last)


def test_same_seed_same_plays_other_seed_other_plays(
    cat: Catalog, history: dict[str, list[TruePlay]]
) -> None:
    again = make_model(cat)
    end = SINCE + timedelta(days=3)
    for user in PROFILES:
        assert again.plays(user, SINCE, end) == [p for p in history[user] if p.ended_at < end]
    other = make_model(cat, seed=4)
    assert other.plays("typical", SINCE, end) != [p for p in history["typical"] if p.ended_at < end]


def test_windows_compose_whatever_order_they_are_asked_in(
    cat: Catalog, history: dict[str, list[TruePlay]]
) -> None:
    fresh = make_model(cat)
    a = SINCE + timedelta(days=2, hours=5, minutes=13, milliseconds=417)
    b = a + timedelta(hours=30, seconds=7)
    c = b + timedelta(days=3)
    later = fresh.plays("heavy", b, c)  # asked first, on a cold cache
    earlier = fresh.plays("heavy", a, b)
    assert earlier + later == fresh.plays("heavy", a, c)
    assert earlier + later == [p for p in history["heavy"] if a <= p.ended_at < c]
    assert fresh.plays("heavy", b, a) == []


def test_nothing_before_since(model: ListeningModel) -> None:
    assert model.plays("typical", SINCE - timedelta(days=5), SINCE) == []
    assert all(
        p.started_at >= SINCE
        for p in model.plays("typical", SINCE - timedelta(days=1), SINCE + timedelta(days=1))
    )


def test_plays_are_sequential_and_never_overlap(history: dict[str, list[TruePlay]]) -> None:
    for user, plays in history.items():
        for prev, play in zip(plays, plays[1:], strict=False):
            assert play.started_at >= prev.ended_at, (user, prev, play)
        for p in plays:
            assert p.ended_at - p.started_at >= timedelta(milliseconds=p.ms_played)
            assert p.ended_at.microsecond % 1000 == 0 and p.started_at.microsecond % 1000 == 0
            assert p.ended_at.tzinfo is not None and p.available_at >= p.ended_at
            assert p.user_id == user


@pytest.mark.parametrize(
    ("profile", "low", "high"),
    [("light", 3, 8), ("typical", 25, 45), ("heavy", 80, 120)],
)
def test_daily_counts_match_the_profile(
    history: dict[str, list[TruePlay]], profile: str, low: int, high: int
) -> None:
    per_day = full_days(history[profile])
    mean = statistics.mean(per_day.values())
    assert low <= mean <= high, f"{profile}: {mean:.1f} plays a day"
    assert len(per_day) >= DAYS - 2, "a listener of every profile plays something most days"


def test_binge_listener_has_bursts_several_times_a_week(history: dict[str, list[TruePlay]]) -> None:
    plays = history["binge"]
    burst_days = set()
    j = 0
    for i, p in enumerate(plays):
        while p.ended_at - plays[j].ended_at > timedelta(hours=2):
            j += 1
        if i - j + 1 > 50:
            burst_days.add(p.ended_at.date())
    for week in range(DAYS // 7):
        start = SINCE.date() + timedelta(days=7 * week)
        in_week = [d for d in burst_days if start <= d < start + timedelta(days=7)]
        assert len(in_week) >= 2, f"week {week}: bursts on {sorted(in_week)}"
    in_bursts = [p for p in plays if p.ended_at.date() in burst_days]
    assert sum(p.skipped for p in in_bursts) / len(in_bursts) > 0.4


def test_skips_repeats_and_durations(cat: Catalog, history: dict[str, list[TruePlay]]) -> None:
    music = [p for p in history["typical"] + history["heavy"] if p.kind == "music"]
    skipped = [p for p in music if p.skipped]
    assert 0.1 < len(skipped) / len(music) < 0.4
    assert all(p.ms_played < cat.tracks[p.track_id].duration_ms for p in skipped if p.track_id)
    assert any(p.ms_played < 30_000 for p in skipped) and any(p.ms_played >= 30_000 for p in skipped)
    done = [p for p in music if p.reason_end == "trackdone"]
    assert all(abs(cat.tracks[p.track_id].duration_ms - p.ms_played) <= 1_000 for p in done if p.track_id)
    repeats = sum(a.track_id == b.track_id for a, b in zip(music, music[1:], strict=False))
    assert repeats >= 3, "no back-to-back repeats"
    assert any(p.ended_at - p.started_at > timedelta(milliseconds=p.ms_played + 60_000) for p in music), (
        "no pauses"
    )


def test_contexts_shuffle_and_sessions(history: dict[str, list[TruePlay]]) -> None:
    music = [p for p in history["heavy"] if p.kind == "music"]
    assert {p.context.type for p in music if p.context} == {"album", "playlist", "artist"}
    assert any(p.context is None for p in music)
    assert all(isinstance(p.context, Context) and p.context.uri.startswith(f"spotify:{p.context.type}:")
               for p in music if p.context)  # fmt: skip
    same = sum(a.context == b.context for a, b in zip(music, music[1:], strict=False))
    assert same / len(music) > 0.6, "consecutive plays rarely share a context"
    assert {p.shuffle for p in music} == {True, False}
    # Plays under 2 s apart belong to one session: one device, one private/offline state.
    for a, b in zip(music, music[1:], strict=False):
        if b.started_at - a.ended_at < timedelta(seconds=2):
            assert (a.platform, a.private_session, a.offline) == (b.platform, b.private_session, b.offline)


def test_non_music_private_offline_and_visibility(history: dict[str, list[TruePlay]]) -> None:
    plays = [p for user in ("typical", "heavy", "light") for p in history[user]]
    kinds = Counter(p.kind for p in plays)
    assert kinds["podcast"] > 0 and kinds["audiobook"] > 0
    for p in plays:
        if p.kind == "podcast":
            assert p.episode_id and p.track_id is None and p.chapter_id is None and not p.api_visible
        elif p.kind == "audiobook":
            assert p.chapter_id and p.track_id is None and p.episode_id is None and not p.api_visible
        else:
            assert p.track_id and p.episode_id is None
    assert any(p.private_session for p in plays) and any(p.offline for p in plays)
    assert not any(p.api_visible for p in plays if p.private_session or p.ms_played < 30_000)
    share = sum(p.api_visible for p in plays) / len(plays)
    assert 0.6 < share < 0.92, f"{share:.0%} of plays visible to the API"


def test_late_share_delays_some_visible_plays_only(cat: Catalog, history: dict[str, list[TruePlay]]) -> None:
    late_model = make_model(cat, late_share=0.3, late_delay=timedelta(minutes=40))
    plays = late_model.plays("heavy", SINCE, SINCE + timedelta(days=DAYS))
    on_time = history["heavy"]
    # The plays themselves do not change; only when they become visible.
    assert [dataclasses.replace(p, available_at=p.ended_at) for p in plays] == on_time
    late = [p for p in plays if p.available_at > p.ended_at]
    visible = [p for p in plays if p.api_visible]
    assert all(p.api_visible for p in late)
    assert 0.25 < len(late) / len(visible) < 0.35
    assert all(timedelta(minutes=20) <= p.available_at - p.ended_at <= timedelta(minutes=60) for p in late)
    # A late play shows up after newer ones did.
    assert any(
        any(q.ended_at > p.ended_at and q.available_at < p.available_at for q in plays[i + 1 : i + 20])
        for i, p in enumerate(plays)
        if p in late
    )
    assert all(p.available_at == p.ended_at for p in on_time)


def test_followed_artists_change_slowly_and_stay_sorted(cat: Catalog, model: ListeningModel) -> None:
    for user in PROFILES:
        snapshots = [model.followed_artists(user, SINCE + timedelta(days=d, hours=3)) for d in range(31)]
        for snap in snapshots:
            assert snap == sorted(snap) and len(set(snap)) == len(snap)
            assert all(a in cat.artists for a in snap)
        changes = sum(len(set(a) ^ set(b)) for a, b in zip(snapshots, snapshots[1:], strict=False))
        assert 1 <= changes <= 30, f"{user}: {changes} follow changes in 30 days"
    assert len(model.followed_artists("heavy", SINCE)) > 50, "heavy listeners need more than one page"
    fresh = make_model(cat)
    late = SINCE + timedelta(days=20, hours=7)
    assert fresh.followed_artists("typical", late) == model.followed_artists("typical", late)
    assert model.followed_artists("typical", SINCE - timedelta(days=3)) == model.followed_artists(
        "typical", SINCE
    )


def test_bad_input_names_the_problem(cat: Catalog) -> None:
    model = ListeningModel(cat, 1)
    with pytest.raises(ValueError, match="unknown listener profile 'casual'"):
        model.add_user("u", "casual", SINCE)
    with pytest.raises(ValueError, match="timezone-aware"):
        model.add_user("u", "light", datetime(2026, 1, 1))
    model.add_user("u", "light", SINCE)
    model.add_user("u", "light", SINCE)  # same again: fine
    with pytest.raises(ValueError, match="already exists"):
        model.add_user("u", "heavy", SINCE)
    with pytest.raises(KeyError, match="unknown simulated user 'nobody'"):
        model.plays("nobody", SINCE, SINCE + timedelta(days=1))
    with pytest.raises(ValueError, match="late_share"):
        ListeningModel(cat, 1, late_share=1.5)
