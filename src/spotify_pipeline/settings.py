"""One Settings object, built at the edge (CLI, DAG, test) and passed down.

Sources, highest priority first: explicit arguments, environment variables ``SPOTIFY_PIPELINE_*``,
a ``.env`` file, a TOML config file (``SPOTIFY_PIPELINE_CONFIG_FILE`` or ``./spotify-pipeline.toml``),
then the defaults below. Secrets are ``SecretStr`` so that no repr, log line or error shows them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import AfterValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .clock import check_timezone, system_timezone
from .errors import ConfigError

ENV_PREFIX = "SPOTIFY_PIPELINE_"
DEFAULT_CONFIG_FILE = "spotify-pipeline.toml"
SPOTIFY_ACCOUNTS_URL = "https://accounts.spotify.com"
SPOTIFY_API_URL = "https://api.spotify.com/v1"
SCOPES = ("user-read-recently-played", "user-follow-read")
# Asked for only when the user opts in (`auth login --scope playlists`): recommend --to-playlist.
PLAYLIST_SCOPES = ("playlist-modify-private",)
_USER_NAME = re.compile(r"[A-Za-z0-9_@+\-][A-Za-z0-9._@+\-]{0,63}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        # A shared .env holds other programs' keys: read only our fields from it. Unknown keys of
        # ours (a typo) are reported by config_sources.unknown_keys, with a "did you mean".
        dotenv_filtering="only_existing",
        extra="forbid",
        validate_default=True,
    )

    # --- where the data goes -------------------------------------------------------------
    raw_zone: str = Field("./data/raw", description="Local folder or s3://bucket/prefix for raw objects")
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, moto); None = AWS")
    s3_region: str | None = Field(None, description="AWS region for the raw-zone bucket")
    raw_compression: Literal["gzip", "none"] = Field(
        "gzip",
        description="How new raw objects are stored: gzip (key ends in .json.gz) or none (.json); "
        "both are always read",
    )
    warehouse_url: SecretStr = Field(
        SecretStr("sqlite:///./data/warehouse.db"),
        description="SQLAlchemy URL: sqlite:///path.db, mysql+pymysql://user:pw@host/db or postgresql+psycopg://user:pw@host/db",
    )
    db_connect_timeout_seconds: float = Field(
        10.0, gt=0, le=3600, description="Longest wait to connect to the warehouse (and for a SQLite lock)"
    )
    db_read_timeout_seconds: float = Field(
        60.0, gt=0, le=86400, description="Longest wait for the warehouse to answer one statement"
    )
    auto_migrate: bool = Field(
        True,
        description="Runs migrate a warehouse that is behind; false: they refuse it and `db upgrade` "
        "(a deploy step) migrates",
    )
    user: str = Field("me", description="Name of the listener these runs are for")
    timezone: Annotated[str, AfterValidator(check_timezone)] = Field(default_factory=system_timezone, description="IANA time zone that `stats` and the dashboard count days and hours in (default: the system's)")  # fmt: skip
    user_partition: bool = Field(
        False, description="Put raw keys under users/<name>/ (needed when several users share a store)"
    )

    # --- Spotify app -----------------------------------------------------------------------
    client_id: str | None = Field(None, description="Spotify app client id")
    client_secret: SecretStr | None = Field(None, description="Spotify app secret; leave empty for PKCE")
    redirect_uri: str = Field(
        "http://127.0.0.1:8888/callback", description="Registered loopback redirect URI"
    )
    accounts_url: str = Field(SPOTIFY_ACCOUNTS_URL, description="Spotify accounts service base URL")
    api_url: str = Field(SPOTIFY_API_URL, description="Spotify Web API base URL")
    token_file: Path = Field(Path("./data/tokens.json"), description="Token store (0600 file)")
    token_store_url: SecretStr | None = Field(
        None,
        description="Shared token store every worker reaches (a SQLAlchemy URL; a table of encrypted "
        "rows); None = token_file",
    )
    token_key: SecretStr | None = Field(
        None, description="Fernet key(s), comma-separated, encrypting the shared token store"
    )
    users_parallel: int = Field(
        1, ge=1, le=16, description="Listeners `run --all-users` fetches at the same time"
    )

    # --- behaviour -------------------------------------------------------------------------
    retry_after_cap_seconds: float = Field(30.0, ge=0, description="Longest 429 wait inside a run")
    max_pause_seconds: float = Field(86400.0, gt=0, description="Longest pause a 429's Retry-After can set")
    max_retries: int = Field(5, ge=0, le=20, description="Retries for 5xx and timeouts")
    backoff_base_seconds: float = Field(0.5, ge=0, description="First backoff step; doubles, with jitter")
    request_timeout_seconds: float = Field(20.0, gt=0)
    enrich_threshold: int = Field(50, ge=1, description="Missing ids that trigger an enrichment")
    following_every_hours: float = Field(
        24.0, ge=0, description="`run` fetches followed artists only when the last good fetch is older"
    )
    expected_poll_minutes: float = Field(
        120.0, gt=0, description="How often `run` is scheduled; `status` warns past twice this"
    )
    export_match_tolerance_seconds: float = Field(
        90.0, ge=0, description="Export vs API play matching window"
    )
    release_artists_per_day: int = Field(
        25, ge=0, le=1000, description="Artists whose new albums `run` checks per day (0: no release check)"
    )
    release_check_every_days: float = Field(
        7.0, gt=0, description="Each artist's albums are checked at most once in this many days"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("raw_zone")
    @classmethod
    def _raw_zone(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("raw_zone is empty: use a local folder or s3://bucket/prefix")
        if v != v.strip():
            raise ValueError(f"raw_zone {v!r} starts or ends with blanks: remove them")
        if v.startswith("s3://"):
            bucket = v[5:].split("/", 1)[0]
            if not bucket:
                raise ValueError(f"raw_zone {v!r} has no bucket: use s3://bucket/prefix")
        elif "://" in v:
            raise ValueError(f"raw_zone {v!r}: use a local folder or s3://bucket/prefix")
        elif Path(v).expanduser().exists() and not Path(v).expanduser().is_dir():
            raise ValueError(f"raw_zone {v!r} is a file, not a folder: use a folder or s3://bucket/prefix")
        return v

    @field_validator("warehouse_url")
    @classmethod
    def _warehouse_url(cls, v: SecretStr) -> SecretStr:
        problem = warehouse_url_problem(v.get_secret_value())
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("token_store_url")
    @classmethod
    def _token_store_url(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value():
            return None
        problem = warehouse_url_problem(v.get_secret_value())
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("user")
    @classmethod
    def _user(cls, v: str) -> str:
        # The user names raw keys (users/<user>/...) and import folders: it must stay one path segment.
        if not _USER_NAME.fullmatch(v) or ".." in v:
            raise ValueError(
                f"user {v!r} is not a safe name: use 1 to 64 letters, digits, '.', '_', '-', '@' or '+', "
                "not starting with '.' and without '..' (it becomes part of file and key names)"
            )
        return v

    @field_validator("redirect_uri")
    @classmethod
    def _redirect(cls, v: str) -> str:
        # Host names are case-insensitive (and may end in a dot): http://LOCALHOST. is localhost too.
        if (urlsplit(v).hostname or "").rstrip(".") == "localhost":
            raise ValueError("Spotify refuses 'localhost' redirect URIs: use http://127.0.0.1:PORT/callback")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = str(config_file_path())
        try:
            toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_file}: not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_file}: cannot be read: {exc}") from None
        return (init_settings, env_settings, dotenv_settings, toml, file_secret_settings)

    # --- derived ---------------------------------------------------------------------------
    @property
    def is_s3(self) -> bool:
        return self.raw_zone.startswith("s3://")

    @property
    def s3_bucket_prefix(self) -> tuple[str, str]:
        rest = self.raw_zone[5:]
        bucket, _, prefix = rest.partition("/")
        return bucket, prefix.strip("/")

    def secret_values(self) -> list[str]:
        """The secrets these settings hold (client secret, database password), for log redaction."""
        out = []
        if self.client_secret is not None and self.client_secret.get_secret_value():
            out.append(self.client_secret.get_secret_value())
        urls = [self.warehouse_url] + ([self.token_store_url] if self.token_store_url else [])
        for url in urls:
            password = url_password(url.get_secret_value())
            if password:
                out.append(password)
        if self.token_key is not None:
            out += [k.strip() for k in self.token_key.get_secret_value().split(",") if k.strip()]
        return out

    def masked(self) -> dict[str, Any]:
        """Every setting, secrets masked: what `config show` prints."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in ("warehouse_url", "token_store_url") and value is not None:
                out[name] = mask_url(value.get_secret_value())
            elif isinstance(value, SecretStr):
                out[name] = "**********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                out[name] = str(value)
            else:
                out[name] = value
        return out


