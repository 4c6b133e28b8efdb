"""`recommend` and `auth login --scope playlists` through the CLI, against a served simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spotify_pipeline.cli.main import app
from spotify_pipeline.simulator import Simulator

from . import test_commands as cli_base
from .conftest import assert_one_line_failure

served = cli_base.served
runner = CliRunner()


def _login(monkeypatch: pytest.MonkeyPatch, *extra: str) -> None:
    cli_base._browser_that_follows_redirects(monkeypatch)
    result = runner.invoke(app, ["auth", "login", *extra])
    assert result.exit_code == 0, result.output


def test_recommend_json_items_and_the_playlist_opt_in(
    served: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _login(monkeypatch)
    assert runner.invoke(app, ["run"]).exit_code in (0, 3), "a run captures the last plays"
    track = served.api_visible_truth("cli-user", served.clock.now().replace(year=2000), served.clock.now())[
        -1
    ]
    name = served.catalog.tracks[track.track_id].name  # type: ignore[index]
    result = runner.invoke(app, ["recommend", "--kind", "similar", "--seed", name, "--limit", "5", "--json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert items and len(items) <= 5
    assert set(items[0]) >= {"kind", "track_id", "track_name", "artist_name", "score", "reason"}
    assert all(
        i["kind"] == "similar" and i["reason"].startswith(("played with", "often played")) for i in items
    )
    # The default login keeps today's two scopes: writing is refused with the way to opt in.
    failed = runner.invoke(
        app, ["recommend", "--kind", "similar", "--seed", name, "--to-playlist", "Mine", "--apply"]
    )
    assert_one_line_failure(failed, "auth login --scope playlists")
    dry = runner.invoke(app, ["recommend", "--kind", "similar", "--seed", name, "--to-playlist", "Mine"])
    assert dry.exit_code == 0 and "would create a private playlist" in dry.stdout and "dry run" in dry.stdout
    assert not served.library.playlists
    _login(monkeypatch, "--scope", "playlists")
    done = runner.invoke(
        app, ["recommend", "--kind", "similar", "--seed", name, "--to-playlist", "Mine", "--apply", "--json"]
    )
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert body["applied"] is True and body["playlists"][0]["action"] == "create"
    assert len(served.library.playlists) == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--kind", "popular"], "--kind 'popular'"),
        (["--as-of", "yesterday"], "--as-of 'yesterday' is not a date"),
        (["--kind", "rediscover", "--seed", "x"], "--seed applies to --kind similar"),
        (["--apply"], "give --to-playlist NAME"),
        (["--user", "../x"], "--user"),
        (["--kind", "similar", "--seed", "No Such Song"], "no track or artist 'No Such Song'"),
    ],
)
def test_bad_options_are_one_line(served: Simulator, args: list[str], says: str) -> None:
    assert_one_line_failure(runner.invoke(app, ["recommend", *args]), says)


def test_login_refuses_an_unknown_extra_scope(served: Simulator, tmp_path: Path) -> None:
    assert_one_line_failure(
        runner.invoke(app, ["auth", "login", "--scope", "everything"]), "only extra scope is 'playlists'"
    )
    assert not (tmp_path / "tokens.json").exists()


def test_as_of_uses_only_earlier_plays(served: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    _login(monkeypatch)
    runner.invoke(app, ["run"])
    before = runner.invoke(app, ["recommend", "--json", "--as-of", "2000-01-01"])
    assert before.exit_code == 0, before.output
    assert json.loads(before.stdout) == []  # nothing was played before 2000
