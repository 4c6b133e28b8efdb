"""What a fetch writes to the warehouse after it has landed: its ``fetch_runs`` row, the gap check
and the cursor it moves, and a pause Spotify asked for. Capture never waits for this part.

Order: fetch, land, then bookkeeping. When the warehouse cannot be reached, the fetch's
record goes to the raw zone instead, as a small note under ``_bookkeeping/<user>/`` (named by its
start time, so notes sort in time order), and the next run that reaches the warehouse (a fetch or
``process``) applies every note, oldest first, before anything of its own: the gap rule needs the
pages in the order they were fetched. Notes are not raw objects (``parse_key`` refuses them).

A ``fetch_runs`` row is written once, with its outcome (ok, paused, failed or interrupted), so no
row is ever left ``running``: an interrupted fetch (Ctrl-C, SIGTERM) records ``interrupted``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from ..clock import from_ms, to_ms
from ..errors import StoreError
from ..landing.decode import json_bytes
from ..landing.keys import check_user
from ..spotify.pause import PAUSE_KEY
from ..transform.gaps import advance, detect_gap
from ..warehouse import gaps, reads, runs, writes
from ..warehouse.state import WAREHOUSE_ERRORS, get_in, set_in
from .report import JobReport

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger(__name__)

PREFIX = "_bookkeeping/"
NOTE_FORMAT = "spotify-pipeline.bookkeeping/1"


def cursor_key(user: str) -> str:
    return f"cursor:recently_played:{user}"


@dataclass
class FetchRecord:
    """One fetch as the warehouse records it; ``played_ms`` (sorted) once a page was landed."""

    user: str
    kind: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"
    api_calls: int = 0
    items: int = 0
    raw_key: str | None = None
    message: str | None = None
    played_ms: list[int] | None = None
    state: dict[str, dict[str, Any]] = field(default_factory=dict)  # e.g. a pause not saved yet
    outage: str | None = None

    def to_note(self) -> bytes:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return json_bytes({"format": NOTE_FORMAT, **data}, indent=1)

    @classmethod
    def from_note(cls, data: bytes) -> FetchRecord:
        """Parse a note; ValueError (naming what is wrong) for anything else."""
        try:
            value = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"not JSON ({exc})") from None
        if not isinstance(value, dict) or value.pop("format", None) != NOTE_FORMAT:
            raise ValueError(f"not a {NOTE_FORMAT} note")
        try:
            value["started_at"] = datetime.fromisoformat(value["started_at"])
            if value.get("finished_at"):
                value["finished_at"] = datetime.fromisoformat(value["finished_at"])
            return cls(**value)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"unreadable field ({exc})") from None


def record_fetch(rt: Runtime, rec: FetchRecord, report: JobReport) -> str | None:
    """Write ``rec`` (after the notes left by earlier runs); when the warehouse cannot be reached,
    leave a note in the raw zone. Returns the outage's reason, None when the warehouse took it."""
    rec.state.update(rt.state.unsaved)
    try:
        if rt.state.outage is None:
            catch_up(rt, report)
            apply(rt, rec, report)
            return None
        reason = rt.state.outage
    except WAREHOUSE_ERRORS as exc:
        reason = rt.state.unreachable(exc)
    except BaseException:
        # Interrupted while writing: the transaction rolled back, so keep the note and stop.
        _leave_note_quietly(rt, rec)
        raise
    rec.outage = reason
    note = leave_note(rt, rec)
    log.warning("the warehouse is unreachable (%s): left %s for the next run", reason, note)
    return reason