def mask_url(url: str) -> str:
    """``mysql+pymysql://user:secret@host/db`` -> ``mysql+pymysql://user:***@host/db``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user, colon, _pw = creds.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"


def url_password(url: str) -> str | None:
    """The password part of a URL, unquoted, or None."""
    _scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return None
    creds = rest.rpartition("@")[0]
    _user, colon, password = creds.partition(":")
    return unquote(password) if colon and password else None


# `--config FILE` of this invocation; a context variable, not the environment, so that one CLI call
# (or test) never leaks its config file into the next.
_config_file: ContextVar[Path | None] = ContextVar("spotify_pipeline_config_file", default=None)


def config_file_path() -> Path:
    """The TOML file read: ``--config``, else SPOTIFY_PIPELINE_CONFIG_FILE, else ./spotify-pipeline.toml."""
    given = _config_file.get()
    if given is not None:
        return given
    return Path(os.environ.get(ENV_PREFIX + "CONFIG_FILE", DEFAULT_CONFIG_FILE))


def warehouse_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a warehouse URL (unparsable, unsupported engine, driver missing), or None."""
    # deferred: start-up time: every layer imports settings; SQLAlchemy (~0.5 s) loads when a URL is checked
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    example = (
        "use sqlite:///path/to/file.db, mysql+pymysql://user:password@host/db "
        "or postgresql+psycopg://user:password@host/db"
    )
    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"{mask_url(url)!r} is not a database URL: {example}"
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "sqlite":
        if driver != "pysqlite":
            return f"SQLite driver {driver!r} is not supported: {example}"
        return None
    if backend in ("mysql", "mariadb"):
        if driver != "pymysql":
            return (
                f"MySQL driver {driver!r} is not supported: write {backend}+pymysql://user:password@host/db"
            )
        if not parsed.database:
            return f"{mask_url(url)!r} names no database: add /dbname at the end"
        if importlib.util.find_spec("pymysql") is None:
            return "the MySQL driver is not installed: pip install 'spotify-pipeline[mysql]'"
        return None
    if backend == "postgresql":
        if driver != "psycopg":
            return f"PostgreSQL driver {driver!r} is not supported: write postgresql+psycopg://user:password@host/db"
        if not parsed.database:
            return f"{mask_url(url)!r} names no database: add /dbname at the end"
        if importlib.util.find_spec("psycopg") is None:
            return "the PostgreSQL driver is not installed: pip install 'spotify-pipeline[postgres]'"
        return None
    return f"database {backend!r} is not supported: {example}"


def use_config_file(path: Path | None) -> None:
    """Read settings from ``path`` (the CLI's ``--config``) in this context; None: the default."""
    _config_file.set(path)


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning validation errors into a ConfigError that names the setting, where it
    was set (environment variable, .env file, TOML file and key) and, for unknown keys, what was meant."""
    # deferred: import cycle (config_sources reads this module's names and the Settings fields)
    from .config_sources import describe_errors, unknown_keys

    problems = unknown_keys(overrides)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems += describe_errors(exc, overrides)
        if not problems:  # an unknown key from a source unknown_keys does not read
            problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return settings
