"""Read the original system's credential files so its users can move over.

The original DAGs kept, in one folder (``/home/ubuntu`` on their server):

* ``spotify_client_info.txt`` -- ``CLIENT_ID = ...`` / ``CLIENT_SECRET = ...`` lines;
* ``aws_access_key.txt`` -- ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``;
* ``db_access_key.txt`` -- ``user = ...``, ``password = ...``, ``ip = ...`` (database ``spotify_project``);
* ``tokens.json`` -- the last token response from Spotify, saved as it came.

The original parser split on exactly ``" = "``; people edit these files by hand, so this one also takes
``KEY=value``, ``key: value``, quotes, comments, ``export``, CRLF and a BOM, and for the database file
three bare lines (user, password, host). Anything it cannot read is reported by file and line, never
by content, since the line may hold a secret. Every secret is a ``SecretStr`` and is registered with
:mod:`spotify_pipeline.redact` the moment it is read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from pydantic import SecretStr

from .errors import ConfigError
from .redact import register_secrets
from .settings import ENV_PREFIX

CLIENT_FILE = "spotify_client_info.txt"
AWS_FILE = "aws_access_key.txt"
DB_FILE = "db_access_key.txt"
TOKENS_FILE = "tokens.json"
DEFAULT_DB_NAME = "spotify"
ORIGINAL_DB_NAME = "spotify_project"

# Accepted spellings (compared case-insensitively) -> our field.
_CLIENT_KEYS = {
    "client_id": "client_id",
    "spotify_client_id": "client_id",
    "spotipy_client_id": "client_id",
    "client_secret": "client_secret",
    "spotify_client_secret": "client_secret",
    "spotipy_client_secret": "client_secret",
    "redirect_uri": "redirect_uri",
    "spotify_redirect_uri": "redirect_uri",
    "spotipy_redirect_uri": "redirect_uri",
}
_AWS_KEYS = {
    "aws_access_key_id": "aws_access_key_id",
    "access_key_id": "aws_access_key_id",
    "aws_secret_access_key": "aws_secret_access_key",
    "secret_access_key": "aws_secret_access_key",
    "aws_default_region": "aws_region",
    "aws_region": "aws_region",
    "region": "aws_region",
    "region_name": "aws_region",
}
_DB_KEYS = {
    "user": "db_user",
    "username": "db_user",
    "db_user": "db_user",
    "mysql_user": "db_user",
    "password": "db_password",
    "passwd": "db_password",
    "pass": "db_password",
    "pwd": "db_password",
    "db_password": "db_password",
    "mysql_password": "db_password",
    "ip": "db_host",
    "host": "db_host",
    "hostname": "db_host",
    "server": "db_host",
    "address": "db_host",
    "db_host": "db_host",
    "db_ip": "db_host",
    "mysql_host": "db_host",
    "port": "db_port",
    "db_port": "db_port",
    "database": "db_name",
    "db": "db_name",
    "db_name": "db_name",
    "schema": "db_name",
}
_SECRET_FIELDS = {"client_secret", "aws_secret_access_key", "db_password"}
_TOKEN_FIELDS = ("access_token", "refresh_token", "token_type", "scope", "expires_in")

# KEY = value, KEY=value, key: value, export KEY=value. A key cannot hold '=' or ':', so the first of
# those is the separator and a value may contain either (base64 secrets, host:port).
_LINE = re.compile(r"(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*)\s*(?:=|:)\s*(?P<value>.*)")


@dataclass(repr=False)
class LegacyConfig:
    client_id: str | None = None
    client_secret: SecretStr | None = None
    redirect_uri: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_region: str | None = None
    db_user: str | None = None
    db_password: SecretStr | None = None
    db_host: str | None = None
    db_name: str = DEFAULT_DB_NAME
    tokens: dict[str, SecretStr] | None = None
    found_files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        def show(value: object) -> str:
            if isinstance(value, SecretStr):
                return "'**********'" if value.get_secret_value() else "''"
            if isinstance(value, dict):
                return "{" + ", ".join(f"{k!r}: '**********'" for k in value) + "}"
            return repr(value)

        fields = ", ".join(f"{name}={show(getattr(self, name))}" for name in self.__dataclass_fields__)
        return f"LegacyConfig({fields})"

    __str__ = __repr__


def read_legacy(folder: Path) -> LegacyConfig:
    """Read whichever of the four files exist in ``folder``. Missing files become warnings; a line
    or file that cannot be read raises ConfigError naming every such file and line."""
    if not folder.is_dir():
        raise ConfigError(
            f"{folder} is not a folder: give the folder that holds {CLIENT_FILE}, {TOKENS_FILE}, ..."
        )
    cfg = LegacyConfig()
    problems: list[str] = []

    values = _read_pairs(folder / CLIENT_FILE, _CLIENT_KEYS, cfg, problems)
    cfg.client_id = values.get("client_id")
    cfg.client_secret = _secret(values.get("client_secret"))
    cfg.redirect_uri = values.get("redirect_uri")

    values = _read_pairs(folder / AWS_FILE, _AWS_KEYS, cfg, problems)
    cfg.aws_access_key_id = values.get("aws_access_key_id")
    cfg.aws_secret_access_key = _secret(values.get("aws_secret_access_key"))
    cfg.aws_region = values.get("aws_region")
    if cfg.aws_access_key_id or cfg.aws_secret_access_key:
        cfg.warnings.append(
            f"{AWS_FILE}: the AWS keys are not copied into spotify-pipeline settings; put them in "
            "~/.aws/credentials (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment), "
            "where boto3's standard credential chain finds them"
        )

    values = _read_pairs(
        folder / DB_FILE, _DB_KEYS, cfg, problems, bare_lines=("db_user", "db_password", "db_host")
    )
    cfg.db_user = values.get("db_user")
    cfg.db_password = _secret(values.get("db_password"))
    cfg.db_host = values.get("db_host")
    if values.get("db_port") and cfg.db_host and ":" not in cfg.db_host:
        cfg.db_host = f"{cfg.db_host}:{values['db_port']}"
    if values.get("db_name"):
        cfg.db_name = values["db_name"]
    elif (folder / DB_FILE).is_file():
        cfg.warnings.append(
            f"{DB_FILE}: the warehouse goes to a new database {DEFAULT_DB_NAME!r}. The original used "
            f"{ORIGINAL_DB_NAME!r}, whose tables (track_artists, ...) have other columns: keep them apart"
        )

    _read_tokens(folder / TOKENS_FILE, cfg, problems)

    if problems:
        raise ConfigError(f"cannot import the legacy configuration in {folder}: " + "; ".join(problems))
    if not cfg.found_files:
        raise ConfigError(
            f"no legacy files in {folder}: expected one or more of {CLIENT_FILE}, {AWS_FILE}, {DB_FILE}, {TOKENS_FILE}"
        )
    tokens = cfg.tokens or {}
    # Only the tokens are secrets: token_type ("Bearer"), scope and expires_in are not, and
    # registering "Bearer" would mask that word in every later log line.
    register_secrets(
        [
            cfg.client_secret,
            cfg.aws_secret_access_key,
            cfg.db_password,
            tokens.get("access_token"),
            tokens.get("refresh_token"),
        ]
    )
    return cfg


def legacy_to_env(cfg: LegacyConfig) -> dict[str, str]:
    """``SPOTIFY_PIPELINE_*`` settings from what was read (secrets in clear: write them to a 0600 file).

    AWS keys are left out on purpose (see :func:`aws_credentials`); tokens go to the token store.
    """
    env: dict[str, str] = {}
    if cfg.client_id:
        env[ENV_PREFIX + "CLIENT_ID"] = cfg.client_id
    if cfg.client_secret is not None and cfg.client_secret.get_secret_value():
        env[ENV_PREFIX + "CLIENT_SECRET"] = cfg.client_secret.get_secret_value()
    if cfg.redirect_uri and cfg.redirect_uri.startswith("http://127.0.0.1"):
        env[ENV_PREFIX + "REDIRECT_URI"] = cfg.redirect_uri
    if cfg.aws_region:
        env[ENV_PREFIX + "S3_REGION"] = cfg.aws_region
    url = warehouse_url(cfg)
    if url is not None:
        env[ENV_PREFIX + "WAREHOUSE_URL"] = url
    return env


def warehouse_url(cfg: LegacyConfig) -> str | None:
    """``mysql+pymysql://user:password@host/db?charset=utf8mb4``, user and password URL-quoted."""
    if not (cfg.db_user and cfg.db_host):
        return None
    creds = quote(cfg.db_user, safe="")
    if cfg.db_password is not None and cfg.db_password.get_secret_value():
        creds += ":" + quote(cfg.db_password.get_secret_value(), safe="")
    return f"mysql+pymysql://{creds}@{cfg.db_host}/{quote(cfg.db_name, safe='')}?charset=utf8mb4"


