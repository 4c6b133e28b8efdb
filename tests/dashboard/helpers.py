"""What `stats --json` says for the dashboard's world (the CLI, run in-process)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from spotify_pipeline.cli.main import app

from .conftest import ZONE, Dash


def stats_json(dash: Dash, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict[str, Any]:
    s = dash.world.settings
    for key, value in {"WAREHOUSE_URL": s.warehouse_url.get_secret_value(), "USER": "alice", "TIMEZONE": ZONE,
                       "TOKEN_FILE": str(s.token_file), "RAW_ZONE": s.raw_zone}.items():  # fmt: skip
        monkeypatch.setenv(f"SPOTIFY_PIPELINE_{key}", value)
    result = CliRunner().invoke(app, ["stats", "--json", *args])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out
