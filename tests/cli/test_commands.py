"""Every CLI command through typer's runner, against the simulator served on a loopback port.

The CLI is a thin face: these tests check that each command reaches its job, prints what a person
needs, exits non-zero with a one-line reason on failure, and never shows a secret.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import webbrowser
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from spotify_pipeline.cli.main import app
from spotify_pipeline.simulator import Simulator, SimulatorConfig, serve

runner = CliRunner()
SECRET = "cli-test-client-secret-0123456789"


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """A simulator on 127.0.0.1 (real time), and the environment pointing the CLI at it."""
    sim = Simulator(SimulatorConfig(seed=3))
    sim.add_user("cli-user", profile="heavy", since=datetime.now(UTC) - timedelta(days=2))
    app_ = sim.register_app(["http://127.0.0.1/callback"])  # loopback without a port: any port
    with serve(sim) as info:
        monkeypatch.chdir(tmp_path)
        for key in [k for k in os.environ if k.startswith("SPOTIFY_PIPELINE_")]:
            monkeypatch.delenv(key)
        env = {
            "ACCOUNTS_URL": info.accounts_url,
            "API_URL": info.api_url,
            "CLIENT_ID": app_.client_id,
            "REDIRECT_URI": "http://127.0.0.1/callback",
            "RAW_ZONE": str(tmp_path / "raw"),
            "WAREHOUSE_URL": f"sqlite:///{tmp_path / 'w.db'}",
            "TOKEN_FILE": str(tmp_path / "tokens.json"),
            "USER": "cli-user",
        }
        for key, value in env.items():
            monkeypatch.setenv("SPOTIFY_PIPELINE_" + key, value)
        # Only `init` creates the warehouse and the raw zone; every other command expects them.
        assert runner.invoke(app, ["init"]).exit_code == 0
        yield sim


def _browser_that_follows_redirects(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 'browser' that opens the authorize URL and follows the redirect to our callback."""

    def open_(url: str) -> bool:
        httpx.get(url, follow_redirects=True, timeout=10)
        return True

    monkeypatch.setattr(webbrowser, "open", open_)


def _login(monkeypatch: pytest.MonkeyPatch) -> None:
    _browser_that_follows_redirects(monkeypatch)
    result = runner.invoke(app, ["auth", "login"])
    assert result.exit_code == 0, result.output
    assert "logged in" in result.output


def test_init_and_db_upgrade(served: Simulator, tmp_path: Path) -> None:
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "raw").is_dir()
    assert "schema" in result.output
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0
    assert "revision" in result.output


