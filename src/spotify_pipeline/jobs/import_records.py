"""The record of imports, kept in the raw zone next to the archived files: what ``rebuild`` replays.

``import_history`` writes one record per import, after it archived the files and before it writes
a play, at ``imports/<user>/_runs/<started, UTC>-<seq>-<digest>.json`` (write-once, like the files):

- ``files``: the archived copies (name as the import gave it, key, size, sha256), in import order;
- ``source``, ``ignored``, ``unknown``: what the import was given and did not archive, so the replay's
  report reads the same;
- ``user``, ``started_at``, ``seq`` (the user's count of records so far: orders imports started in the
  same instant) and ``settings.export_match_tolerance_seconds`` (decides which export records match
  API plays, so the replay matches as the original did).

The raw zone alone then says which imports to replay and how; the warehouse is not needed. A
``_runs`` folder cannot be a user's sha256 folder or a user name (names start with a letter or digit).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..exports.report import ArchivedFile
from ..landing.keys import IMPORTS_PREFIX, check_user
from ..landing.store import RawStore
from .import_archive import ArchivedExport

if TYPE_CHECKING:
    from ..exports.report import ImportReport
    from ..settings import Settings

RUNS = "_runs"
VERSION = 1


@dataclass(frozen=True)
class RecordedImport:
    key: str  # where the record is, for messages
    user: str
    started_at: datetime
    seq: int
    archive: ArchivedExport
    tolerance_seconds: float
    origin: str  # "import-history", or how an older import got its record

    def order(self) -> tuple[datetime, int, str, str]:
        return (self.started_at, self.seq, self.user, self.key)


def runs_prefix(user: str) -> str:
    return f"{IMPORTS_PREFIX}{check_user(user)}/{RUNS}/"


def record_import(store: RawStore, settings: Settings, report: ImportReport, started_at: datetime) -> str:
    """Write the record of the import ``report`` describes (files archived, nothing imported yet)."""
    assert report.archived is not None
    archive = ArchivedExport(
        source=report.source,
        files=list(report.archived),
        ignored=list(report.ignored_files),
        unknown=list(report.unknown_files),
    )
    return write_record(
        store, report.user_id, started_at, archive, settings.export_match_tolerance_seconds, "import-history"
    )


def write_record(
    store: RawStore,
    user: str,
    started_at: datetime,
    archive: ArchivedExport,
    tolerance_seconds: float,
    origin: str,
    seq: int | None = None,
) -> str:
    """Store one record (write-once); its key."""
    prefix = runs_prefix(user)
    if seq is None:
        seq = sum(1 for _ in store.list(prefix)) + 1
    body = {
        "version": VERSION,
        "user": user,
        "started_at": started_at.astimezone(UTC).isoformat(),
        "seq": seq,
        "source": archive.source,
        "files": [f.to_dict() for f in archive.files],
        "ignored": archive.ignored,
        "unknown": [{"name": n, "reason": r} for n, r in archive.unknown],
        "settings": {"export_match_tolerance_seconds": tolerance_seconds},
        "origin": origin,
    }
    data = json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    stamp = started_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    key = f"{prefix}{stamp}-{seq:06d}-{hashlib.sha256(data).hexdigest()[:12]}.json"
    store.put_bytes(key, data)
    return key


def list_records(store: RawStore) -> tuple[list[RecordedImport], list[str]]:
    """Every import record in the raw zone, oldest first; and one problem line per unreadable one."""
    found: list[RecordedImport] = []
    problems: list[str] = []
    for info in store.list(IMPORTS_PREFIX):
        parts = info.key.split("/")
        if len(parts) != 4 or parts[2] != RUNS or not parts[3].endswith(".json"):
            continue
        try:
            found.append(_parse(info.key, store.get(info.key)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            problems.append(
                f"import record {info.key} in {store.location} is unreadable ({type(exc).__name__}: {exc}); "
                "its import was not replayed: restore the file from a backup, or import the export again"
            )
    return sorted(found, key=RecordedImport.order), problems


def _parse(key: str, data: bytes | None) -> RecordedImport:
    if data is None:
        raise ValueError("it vanished while listing")
    body: dict[str, Any] = json.loads(data)
    if body.get("version") != VERSION:
        raise ValueError(f"version {body.get('version')!r}, this release reads {VERSION}")
    user = check_user(str(body["user"]))
    if key.split("/")[1] != user:
        raise ValueError(f"it names user {user!r} but lies in another user's folder")
    started = datetime.fromisoformat(str(body["started_at"]))
    if started.tzinfo is None:
        raise ValueError("started_at has no UTC offset")
    archive = ArchivedExport(
        source=str(body["source"]),
        files=[ArchivedFile.from_dict(f) for f in body["files"]],
        ignored=[str(n) for n in body["ignored"]],
        unknown=[(str(u["name"]), str(u["reason"])) for u in body["unknown"]],
    )
    tolerance = float(body["settings"]["export_match_tolerance_seconds"])
    return RecordedImport(key, user, started, int(body["seq"]), archive, tolerance, str(body["origin"]))
