"""`spotify-pipeline doctor`: is this installation able to capture plays, and if not, what to do.

Each check ends ok, warn or fail with the fix. The doctor only looks: it creates no folder or
database and runs no migration (a typo'd path must show up here, not be created).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from ..clock import Clock
from ..config_sources import source_of
from ..errors import PipelineError
from ..landing.store import open_store
from ..settings import Settings
from ..warehouse import reads
from ..warehouse.engine import (
    DbTimeouts,
    current_revision,
    describe_db_error,
    head_revision,
    make_engine,
    sqlite_path,
)
from .runtime import Runtime
from .status import duration_text, stale_fetch_warning, token_status

Level = Literal["ok", "warn", "fail", "skipped"]


@dataclass
class Check:
    name: str
    level: Level
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def settings_sources(settings: Settings) -> list[dict[str, Any]]:
    """Every setting, its (masked) value and the source it came from."""

    return [
        {"name": name, "value": value, "source": source_of(name).where}
        for name, value in settings.masked().items()
    ]


def check_warehouse(settings: Settings, rt: Runtime) -> Check:
    url = settings.warehouse_url.get_secret_value()
    shown = settings.masked()["warehouse_url"]
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        return Check("warehouse", "fail", f"no warehouse at {path}", "run `spotify-pipeline init`")
    timeouts = DbTimeouts.from_settings(settings)
    try:
        engine = make_engine(url, timeouts)
        revision = current_revision(engine)
    except PipelineError as exc:
        return Check("warehouse", "fail", str(exc), "fix the setting warehouse_url")
    except Exception as exc:  # noqa: BLE001 - any driver failure is this check's answer
        return Check(
            "warehouse", "fail", describe_db_error(exc, url, timeouts), "fix warehouse_url or the server"
        )
    head = head_revision()
    rt.use_engine(engine)  # later checks read through this engine: the doctor never migrates
    if revision is None:
        return Check("warehouse", "fail", f"{shown} has no schema", "run `spotify-pipeline init`")
    if revision != head:
        return Check(
            "warehouse",
            "warn",
            f"{shown} is at revision {revision}, this version's head is {head}",
            "run `spotify-pipeline db upgrade` (the next run would do it)",
        )
    return Check("warehouse", "ok", f"{shown} reachable, at head revision {head}")


def check_raw_zone(settings: Settings) -> Check:
    if settings.is_s3:
        try:
            store = open_store(settings)
            next(iter(store.list("recently_played/")), None)
        except PipelineError as exc:
            return Check("raw zone", "fail", str(exc), "check the bucket, endpoint and AWS credentials")
        return Check("raw zone", "ok", f"{settings.raw_zone} can be listed (writing is tested by `fetch`)")
    path = Path(settings.raw_zone).expanduser()
    if not path.is_dir():
        return Check("raw zone", "fail", f"no folder at {path}", "run `spotify-pipeline init`")
    try:
        fd, probe = tempfile.mkstemp(prefix=".doctor-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return Check("raw zone", "fail", f"{path} is not writable ({exc.strerror})", "fix its permissions")
    return Check("raw zone", "ok", f"{path} is writable")


def check_token(rt: Runtime) -> Check:
    data = token_status(rt)
    if not data["logged_in"]:
        problem = data["problem"]
        fix = "" if "auth login" in problem else "run `spotify-pipeline auth login`"
        return Check("token", "fail", problem, fix)
    days = data["refresh_token_days_left"]
    if days <= 0:
        return Check("token", "fail", "the refresh token has expired", "run `spotify-pipeline auth login`")
    if data["warning"]:
        return Check("token", "warn", f"{days} days left", "run `spotify-pipeline auth login` before then")
    return Check("token", "ok", f"valid, {days} days left")


def check_last_fetch(settings: Settings, rt: Runtime) -> Check:
    now = rt.clock.now()
    with rt.engine.connect() as conn:
        row = reads.last_fetch(conn, settings.user, "recently_played")
    if row is None:
        return Check("last fetch", "warn", "no fetch yet", "run `spotify-pipeline run`, from cron or Airflow")
    summary = {"started_at": row["started_at"].isoformat()}
    age = duration_text((now - row["started_at"]).total_seconds())
    stale = stale_fetch_warning(summary, settings.expected_poll_minutes, now)
    detail = f"{age} ago, {row['status']}"
    if stale:
        return Check("last fetch", "warn", detail, "is cron running? check its log")
    if row["status"] == "failed":
        return Check(
            "last fetch", "warn", f"{detail}: {row.get('message') or ''}".rstrip(": "), "see the run log"
        )
    return Check("last fetch", "ok", detail)


def check_pause(rt: Runtime) -> Check:
    pause = rt.state.get("paused_until")
    until = pause.get("until") if pause else None
    if until and datetime.fromisoformat(until) > rt.clock.now():
        reason = pause.get("reason", "") if pause else ""
        return Check(
            "pause", "warn", f"paused until {until}: {reason}", "wait, or `spotify-pipeline pause clear`"
        )
    return Check("pause", "ok", "not paused")


def doctor(
    settings: Settings, *, clock: Clock | None = None, runtime: Runtime | None = None
) -> dict[str, Any]:
    """Run every check; ``ok`` is False when any check failed."""
    rt = Runtime.resolve(settings, runtime, clock=clock)
    checks = [check_warehouse(settings, rt), check_raw_zone(settings), check_token(rt)]
    needs_db: list[tuple[str, Callable[[], Check]]] = [
        ("last fetch", lambda: check_last_fetch(settings, rt)),
        ("pause", lambda: check_pause(rt)),
    ]
    for name, run in needs_db:
        if checks[0].level == "fail":
            checks.append(Check(name, "skipped", "the warehouse is not usable"))
            continue
        try:
            checks.append(run())
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            checks.append(Check(name, "fail", f"{type(exc).__name__}: {exc}", "run with log_level DEBUG"))
    return {
        "ok": not any(c.level == "fail" for c in checks),
        "settings": settings_sources(settings),
        "checks": [c.as_dict() for c in checks],
    }