def test_login_in_the_browser_then_status_and_logout(
    served: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _login(monkeypatch)
    token_file = tmp_path / "tokens.json"
    assert token_file.stat().st_mode & 0o777 == 0o600
    result = runner.invoke(app, ["auth", "status", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["logged_in"] is True
    assert 180 <= data["refresh_token_days_left"] <= 182
    stored = json.loads(token_file.read_text())
    assert stored["refresh_token"] not in result.output
    result = runner.invoke(app, ["auth", "logout"])
    assert result.exit_code == 0
    assert not token_file.exists()
    result = runner.invoke(app, ["auth", "status"])
    assert result.exit_code == 1
    assert "spotify-pipeline auth login" in result.output


def test_login_without_a_browser_takes_the_pasted_redirect_url(
    served: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spotify_pipeline.cli.auth_cmd as auth_cmd

    printed: list[str] = []
    monkeypatch.setattr(auth_cmd.console, "print", lambda text, *a, **k: printed.append(str(text)))

    def paste(_question: str) -> str:
        url = next(word for line in printed for word in line.split() if "/authorize?" in word)
        answer = httpx.get(url, follow_redirects=False, timeout=10)
        assert answer.status_code in (302, 303)
        return answer.headers["location"]

    monkeypatch.setattr(auth_cmd.typer, "prompt", paste)
    result = runner.invoke(app, ["auth", "login", "--no-browser"])
    assert result.exit_code == 0, result.output
    assert any("logged in" in p for p in printed)


def test_fetch_process_enrich_run_and_status(
    served: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _login(monkeypatch)
    result = runner.invoke(app, ["fetch", "recent", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "ok" and report["counts"]["plays_fetched"] == 50
    hour = datetime.now(UTC).strftime("%Y%m%d%H")
    assert (tmp_path / "raw" / "recently_played" / f"{hour}.json.gz").exists()
    result = runner.invoke(app, ["fetch", "following"])
    assert result.exit_code == 0, result.output
    assert "followed artists" in result.output
    result = runner.invoke(app, ["process"])
    assert result.exit_code == 0, result.output
    assert "50 new plays" in result.output
    result = runner.invoke(app, ["enrich", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"]["artists_fetched"] > 0
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["counts"]["plays"] == 50
    assert data["token"]["logged_in"] is True
    assert data["open_gaps"] == []
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0
    assert "refresh token" in result.output


def test_fetch_without_login_fails_with_one_line_reason(served: Simulator) -> None:
    result = runner.invoke(app, ["fetch", "recent"])
    assert result.exit_code == 1
    assert "auth login" in result.output
    assert "Traceback" not in result.output


def test_bad_setting_is_named(served: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPOTIFY_PIPELINE_RAW_ZONE", "ftp://nowhere")
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1
    assert "SPOTIFY_PIPELINE_RAW_ZONE" in result.output


def test_config_show_masks_secrets(served: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPOTIFY_PIPELINE_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("SPOTIFY_PIPELINE_WAREHOUSE_URL", "mysql+pymysql://u:db-password-xyz@127.0.0.1/db")
    for args in (["config", "show"], ["config", "show", "--json"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert SECRET not in result.output and "db-password-xyz" not in result.output
    data = json.loads(runner.invoke(app, ["config", "show", "--json"]).stdout)
    assert data["warehouse_url"] == "mysql+pymysql://u:***@127.0.0.1/db"


def test_config_file_option(served: Simulator, tmp_path: Path) -> None:
    cfg = tmp_path / "custom.toml"
    cfg.write_text("enrich_threshold = 7\n")
    result = runner.invoke(app, ["--config", str(cfg), "config", "show", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["enrich_threshold"] == 7
    result = runner.invoke(app, ["--config", str(tmp_path / "missing.toml"), "config", "show"])
    assert result.exit_code == 1
    assert "missing.toml" in result.output


def test_config_import_legacy(served: Simulator, tmp_path: Path) -> None:
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "spotify_client_info.txt").write_text(f"CLIENT_ID = abc123\nCLIENT_SECRET = {SECRET}\n")
    (legacy / "db_access_key.txt").write_text("spotify_user\ndb-password-xyz\n10.0.0.5\n")
    (legacy / "tokens.json").write_text(
        json.dumps(
            {
                "access_token": "legacy-access-token-0123456789",
                "refresh_token": "legacy-refresh-token-0123456789",
                "expires_in": 3600,
                "scope": "user-read-recently-played",
                "token_type": "Bearer",
            }
        )
    )
    env_file = tmp_path / "imported.env"
    result = runner.invoke(app, ["config", "import-legacy", str(legacy), "--env-file", str(env_file)])
    assert result.exit_code == 0, result.output
    assert env_file.stat().st_mode & 0o777 == 0o600
    text = env_file.read_text()
    assert "SPOTIFY_PIPELINE_CLIENT_ID" in text and "abc123" in text
    assert "mysql+pymysql://spotify_user:" in text
    for secret in (SECRET, "db-password-xyz", "legacy-refresh-token-0123456789"):
        assert secret not in result.output
    again = runner.invoke(app, ["config", "import-legacy", str(legacy), "--env-file", str(env_file)])
    assert again.exit_code == 1 and "--force" in again.output


def test_import_history_and_coverage(served: Simulator, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    export = tmp_path / "export"
    served.write_export("cli-user", export, kind="extended", start=now - timedelta(days=2), end=now)
    result = runner.invoke(app, ["import-history", str(export), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["records_read"] > 0
    result = runner.invoke(app, ["import-history", str(export)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["coverage"])
    assert result.exit_code == 0, result.output
    csv = tmp_path / "coverage.csv"
    result = runner.invoke(app, ["coverage", "--csv", str(csv)])
    assert result.exit_code == 0, result.output
    assert csv.read_text().splitlines()[0].startswith("day")
    result = runner.invoke(app, ["import-history", str(tmp_path / "nope")])
    assert result.exit_code != 0


def test_demo_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["demo", "--json", "--days", "3"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("true_plays", "captured_plays", "duplicate_plays", "gaps_detected", "api_calls"):
        assert key in data
    assert data["captured_plays"] == data["true_plays"] > 0
    assert data["duplicate_plays"] == 0
    assert (tmp_path / "data" / "demo" / "warehouse.db").exists()


def test_demo_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["demo", "--days", "2", "--profile", "light"])
    assert result.exit_code == 0, result.output
    assert "plays captured in the warehouse" in result.output
    assert "query it:" in result.output
    db = (tmp_path / "data" / "demo" / "warehouse.db").resolve()
    assert (
        f"see it:    spotify-pipeline dashboard --period all --warehouse-url sqlite:///{db}" in result.output
    )


def test_simulator_serve_prints_its_urls_first(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("spotify-pipeline")
    proc = subprocess.Popen(
        [str(exe), "simulator", "serve", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert set(first) >= {"accounts_url", "api_url", "client_id", "client_secret", "redirect_uri"}
        assert first["api_url"].startswith("http://127.0.0.1:")
        me = httpx.get(first["api_url"] + "/me", timeout=5)
        assert me.status_code == 401  # a real Web API: no token, no answer
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_demo_leaves_the_package_log_level_as_it_found_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the demo quietened the package's loggers for good, hiding later warnings
    (gaps, retries) from anything else running in the same process."""
    import logging

    monkeypatch.chdir(tmp_path)
    before = logging.getLogger("spotify_pipeline").level
    assert runner.invoke(app, ["demo", "--json", "--days", "1"]).exit_code == 0
    assert logging.getLogger("spotify_pipeline").level == before


def test_rebuild_into_another_database_and_in_place(
    served: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _login(monkeypatch)
    assert runner.invoke(app, ["run"]).exit_code == 0
    before = json.loads(runner.invoke(app, ["status", "--json"]).stdout)["counts"]
    target = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    result = runner.invoke(app, ["rebuild", "--target-url", target, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "ok"
    result = runner.invoke(app, ["rebuild"], input="n\n")
    assert result.exit_code != 0  # the question was answered no: nothing dropped
    result = runner.invoke(app, ["rebuild", "--yes"])
    assert result.exit_code == 0, result.output
    after = json.loads(runner.invoke(app, ["status", "--json"]).stdout)["counts"]
    assert after["plays"] == before["plays"] > 0


def test_fetch_recent_names_the_object_after_the_given_hour(
    served: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _login(monkeypatch)
    result = runner.invoke(app, ["fetch", "recent", "--hour", "2026-11-29T10"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "raw" / "recently_played" / "2026112910.json.gz").exists()
    result = runner.invoke(app, ["fetch", "recent", "--hour", "yesterday"])
    assert result.exit_code == 2  # typer names the option and the formats it accepts
    assert "--hour" in result.output


def test_rebuild_interrupted_says_so_in_one_line_and_changes_nothing(
    served: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    _login(monkeypatch)
    assert runner.invoke(app, ["run"]).exit_code == 0
    before = json.loads(runner.invoke(app, ["status", "--json"]).stdout)["counts"]

    def ctrl_c(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(importlib.import_module("spotify_pipeline.jobs.rebuild"), "process", ctrl_c)
        result = runner.invoke(app, ["rebuild", "--yes"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip() == "error: rebuild interrupted: the warehouse was not changed; run it again"
    assert json.loads(runner.invoke(app, ["status", "--json"]).stdout)["counts"] == before
    assert sorted(p.name for p in tmp_path.glob("w.db.rebuild*")) == ["w.db.rebuild-lock"]


def test_users_add_login_run_all_users_and_remove(
    served: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served.add_user("second", profile="heavy", since=datetime.now(UTC) - timedelta(days=2))
    _browser_that_follows_redirects(monkeypatch)
    for name in ("cli-user", "second"):
        assert runner.invoke(app, ["users", "add", name]).exit_code == 0
        served.sign_in(name)
        result = runner.invoke(app, ["auth", "login", "--user", name])
        assert result.exit_code == 0, result.output
        assert f"logged in as {name}" in result.output
    assert (tmp_path / "tokens.second.json").stat().st_mode & 0o777 == 0o600
    result = runner.invoke(app, ["users", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [(u["user"], u["logged_in"], u["partition"]) for u in listed] == [
        ("cli-user", True, "users/cli-user/"),
        ("second", True, "users/second/"),
    ]
    result = runner.invoke(app, ["run", "--all-users", "--parallel", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert sorted(data["users"]) == ["cli-user", "second"]
    for name in ("cli-user", "second"):
        assert data["users"][name][0]["counts"]["plays_fetched"] == 50
        assert list((tmp_path / "raw" / "users" / name / "recently_played").iterdir())
    assert data["shared"][0]["job"] == "process" and data["shared"][0]["status"] == "ok"
    result = runner.invoke(app, ["auth", "status", "--user", "second", "--json"])
    assert json.loads(result.stdout)["logged_in"] is True
    result = runner.invoke(app, ["users", "remove", "second"])
    assert result.exit_code == 0 and "tokens were deleted" in result.output
    assert not (tmp_path / "tokens.second.json").exists()
    result = runner.invoke(app, ["users", "add", "../x"])
    assert result.exit_code != 0 and "Traceback" not in result.output