def aws_credentials(cfg: LegacyConfig) -> dict[str, str]:
    """The AWS keys under their standard environment names, for ~/.aws/credentials or the environment."""
    out: dict[str, str] = {}
    if cfg.aws_access_key_id:
        out["AWS_ACCESS_KEY_ID"] = cfg.aws_access_key_id
    if cfg.aws_secret_access_key is not None:
        out["AWS_SECRET_ACCESS_KEY"] = cfg.aws_secret_access_key.get_secret_value()
    if cfg.aws_region:
        out["AWS_DEFAULT_REGION"] = cfg.aws_region
    return out


def env_file_text(env: Mapping[str, str]) -> str:
    """``.env`` lines that python-dotenv (and so pydantic-settings) reads back exactly: single quotes,
    so no ``$`` interpolation and no ``#`` comment cut, with ``\\`` and ``'`` escaped."""
    lines = []
    for key, value in env.items():
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        lines.append(f"{key}='{escaped}'")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------


def _secret(value: str | None) -> SecretStr | None:
    return None if value is None else SecretStr(value)


def _read_text(path: Path, cfg: LegacyConfig, problems: list[str]) -> str | None:
    if not path.is_file():
        cfg.warnings.append(f"{path.name} not found in {path.parent}: skipped")
        return None
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(f"{path.name}: not UTF-8 text (invalid byte at offset {exc.start})")
        return None
    except OSError as exc:
        problems.append(f"{path.name}: cannot be read ({exc.strerror})")
        return None
    cfg.found_files.append(path.name)
    return text


