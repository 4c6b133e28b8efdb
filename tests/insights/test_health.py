"""The pipeline's health on a hand-built warehouse: last fetches and their age, open gaps with
length and remedy, a running 429 pause, token days left (and never the token), coverage."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy.engine import Engine

from spotify_pipeline.insights.health import health
from spotify_pipeline.insights.period import resolve_period
from spotify_pipeline.spotify.tokens import FileTokenStore, MemoryTokenStore, TokenState
from spotify_pipeline.warehouse import schema as s

from .conftest import add_plays

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
SECRET = "refresh-secret-0123456789abcdef"


def test_health(engine: Engine, tmp_path: Path) -> None:
    add_plays(engine, "u", [{"played_at": NOW - timedelta(hours=3), "track_id": "1" * 22}])
    with engine.begin() as conn:
        for row in [  # one by one: executemany takes its columns from the first row
            {"user_id": "u", "kind": "recently_played", "started_at": NOW - timedelta(hours=5), "status": "ok"},
            {"user_id": "u", "kind": "recently_played", "started_at": NOW - timedelta(hours=2), "status": "paused",
             "message": "Spotify asked to wait"},
            {"user_id": "u", "kind": "following_artists", "started_at": NOW - timedelta(days=1), "status": "ok"},
            {"user_id": "v", "kind": "recently_played", "started_at": NOW, "status": "ok"},
        ]:  # fmt: skip
            conn.execute(s.fetch_runs.insert(), row)
        for row in [
            {"user_id": "u", "gap_from": NOW - timedelta(hours=10), "gap_to": NOW - timedelta(hours=8, minutes=30),
             "detected_at": NOW - timedelta(hours=8)},
            {"user_id": "u", "gap_from": NOW - timedelta(days=9), "gap_to": NOW - timedelta(days=8),
             "detected_at": NOW - timedelta(days=8), "closed_at": NOW, "closed_by": "import:1"},
        ]:  # fmt: skip
            conn.execute(s.gaps.insert(), row)
        conn.execute(s.app_state.insert(), {"key": "paused_until", "updated_at": NOW,
                                             "value": json.dumps({"until": (NOW + timedelta(hours=1)).isoformat(),
                                                                  "reason": "429 Retry-After 3600"})})  # fmt: skip
    month = resolve_period("month", timezone="UTC", now=NOW)
    token = TokenState(SecretStr("access-0123456789"), SecretStr(SECRET), NOW + timedelta(hours=1), "s",
                       NOW - timedelta(days=30), "client")  # fmt: skip
    h = health(engine, "u", month, NOW, MemoryTokenStore(token))
    assert [(f.kind, f.status, f.age_hours) for f in h.last_fetches] == [
        ("following_artists", "ok", 24.0), ("recently_played", "paused", 2.0)]  # fmt: skip
    assert [(g.minutes, "import-history" in g.remedy) for g in h.open_gaps] == [(90.0, True)]
    assert h.pause is not None and h.pause.reason == "429 Retry-After 3600"
    assert h.token.logged_in and 150 < (h.token.days_left or 0) < 154
    assert [(c.day.isoformat(), c.api_plays) for c in h.coverage] == [("2026-12-01", 1)]
    text = json.dumps(h.as_dict())
    assert SECRET not in text and "access-0123456789" not in text

    later = health(engine, None, month, NOW + timedelta(hours=2), FileTokenStore(tmp_path / "none.json"))
    assert later.pause is None  # the pause is over
    assert {f.user for f in later.last_fetches} == {"u", "v"}
    assert not later.token.logged_in and "auth login" in (later.token.problem or "")
    assert health(engine, "u", month, NOW, None).token.problem == "no token store given"
