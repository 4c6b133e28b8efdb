"""One Settings object, built at the edge (CLI, DAG, test) and passed down.

Sources, highest priority first: explicit arguments, environment variables ``SPOTIFY_PIPELINE_*``,
a ``.env`` file, a TOML config file (``SPOTIFY_PIPELINE_CONFIG_FILE`` or ``./spotify-pipeline.toml``),
then the defaults below. Secrets are ``SecretStr`` so that no repr, log line or error shows them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, SecretStr, field_validator
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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        validate_default=True,
    )

    # --- where the data goes -------------------------------------------------------------
    raw_zone: str = Field("./data/raw", description="Local folder or s3://bucket/prefix for raw objects")
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, moto); None = AWS")
    s3_region: str | None = Field(None, description="AWS region for the raw-zone bucket")
    warehouse_url: SecretStr = Field(
        SecretStr("sqlite:///./data/warehouse.db"),
        description="SQLAlchemy URL: sqlite:///path.db or mysql+pymysql://user:pw@host/db",
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

    # --- behaviour -------------------------------------------------------------------------
    retry_after_cap_seconds: float = Field(30.0, ge=0, description="Longest 429 wait inside a run")
    max_retries: int = Field(5, ge=0, le=20, description="Retries for 5xx and timeouts")
    backoff_base_seconds: float = Field(0.5, ge=0, description="First backoff step; doubles, with jitter")
    request_timeout_seconds: float = Field(20.0, gt=0)
    enrich_threshold: int = Field(50, ge=1, description="Missing ids that trigger an enrichment")
    following_every_hours: float = Field(
        24.0, ge=0, description="`run` fetches followed artists only when the last good fetch is older"
    )
    export_match_tolerance_seconds: float = Field(
        90.0, ge=0, description="Export vs API play matching window"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("raw_zone")
    @classmethod
    def _raw_zone(cls, v: str) -> str:
        if v.startswith("s3://"):
            bucket = v[5:].split("/", 1)[0]
            if not bucket:
                raise ValueError(f"raw_zone {v!r} has no bucket: use s3://bucket/prefix")
        elif "://" in v:
            raise ValueError(f"raw_zone {v!r}: use a local folder or s3://bucket/prefix")
        return v

    @field_validator("redirect_uri")
    @classmethod
    def _redirect(cls, v: str) -> str:
        if v.startswith("http://localhost"):
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
        config_file = os.environ.get(ENV_PREFIX + "CONFIG_FILE", DEFAULT_CONFIG_FILE)
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file)
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
        password = url_password(self.warehouse_url.get_secret_value())
        if password:
            out.append(password)
        return out

    def masked(self) -> dict[str, Any]:
        """Every setting, secrets masked: what `config show` prints."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "warehouse_url":
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
    from urllib.parse import unquote

    _scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return None
    creds = rest.rpartition("@")[0]
    _user, colon, password = creds.partition(":")
    return unquote(password) if colon and password else None


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning validation errors into a ConfigError that names the setting."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            env = ENV_PREFIX + field.upper()
            problems.append(f"{field} (env {env}): {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
