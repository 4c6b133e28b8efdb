"""Several listeners served by one Spotify app: the registry, each user's settings, `run --all-users`.

Each user has their own token state (``tokens.<name>.json`` beside ``token_file``, or their row of
the shared token store) and, as soon as the registry holds more than one name, their own raw-zone
partition ``users/<name>/``. One user's failure (a revoked login, a network error) is that user's
report; the others run. A 429 pause is the app's (Spotify limits apps, not users): it is recorded
once and every user's client honours it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import AuthError, ConfigError, LoginRequired, PipelineError
from ..landing.keys import check_user
from ..settings import Settings
from ..warehouse import listeners
from . import _followed_artists_when_due, download_recently_played, enrich, process
from .report import JobReport
from .runtime import Runtime
from .token_stores import open_token_store, user_token_file

log = logging.getLogger(__name__)

RuntimeFactory = Callable[[Settings], Runtime]


def check_name(name: str) -> str:
    """``name`` if it can be a listener (a raw-zone partition, a file name); ConfigError otherwise."""

    try:
        return check_user(name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def registered(rt: Runtime) -> list[str]:
    with rt.engine.connect() as conn:
        return listeners.names(conn)


def listener_names(settings: Settings, runtime: Runtime | None = None) -> list[str]:
    """The registered listeners; the configured ``user`` alone when nobody is registered."""
    return registered(Runtime.resolve(settings, runtime)) or [settings.user]


def for_user(settings: Settings, name: str, *, partition: bool) -> Settings:
    """``settings`` for listener ``name``: their token file, their raw-zone partition when shared."""
    update: dict[str, Any] = {
        "user": check_name(name),
        "token_file": user_token_file(settings, name),
        "user_partition": settings.user_partition or partition,
    }
    return settings.model_copy(update=update)


def add_user(settings: Settings, name: str, *, runtime: Runtime | None = None) -> bool:
    rt = Runtime.resolve(settings, runtime)
    with rt.engine.begin() as conn:
        return listeners.add(conn, check_name(name), rt.clock.now())


def remove_user(
    settings: Settings, name: str, *, keep_tokens: bool = False, runtime: Runtime | None = None
) -> dict[str, bool]:
    """Unregister ``name`` and (unless ``keep_tokens``) delete their token state. Their plays and raw
    objects stay: they are history, not configuration."""

    rt = Runtime.resolve(settings, runtime)
    with rt.engine.begin() as conn:
        was = listeners.remove(conn, name)
    tokens = False
    if not keep_tokens:
        tokens = bool(open_token_store(for_user(settings, name, partition=False)).delete())
    return {"registered": was, "tokens_deleted": tokens}


def describe_users(settings: Settings, *, runtime: Runtime | None = None) -> list[dict[str, Any]]:
    """Each listener with their login's state (never a token)."""

    rt = Runtime.resolve(settings, runtime)
    names = registered(rt)
    out = []
    for name in names:
        user_settings = for_user(settings, name, partition=len(names) > 1)
        entry: dict[str, Any] = {
            "user": name,
            "partition": f"users/{name}/" if user_settings.user_partition else "",
        }
        try:
            state = open_token_store(user_settings).load()
        except PipelineError as exc:
            entry.update(logged_in=False, problem=str(exc))
        else:
            entry["logged_in"] = state is not None
            if state is not None:
                entry["refresh_token_days_left"] = round(state.days_left(rt.clock.now()), 1)
        out.append(entry)
    return out


@dataclass
class AllUsersRun:
    """`run --all-users`: each listener's fetch reports, then the shared load and enrichment."""

    users: dict[str, list[JobReport]] = field(default_factory=dict)
    shared: list[JobReport] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(r.status == "failed" for r in self.reports())

    def reports(self) -> list[JobReport]:
        return [r for reports in self.users.values() for r in reports] + self.shared

    def to_dict(self) -> dict[str, Any]:
        return {
            "users": {u: [r.to_dict() for r in rs] for u, rs in self.users.items()},
            "shared": [r.to_dict() for r in self.shared],
        }


def _fetch_user(settings: Settings, rt: Runtime) -> list[JobReport]:
    """One listener's fetches; any failure becomes their report, never the others' problem."""

    try:
        reports = [download_recently_played(settings, runtime=rt)]
        if reports[0].status != "paused":
            reports.append(_followed_artists_when_due(settings, rt))
        return reports
    except LoginRequired as exc:
        message = f"{exc.reason}: log in again with `spotify-pipeline auth login --user {settings.user}`"
    except (AuthError, PipelineError) as exc:
        message = str(exc)
    except Exception as exc:  # noqa: BLE001 - one user's unexpected failure must not stop the others
        log.exception("fetching for user %r failed", settings.user)
        message = f"unexpected {type(exc).__name__}: {exc}"
    failed = JobReport("download_recently_played", status="failed")
    failed.message = f"user {settings.user}: {message}"
    return [failed]


def run_all_users(
    settings: Settings,
    *,
    parallel: int | None = None,
    runtime: Runtime | None = None,
    runtime_for: RuntimeFactory | None = None,
    force_enrich: bool = False,
) -> AllUsersRun:
    """Fetch for every listener (``parallel`` at a time, default ``users_parallel``), then load
    everything landed once and enrich with a listener whose login works."""

    base = Runtime.resolve(settings, runtime)
    names = registered(base) or [settings.user]
    partition = len(names) > 1

    def make(user_settings: Settings) -> Runtime:
        if runtime_for is not None:
            return runtime_for(user_settings)
        rt = Runtime(user_settings, clock=base.clock, transport=base.transport, sleep=base.sleep)
        rt.engine_override = base.engine  # one pool for all users
        return rt

    runtimes = {name: make(for_user(settings, name, partition=partition)) for name in names}
    run = AllUsersRun()
    workers = max(1, min(parallel or settings.users_parallel, len(names)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="user") as pool:
        results = pool.map(lambda name: _fetch_user(runtimes[name].settings, runtimes[name]), names)
        for name, reports in zip(names, results, strict=True):
            run.users[name] = reports
    run.shared.append(process(settings, runtime=base))
    paused = any(r.status == "paused" for r in run.reports())
    working = [n for n in names if all(r.status in ("ok", "skipped") for r in run.users[n])]
    if not paused and working:
        rt = runtimes[working[0]]
        run.shared.append(enrich(rt.settings, runtime=rt, force=force_enrich))
    return run
