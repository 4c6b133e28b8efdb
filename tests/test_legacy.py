"""Importing the original system's credential files (written here as the original users had them)."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import dotenv
import pytest
from pydantic import SecretStr

from spotify_pipeline.errors import ConfigError
from spotify_pipeline.legacy import (
    aws_credentials,
    env_file_text,
    legacy_to_env,
    read_legacy,
    warehouse_url,
)
from spotify_pipeline.redact import redact
from spotify_pipeline.settings import Settings

CLIENT_SECRET = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
DB_PASSWORD = "p@ss:w/rd#1 ü"
REFRESH = "AQD-refresh-token-value-0123456789"
ACCESS = "BQC-access-token-value-0123456789"


def write_original(folder: Path) -> Path:
    """The files exactly as the original DAGs read them: `KEY = value`, split on ' = '."""
    (folder / "spotify_client_info.txt").write_text(
        f"CLIENT_ID = 5fe01282e44241328a84e7c5cc169165\nCLIENT_SECRET = {CLIENT_SECRET}\n"
    )
    (folder / "aws_access_key.txt").write_text(
        f"AWS_ACCESS_KEY_ID = FAKEKEYIDFORLEGACYTEST\nAWS_SECRET_ACCESS_KEY = {AWS_SECRET}\nAWS_DEFAULT_REGION = ap-northeast-1\n"
    )
    (folder / "db_access_key.txt").write_text(f"user = admin\npassword = {DB_PASSWORD}\nip = 10.0.3.17\n")
    (folder / "tokens.json").write_text(
        json.dumps(
            {
                "access_token": ACCESS,
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": REFRESH,
                "scope": "user-read-recently-played user-follow-read",
            }
        )
    )
    return folder


def test_the_original_files(tmp_path: Path) -> None:
    cfg = read_legacy(write_original(tmp_path))
    assert cfg.client_id == "5fe01282e44241328a84e7c5cc169165"
    assert cfg.client_secret == SecretStr(CLIENT_SECRET)
    assert cfg.aws_access_key_id == "FAKEKEYIDFORLEGACYTEST"
    assert cfg.aws_secret_access_key == SecretStr(AWS_SECRET)
    assert cfg.aws_region == "ap-northeast-1"
    assert (cfg.db_user, cfg.db_host, cfg.db_name) == ("admin", "10.0.3.17", "spotify")
    assert cfg.db_password == SecretStr(DB_PASSWORD)
    assert cfg.tokens is not None
    assert cfg.tokens["refresh_token"].get_secret_value() == REFRESH
    assert cfg.tokens["expires_in"].get_secret_value() == "3600"
    assert sorted(cfg.found_files) == [
        "aws_access_key.txt",
        "db_access_key.txt",
        "spotify_client_info.txt",
        "tokens.json",
    ]
    assert any("~/.aws/credentials" in w for w in cfg.warnings)
    assert any("'spotify_project'" in w for w in cfg.warnings)


def test_no_secret_in_repr_or_str(tmp_path: Path) -> None:
    cfg = read_legacy(write_original(tmp_path))
    for text in (repr(cfg), str(cfg), f"{cfg}", " ".join(cfg.warnings)):
        for secret in (CLIENT_SECRET, AWS_SECRET, DB_PASSWORD, REFRESH, ACCESS):
            assert secret not in text
    assert "client_id='5fe01282e44241328a84e7c5cc169165'" in repr(cfg)
    assert "'refresh_token': '**********'" in repr(cfg)


def test_secrets_are_registered_for_redaction(tmp_path: Path) -> None:
    read_legacy(write_original(tmp_path))
    assert REFRESH not in redact(f"refreshing with {REFRESH}")
    assert CLIENT_SECRET not in redact(f"secret {CLIENT_SECRET}")


def test_env_and_warehouse_url(tmp_path: Path) -> None:
    cfg = read_legacy(write_original(tmp_path))
    env = legacy_to_env(cfg)
    assert env == {
        "SPOTIFY_PIPELINE_CLIENT_ID": "5fe01282e44241328a84e7c5cc169165",
        "SPOTIFY_PIPELINE_CLIENT_SECRET": CLIENT_SECRET,
        "SPOTIFY_PIPELINE_S3_REGION": "ap-northeast-1",
        "SPOTIFY_PIPELINE_WAREHOUSE_URL": "mysql+pymysql://admin:p%40ss%3Aw%2Frd%231%20%C3%BC@10.0.3.17/spotify?charset=utf8mb4",
    }
    # AWS keys stay out of our settings; they are handed back for the standard chain instead.
    assert not any("AWS" in k or AWS_SECRET in v for k, v in env.items())
    assert aws_credentials(cfg) == {
        "AWS_ACCESS_KEY_ID": "FAKEKEYIDFORLEGACYTEST",
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "AWS_DEFAULT_REGION": "ap-northeast-1",
    }


def test_the_password_survives_the_url(tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    url = warehouse_url(read_legacy(write_original(tmp_path)))
    assert url is not None
    parsed = make_url(url)
    assert (parsed.username, parsed.password, parsed.host, parsed.database) == (
        "admin",
        DB_PASSWORD,
        "10.0.3.17",
        "spotify",
    )


def test_env_file_text_round_trips_through_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = legacy_to_env(read_legacy(write_original(tmp_path)))
    env["SPOTIFY_PIPELINE_CLIENT_SECRET"] = "it's a $HOME #secret \\ too"
    text = env_file_text(env)
    assert dotenv.dotenv_values(stream=io.StringIO(text)) == env
    work = tmp_path / "work"
    work.mkdir()
    (work / ".env").write_text(text)
    monkeypatch.chdir(work)
    for name in env:
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.client_secret is not None
    assert settings.client_secret.get_secret_value() == "it's a $HOME #secret \\ too"
    assert settings.warehouse_url.get_secret_value() == env["SPOTIFY_PIPELINE_WAREHOUSE_URL"]


def test_hand_edited_files(tmp_path: Path) -> None:
    """Odd spacing, quotes, comments, export, CRLF, a BOM, colon separators, a [default] header."""
    (tmp_path / "spotify_client_info.txt").write_bytes(
        b"\xef\xbb\xbf# my spotify app\r\n\r\nCLIENT_ID='abc123'\r\n  client_secret   =   \"s3cr3t=with=equals\"  \r\n"
        b"REDIRECT_URI = http://127.0.0.1:8888/callback   # registered in the dashboard\r\n"
    )
    (tmp_path / "aws_access_key.txt").write_text(
        "[default]\nexport AWS_ACCESS_KEY_ID=AKIAEXAMPLE\naws_secret_access_key: 'abc/def+ghi'\n; no region\n"
    )
    (tmp_path / "db_access_key.txt").write_text(
        "user: spotify\nPassword = 'has # hash'\nhost = db.example.com\nport = 3307\ndatabase = listening\n"
    )
    cfg = read_legacy(tmp_path)
    assert cfg.client_id == "abc123"
    assert cfg.client_secret == SecretStr("s3cr3t=with=equals")
    assert cfg.redirect_uri == "http://127.0.0.1:8888/callback"
    assert cfg.aws_access_key_id == "AKIAEXAMPLE"
    assert cfg.aws_secret_access_key == SecretStr("abc/def+ghi")
    assert cfg.aws_region is None
    assert cfg.db_password == SecretStr("has # hash")
    assert (cfg.db_user, cfg.db_host, cfg.db_name) == ("spotify", "db.example.com:3307", "listening")
    assert legacy_to_env(cfg)["SPOTIFY_PIPELINE_REDIRECT_URI"] == "http://127.0.0.1:8888/callback"
    assert "tokens.json not found" in " ".join(cfg.warnings)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_db_file_as_three_bare_lines(tmp_path: Path, newline: str) -> None:
    (tmp_path / "db_access_key.txt").write_text(
        newline.join(["admin", "pa:ss=word", "192.168.1.20:3306", ""]), newline=""
    )
    cfg = read_legacy(tmp_path)
    assert (cfg.db_user, cfg.db_host) == ("admin", "192.168.1.20:3306")
    assert cfg.db_password == SecretStr("pa:ss=word")


def test_db_file_with_the_wrong_number_of_bare_lines(tmp_path: Path) -> None:
    (tmp_path / "db_access_key.txt").write_text("admin\nsecret-password\n")
    with pytest.raises(ConfigError) as err:
        read_legacy(tmp_path)
    assert "db_access_key.txt: 2 lines" in str(err.value) and "exactly 3 lines (user, password, host)" in str(
        err.value
    )
    assert "secret-password" not in str(err.value)


def test_a_malformed_line_is_named_by_file_and_line_without_its_content(tmp_path: Path) -> None:
    write_original(tmp_path)
    (tmp_path / "spotify_client_info.txt").write_text(f"CLIENT_ID = abc\n\n{CLIENT_SECRET}\n")
    with pytest.raises(ConfigError) as err:
        read_legacy(tmp_path)
    assert "spotify_client_info.txt line 3: expected 'KEY = value'" in str(err.value)
    assert CLIENT_SECRET not in str(err.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "spotify_client_info.txt").write_text("CLIENT_ID =\n")
    (tmp_path / "tokens.json").write_text('{"access_token": "BQC-abc", "refresh_token": ')
    with pytest.raises(ConfigError) as err:
        read_legacy(tmp_path)
    message = str(err.value)
    assert "spotify_client_info.txt line 1: 'CLIENT_ID' has no value" in message
    assert "tokens.json line 1, column 46: invalid JSON (Expecting value)" in message
    assert "BQC-abc" not in message


def test_unknown_and_repeated_keys_are_warnings(tmp_path: Path) -> None:
    (tmp_path / "spotify_client_info.txt").write_text("CLIENT_ID = a\nCLIENT_ID = b\nSCOPE = x\n")
    cfg = read_legacy(tmp_path)
    assert cfg.client_id == "b"
    assert "spotify_client_info.txt line 2: 'CLIENT_ID' given again; the later value is used" in cfg.warnings
    assert "spotify_client_info.txt line 3: unknown key 'SCOPE' ignored" in cfg.warnings


def test_missing_files_are_warnings_and_settings_skip_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "spotify_client_info.txt").write_text("CLIENT_ID = abc\n")
    cfg = read_legacy(tmp_path)
    assert cfg.found_files == ["spotify_client_info.txt"]
    missing = [w for w in cfg.warnings if "not found" in w]
    assert len(missing) == 3 and all(str(tmp_path) in w for w in missing)
    assert legacy_to_env(cfg) == {"SPOTIFY_PIPELINE_CLIENT_ID": "abc"}
    assert aws_credentials(cfg) == {}
    assert cfg.tokens is None


def test_tokens_after_a_refresh_without_rotation(tmp_path: Path) -> None:
    # The original saved each refresh answer whole; Spotify omits refresh_token when it keeps it.
    (tmp_path / "tokens.json").write_text(
        json.dumps(
            {
                "access_token": ACCESS,
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": "user-read-recently-played",
            }
        )
    )
    cfg = read_legacy(tmp_path)
    assert cfg.tokens is not None and "refresh_token" not in cfg.tokens
    assert any("no refresh_token" in w and "spotify-pipeline auth login" in w for w in cfg.warnings)


def test_tokens_file_holding_an_error(tmp_path: Path) -> None:
    (tmp_path / "tokens.json").write_text(
        '{"error": "invalid_grant", "error_description": "Refresh token revoked"}'
    )
    cfg = read_legacy(tmp_path)
    assert cfg.tokens is None
    assert any("error answer" in w for w in cfg.warnings)


def test_localhost_redirect_is_not_carried_over(tmp_path: Path) -> None:
    (tmp_path / "spotify_client_info.txt").write_text(
        "CLIENT_ID = a\nREDIRECT_URI = http://localhost:8888/callback\n"
    )
    assert "SPOTIFY_PIPELINE_REDIRECT_URI" not in legacy_to_env(read_legacy(tmp_path))


def test_empty_or_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="no legacy files in .*expected one or more of spotify_client_info.txt"
    ):
        read_legacy(tmp_path)
    with pytest.raises(ConfigError, match="is not a folder"):
        read_legacy(tmp_path / "nope")


def test_logging_a_config_shows_no_secret(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = read_legacy(write_original(tmp_path))
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("imported %s", cfg)
    assert CLIENT_SECRET not in caplog.text and DB_PASSWORD not in caplog.text


def test_only_tokens_are_registered_as_secrets_not_token_type(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """Regression: every tokens.json field was registered as a secret, so "Bearer" was masked in
    every later log line (and broke the header pattern of the redactor)."""
    import json as _json

    from spotify_pipeline import redact as redact_module
    from spotify_pipeline.legacy import read_legacy

    monkeypatch.setattr(redact_module, "_secrets", set())
    (tmp_path / "tokens.json").write_text(
        _json.dumps(
            {
                "access_token": "legacy-access-0123456789",
                "refresh_token": "legacy-refresh-0123456789",
                "token_type": "Bearer",
                "scope": "user-read-recently-played",
                "expires_in": 3600,
            }
        )
    )
    read_legacy(tmp_path)
    assert redact_module._secrets == {"legacy-access-0123456789", "legacy-refresh-0123456789"}