def _read_pairs(
    path: Path,
    aliases: Mapping[str, str],
    cfg: LegacyConfig,
    problems: list[str],
    bare_lines: tuple[str, ...] = (),
) -> dict[str, str]:
    text = _read_text(path, cfg, problems)
    if text is None:
        return {}
    lines = [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
        and not line.strip().startswith(("#", ";", "//"))
        and not (line.strip().startswith("[") and line.strip().endswith("]"))  # [default] sections
    ]
    matches = [(number, _LINE.fullmatch(line)) for number, line in lines]
    knows_a_key = any(m is not None and m.group("key").lower() in aliases for _, m in matches)
    if bare_lines and lines and not knows_a_key:
        # The other common form: one value per line, in a fixed order (user, password, host).
        if len(lines) != len(bare_lines):
            problems.append(
                f"{path.name}: {len(lines)} lines and none of them 'user = ...'; expected either 'key = value' "
                f"lines or exactly {len(bare_lines)} lines ({', '.join(b.removeprefix('db_') for b in bare_lines)})"
            )
            return {}
        return {name: _unquote(line) for name, (_, line) in zip(bare_lines, lines, strict=True)}
    values: dict[str, str] = {}
    for number, match in matches:
        if match is None:
            problems.append(f"{path.name} line {number}: expected 'KEY = value'")
            continue
        key = match.group("key")
        name = aliases.get(key.lower())
        if name is None:
            cfg.warnings.append(f"{path.name} line {number}: unknown key {key!r} ignored")
            continue
        if name in values:
            cfg.warnings.append(f"{path.name} line {number}: {key!r} given again; the later value is used")
        value = _unquote(match.group("value"))
        if not value:
            problems.append(f"{path.name} line {number}: {key!r} has no value")
            continue
        values[name] = value
    return values


def _unquote(raw: str) -> str:
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    # An unquoted value ends at ' #' (a trailing comment); quote a value that must contain one.
    cut = re.search(r"\s+#", value)
    return value[: cut.start()] if cut else value


def _read_tokens(path: Path, cfg: LegacyConfig, problems: list[str]) -> None:
    text = _read_text(path, cfg, problems)
    if text is None:
        return
    if not text.strip():
        problems.append(f"{path.name}: empty file")
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # Position only: the text around it may be a token.
        problems.append(f"{path.name} line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})")
        return
    if not isinstance(data, dict):
        problems.append(f"{path.name}: expected a JSON object with access_token and refresh_token")
        return
    if "error" in data and "access_token" not in data:
        cfg.warnings.append(
            f"{path.name} holds an error answer from Spotify, not tokens: run `spotify-pipeline auth login`"
        )
        return
    tokens = {name: SecretStr(str(data[name])) for name in _TOKEN_FIELDS if data.get(name) not in (None, "")}
    cfg.tokens = tokens or None
    if "refresh_token" not in tokens:
        # The original saved every refresh answer whole; Spotify leaves refresh_token out when it does
        # not rotate it, so after the first refresh the file often has none.
        cfg.warnings.append(
            f"{path.name} has no refresh_token (the original system overwrote it on refresh): "
            "run `spotify-pipeline auth login` once"
        )
