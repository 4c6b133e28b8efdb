"""The demo's promises: a typical listener polled every 2 hours is captured exactly; a binge
listener's losses are shown as gaps; MariaDB and S3 work in place of SQLite and a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from spotify_pipeline.jobs.demo import demo_settings, run_demo


def test_typical_listener_every_two_hours_is_captured_exactly(tmp_path: Path) -> None:
    result = run_demo(demo_settings(tmp_path), profile="typical", days=7, poll_minutes=120)
    assert result.true_plays > 100
    assert result.captured_plays == result.true_plays
    assert result.duplicate_plays == 0 and result.unexpected_plays == 0
    assert result.gaps_detected == 0
    # one poll per interval, a daily followed-artists fetch, token refreshes and one lookup per new id
    assert result.api_calls_by_endpoint["GET /v1/me/player/recently-played"] == 7 * 12
    assert result.top_artists and result.top_tracks


def test_binge_listener_losses_are_reported_not_silent(tmp_path: Path) -> None:
    result = run_demo(demo_settings(tmp_path), profile="binge", days=7, poll_minutes=120, late_share=0.0)
    assert result.missed_plays > 0
    assert result.gaps_detected > 0
    assert result.missed_plays_inside_gaps == result.missed_plays
    assert result.duplicate_plays == 0


@pytest.mark.mysql
@pytest.mark.s3
def test_demo_on_mariadb_and_s3(tmp_path: Path, mysql_url: str, s3_bucket: tuple[str, str]) -> None:
    endpoint, bucket = s3_bucket
    settings = demo_settings(
        tmp_path, warehouse_url=mysql_url, raw_zone=f"s3://{bucket}/demo", s3_endpoint_url=endpoint
    )
    result = run_demo(settings, profile="typical", days=2, poll_minutes=120)
    assert result.captured_plays == result.true_plays > 0
    assert result.duplicate_plays == 0
    assert result.raw_zone == f"s3://{bucket}/demo"
    assert result.raw_objects >= 24
