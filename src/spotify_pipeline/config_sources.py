"""Where each setting comes from, and what a config typo was meant to be.

Settings are read, highest priority first, from explicit arguments, environment variables
``SPOTIFY_PIPELINE_<NAME>``, the ``.env`` file of the working folder, the TOML file
(``SPOTIFY_PIPELINE_CONFIG_FILE`` or ``./spotify-pipeline.toml``) and the defaults. A person fixing a
bad value needs to know which of these set it, so every config error names the source; an unknown
key is refused with the nearest known name, because a silently ignored typo (``warehouse_ulr``)
would otherwise run on the default.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import ValidationError

from .settings import ENV_PREFIX, Settings, config_file_path

DOTENV_FILE = ".env"
# Our own variables that are not settings: the config file path, and the DAG options
# (SPOTIFY_PIPELINE__DAILY_DOWNLOAD_SCHEDULE, ...) which use a double underscore on purpose.
_NOT_SETTINGS = {"CONFIG_FILE"}


@dataclass(frozen=True)
class Source:
    kind: str  # "argument", "environment", "dotenv", "toml", "default"
    where: str  # a person-readable place: "environment variable SPOTIFY_PIPELINE_USER", ...


def _fields() -> list[str]:
    return list(Settings.model_fields)


def config_file() -> Path:
    return config_file_path()


def _env() -> dict[str, str]:
    return {k.upper(): v for k, v in os.environ.items() if k.upper().startswith(ENV_PREFIX)}


def _dotenv() -> dict[str, str]:
    path = Path(DOTENV_FILE)
    if not path.is_file():
        return {}
    values = dotenv_values(path, encoding="utf-8")
    return {k.upper(): v or "" for k, v in values.items() if k.upper().startswith(ENV_PREFIX)}


def _toml() -> dict[str, Any]:
    path = config_file()
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return {}  # Settings itself reports the file as unreadable, with the line


def source_of(name: str, overrides: Mapping[str, Any] | None = None) -> Source:
    """Which source gives setting ``name`` its value (the one that wins)."""
    env_name = ENV_PREFIX + name.upper()
    if overrides and name in overrides:
        return Source("argument", f"argument {name}")
    if env_name in _env():
        return Source("environment", f"environment variable {env_name}")
    if env_name in _dotenv():
        return Source("dotenv", f"{Path(DOTENV_FILE).resolve()} ({env_name})")
    if name in _toml():
        return Source("toml", f"{config_file()} key {name}")
    return Source("default", "default")


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def unknown_keys(overrides: Mapping[str, Any] | None = None) -> list[str]:
    """One problem per key that looks like one of our settings but is none of them."""
    fields = _fields()
    env_fields = [ENV_PREFIX + f.upper() for f in fields]
    problems: list[str] = []
    for key in _env():
        rest = key[len(ENV_PREFIX) :]
        if rest in _NOT_SETTINGS or rest.startswith("_") or key in env_fields:
            continue
        problems.append(f"unknown environment variable {key}{_did_you_mean(key, env_fields)}")
    for key in _dotenv():
        rest = key[len(ENV_PREFIX) :]
        if rest in _NOT_SETTINGS or rest.startswith("_") or key in env_fields:
            continue
        where = Path(DOTENV_FILE).resolve()
        problems.append(f"unknown key {key} in {where}{_did_you_mean(key, env_fields)}")
    for key in _toml():
        if key not in fields:
            problems.append(f"unknown key {key!r} in {config_file()}{_did_you_mean(key, fields)}")
    for key in overrides or {}:
        if key not in fields:
            problems.append(f"unknown setting {key!r}{_did_you_mean(key, fields)}")
    return problems


def describe_errors(exc: ValidationError, overrides: Mapping[str, Any] | None = None) -> list[str]:
    """One line per invalid value: the setting, where it was set, and what is wrong."""
    out = []
    for err in exc.errors():
        if err["type"] == "extra_forbidden":
            continue  # unknown_keys names these, with what was meant
        name = str(err["loc"][0]) if err["loc"] else "settings"
        source = source_of(name, overrides)
        where = "" if source.kind == "default" else f", set by {source.where}"
        message = str(err["msg"]).removeprefix("Value error, ")
        out.append(f"{name} (env {ENV_PREFIX + name.upper()}{where}): {message}")
    return out
