"""Reading a landed raw object for ``process``: its bytes decoded (a recently-played page's items
left undecoded when msgspec can, for the run's item cache) and turned into rows; the variants of an
hour read together, each one that cannot be read quarantined on its own."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ..errors import MalformedRawObject, PipelineError
from ..landing.decode import MAX_JSON_BYTES, parse_object_checked, parse_page_items_lazily
from ..landing.envelope import merge_envelopes
from ..landing.store import RawObjectInfo
from ..transform.raw_object import ObjectRows, object_rows
from ..transform.recently_played import ItemCache, UndecodedItem
from .process_batch import Batch, quarantine
from .runtime import Runtime

# The job's own name in the log, as before reading had a module of its own.
log = logging.getLogger("spotify_pipeline.jobs.process")

# The largest object process reads, as stored (and, compressed, once decompressed: MAX_JSON_BYTES).
MAX_OBJECT_BYTES = MAX_JSON_BYTES


def read_members(
    rt: Runtime, members: list[RawObjectInfo], kind: str, user: str, batch: Batch, *, lazy: bool = False
) -> tuple[list[RawObjectInfo], dict[str, Any], bool] | None:
    """The readable variants, their envelopes' union and whether msgspec decoded all of them; each
    unreadable variant quarantined on its own. None when none is left. ``lazy`` (one variant only):
    its pages' items as ``msgspec.Raw`` when it is a clean envelope (``parse_page_items_lazily``)."""
    good: list[RawObjectInfo] = []
    envelope: dict[str, Any] | None = None
    clean = True
    for info in members:
        try:
            if info.size > MAX_OBJECT_BYTES:
                # Not read, and not copied to the quarantine either (that would read it): left in place.
                reason = (
                    f"the file is {info.size / 2**20:,.0f} MiB, over the {MAX_OBJECT_BYTES // 2**20} MiB a "
                    "raw object may be; it is not a raw object this pipeline wrote: move it out of the raw zone"
                )
                quarantine(rt, batch, info, kind, user, reason, copy=False)
                continue
            data = rt.store.get(info.key)
            if data is None:  # deleted between list and get
                continue
            lazily = parse_page_items_lazily(data, info.key) if lazy else None
            parsed, decoded = (lazily, True) if lazily is not None else read_envelope(data, info.key)
            envelope = parsed if envelope is None else merge_envelopes(envelope, parsed)
        except MalformedRawObject as exc:
            quarantine(rt, batch, info, kind, user, exc.reason)
            continue
        except ValueError as exc:  # the two variants name different users: the later one is set aside
            quarantine(rt, batch, info, kind, user, f"cannot be read with {good[0].key}: {exc}")
            continue
        except (PipelineError, MemoryError):
            raise  # the raw zone cannot be read (StoreError), ...: every later object would fail too
        except Exception as exc:  # noqa: BLE001 - the safety net
            log.debug("unexpected failure reading %s", info.key, exc_info=True)
            quarantine(rt, batch, info, kind, user, f"unexpected {type(exc).__name__}: {exc}")
            continue
        good.append(info)
        clean = clean and decoded
    if envelope is None:
        return None
    return good, envelope, clean


def read_envelope(data: bytes, key: str) -> tuple[dict[str, Any], bool]:
    """``parse_object_checked`` raising only MalformedRawObject, whatever the bytes."""
    try:
        return parse_object_checked(data, key)
    # parse_object turns json's own RecursionError and ValueError (an integer of over 4300 digits)
    # into MalformedRawObject; these catch the same from its later steps (it re-encodes fetches).
    except RecursionError:
        raise MalformedRawObject(key, "JSON nested too deeply to read (over ~1000 levels)") from None
    except ValueError as exc:
        raise MalformedRawObject(key, f"invalid JSON: {exc}") from None


def read_object(
    data: bytes, key: str, kind: str, user: str, now: datetime, cache: ItemCache | None = None
) -> ObjectRows:
    """The rows of a raw object's bytes; raises only MalformedRawObject, whatever the bytes.
    ``cache`` (one per run) is used only for an object msgspec decoded, where it is exact; with it a
    recently-played object is read with its items undecoded, as ``process`` reads one variant."""
    if cache is not None and kind == "recently_played":
        lazily = parse_page_items_lazily(data, key)
        if lazily is not None:
            try:
                return object_rows(kind, lazily, user, key, now, cache)
            except UndecodedItem:
                pass  # read exactly below: its error, or its rows without the cache
    envelope, clean = read_envelope(data, key)
    return object_rows(kind, envelope, user, key, now, cache if clean else None)