def apply(rt: Runtime, rec: FetchRecord, report: JobReport) -> None:
    """One transaction: the gap check and cursor, a pause, the ``fetch_runs`` row."""

    now = rt.clock.now()
    with rt.engine.begin() as conn:
        writes.ensure_user(conn, rec.user, now)
        if rec.played_ms is not None:
            cursor = get_in(conn, cursor_key(rec.user)) or {}
            known = cursor.get("newest_ms")
            if not isinstance(known, int):
                newest_stored = reads.newest_play_at(conn, rec.user)
                known = to_ms(newest_stored) if newest_stored else None
            found = detect_gap(rec.played_ms, known)
            if found is not None:
                detected = rec.finished_at or now
                if gaps.record_gap(
                    conn,
                    rec.user,
                    gap_from=from_ms(found[0]),
                    gap_to=from_ms(found[1]),
                    detected_at=detected,
                    raw_key=rec.raw_key,
                ):
                    report.add("gaps_detected")
                    report.problems.append(_gap_text(found))
                    log.warning("%s", report.problems[-1])
            newest = advance(rec.played_ms, known)
            if newest is not None and newest != known:
                set_in(conn, cursor_key(rec.user), {"newest_ms": newest}, now)
        pause = rec.state.get(PAUSE_KEY)
        if pause and _still_ahead(pause, now):
            set_in(conn, PAUSE_KEY, pause, now)
        run_id = runs.start_fetch_run(conn, rec.user, rec.kind, started_at=rec.started_at)
        message = rec.message
        if rec.outage:
            message = f"{message + '; ' if message else ''}recorded late: the warehouse was unreachable ({rec.outage})"
        runs.finish_fetch_run(
            conn,
            run_id,
            finished_at=rec.finished_at or now,
            status=rec.status,
            api_calls=rec.api_calls,
            items=rec.items,
            raw_key=rec.raw_key,
            message=message[:1000] if message else None,
        )


def catch_up(rt: Runtime, report: JobReport) -> int:
    """Apply the notes runs left while the warehouse was down, oldest first; returns how many.
    Raises the warehouse's error when it is still unreachable (the notes stay)."""

    applied = 0
    try:
        infos = list(rt.store.list(_user_prefix(rt.settings.user)))
    except StoreError as exc:
        report.problems.append(f"could not read the bookkeeping notes ({exc}); they wait for the next run")
        return 0
    for info in infos:
        data = rt.store.get(info.key)
        if data is None:
            continue  # another run applied it meanwhile
        try:
            apply(rt, FetchRecord.from_note(data), report)
        except ValueError as exc:
            _set_aside(rt, info.key, f"not a bookkeeping note: {exc}", report)
            continue
        except WAREHOUSE_ERRORS:
            raise
        except SQLAlchemyError as exc:  # the note's data, not the connection: never retried forever
            _set_aside(rt, info.key, f"the warehouse refused it ({type(exc).__name__})", report)
            continue
        rt.store.delete(info.key)
        applied += 1
    if applied:
        report.add("bookkeeping_caught_up", applied)
        log.info("recorded %d fetches landed while the warehouse was unreachable", applied)
    return applied


def _set_aside(rt: Runtime, key: str, reason: str, report: JobReport) -> None:
    qkey = rt.store.quarantine(key, reason)
    rt.store.delete(key)
    report.problems.append(f"{key}: {reason}; moved it to {qkey}")


def leave_note(rt: Runtime, rec: FetchRecord) -> str:
    stamp = rec.started_at.strftime("%Y%m%dT%H%M%S%fZ")
    key = f"{_user_prefix(rec.user)}{stamp}-{uuid.uuid4().hex[:8]}.json"
    rt.store.put_bytes(key, rec.to_note())
    return key


def _leave_note_quietly(rt: Runtime, rec: FetchRecord) -> None:
    try:
        leave_note(rt, rec)
    except Exception as exc:  # already failing: the first error is the one to report
        log.warning("could not leave a bookkeeping note for the %s fetch: %s", rec.kind, exc)


def _user_prefix(user: str) -> str:
    try:
        segment = check_user(user)
    except ValueError:
        segment = "u-" + hashlib.sha256(user.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{PREFIX}{segment}/"


def _still_ahead(pause: dict[str, Any], now: datetime) -> bool:
    try:
        return datetime.fromisoformat(str(pause.get("until"))) > now
    except ValueError:
        return False


def _gap_text(found: tuple[int, int]) -> str:
    return (
        f"gap: plays between {from_ms(found[0]).isoformat()} and {from_ms(found[1]).isoformat()} were not "
        "reachable (more than 50 plays since the last poll); poll more often, or import a privacy export to close it"
    )
