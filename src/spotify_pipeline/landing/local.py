"""The raw zone as a local folder.

Writes go to a temp file in the object's own directory, are fsynced, then ``os.replace``d over the
object: a reader sees the old object or the new one, never half of one, and a crash leaves at most a
stray temp file (skipped by ``list``). Read-merge-write is serialized across processes by an
``fcntl.flock`` on one lock file per directory (``.lock``; merges take milliseconds and happen a few
times an hour, so one lock per kind and user costs nothing and leaves no lock file per object), so two
fetches racing into the same hour both end up in it.
(flock is reliable on local filesystems; on NFS use the S3 store or one writer per user.)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from ..clock import Clock, SystemClock
from ..errors import MalformedRawObject, StoreError
from ..fsutil import fsync_dir
from .decode import encode_stored, parse_object
from .envelope import merge_envelopes
from .keys import QUARANTINE_PREFIX, stored_key, variant_keys
from .store import (
    RawObjectInfo,
    already_there,
    check_key,
    quarantine_key,
    reason_note,
    reason_sidecar_key,
    set_aside_key,
    set_aside_notice,
    sidecar_of,
    stream_digests,
    with_other_variant,
)

log = logging.getLogger(__name__)

_TEMP_PREFIX = ".tmp-"
_LOCK_NAME = ".lock"
# The etags (sha256) of the files listed before, with what says a file is unchanged (inode, mtime in
# ns, size: every write replaces the file, so a new inode), kept at the root: a run that lists a year
# of objects hashes only those that changed since, not every byte of the zone again. Hidden, so
# never listed; a cache only (lost or damaged: everything is hashed once more).
_ETAG_CACHE = ".etags.json"


class LocalRawStore:
    def __init__(self, root: Path, clock: Clock | None = None, compression: str = "gzip") -> None:
        self.root = root.expanduser().absolute()
        self.location = str(self.root)
        stored_key("x/0000000000.json", compression)  # refuses an unknown compression
        self.compression = compression
        self._clock: Clock = clock or SystemClock()
        # (inode, mtime_ns, size) -> sha256: every write replaces the file (new inode), so a hit is current.
        self._etags: dict[Path, tuple[tuple[int, int, int], str]] = {}
        self._etags_loaded = False
        self._etags_changed = False

    def __repr__(self) -> str:
        return f"LocalRawStore({self.location!r})"

    # --- reading ---------------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(
                f"could not read {path}: {exc.strerror}; check the folder's permissions"
            ) from None

    def open(self, key: str) -> IO[bytes] | None:
        path = self._path(key)
        try:
            return path.open("rb")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(
                f"could not read {path}: {exc.strerror}; check the folder's permissions"
            ) from None

    def list(self, prefix: str = "", accept: Callable[[str], bool] | None = None) -> Iterator[RawObjectInfo]:
        # Walk only the folder the prefix names (a run lists its few bookkeeping notes every poll,
        # not a year of objects); nothing under _quarantine/ is ever listed.
        folder = prefix.rpartition("/")[0]
        start = self.root.joinpath(*folder.split("/")) if folder else self.root
        if not start.is_dir() or (prefix + "/").startswith(QUARANTINE_PREFIX):
            return
        found: list[tuple[str, Path]] = []
        for dirpath, dirnames, filenames in os.walk(start, onerror=self._walk_error):
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            if rel_dir == ".":
                rel_dir = ""
                # Quarantined copies are not raw objects; hidden folders are not ours.
                dirnames[:] = [d for d in dirnames if d + "/" != QUARANTINE_PREFIX]
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if name.startswith("."):  # temp files, lock files, editor droppings
                    continue
                key = f"{rel_dir}/{name}" if rel_dir else name
                if key.startswith(prefix) and (accept is None or accept(key)):
                    found.append((key, Path(dirpath) / name))
        self._load_etags()
        infos: list[RawObjectInfo] = []
        for key, path in sorted(found):
            try:
                st = path.stat()
                etag = self._etag(path, st)
            except FileNotFoundError:
                continue  # removed by someone else while listing
            except OSError as exc:
                raise StoreError(
                    f"could not read {path}: {exc.strerror}; check the folder's permissions"
                ) from None
            infos.append(RawObjectInfo(key, st.st_size, etag))
        if accept is None and (not prefix or prefix.endswith("/")):
            # Every file under ``start`` was seen: the entries of files gone are dropped.
            seen = {path for _key, path in found}
            for gone in [p for p in self._etags if p not in seen and p.is_relative_to(start)]:
                del self._etags[gone]
                self._etags_changed = True
        self._save_etags()
        yield from infos

    def _etag(self, path: Path, st: os.stat_result) -> str:
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._etags.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        digest = _file_digest(path)[1]  # in chunks: a large file is never held in memory
        self._etags[path] = (stamp, digest)
        self._etags_changed = True
        return digest

    def _load_etags(self) -> None:
        if self._etags_loaded:
            return
        self._etags_loaded = True
        try:
            held = json.loads((self.root / _ETAG_CACHE).read_bytes())
            for rel, (ino, mtime_ns, size, digest) in held.items():
                self._etags.setdefault(self.root / rel, ((int(ino), int(mtime_ns), int(size)), str(digest)))
        except (OSError, ValueError, TypeError, AttributeError):
            return  # none yet, or damaged: hashed again, and written anew

    def _save_etags(self) -> None:
        if not self._etags_changed:
            return
        self._etags_changed = False
        entries = {}
        for path, (stamp, digest) in self._etags.items():
            try:
                rel = path.relative_to(self.root).as_posix()
            except ValueError:
                continue
            entries[rel] = [*stamp, digest]
        tmp = self.root / f"{_TEMP_PREFIX}{_ETAG_CACHE}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        try:
            tmp.write_bytes(json.dumps(entries, separators=(",", ":")).encode())
            os.replace(tmp, self.root / _ETAG_CACHE)  # no fsync: a cache, lost at worst
        except OSError:  # a read-only zone still lists; it hashes every run
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    @staticmethod
    def _walk_error(exc: OSError) -> None:
        raise StoreError(f"could not list {exc.filename}: {exc.strerror}; check the folder's permissions")

    # --- writing ---------------------------------------------------------------------------
    def merge(
        self, key: str, envelope: dict[str, Any], on_set_aside: Callable[[str], None] | None = None
    ) -> RawObjectInfo:
        """Merge into the hour's object at the variant ``compression`` names (``key`` is either
        variant). The other variant, when the hour has one (written before the setting changed), is
        read and its fetches join the union, but it is never changed or removed: no writer can lose
        what another one (with the other setting) adds there, and readers take both."""
        target = stored_key(key, self.compression)
        other = next(k for k in variant_keys(key) if k != target)
        path = self._path(target)
        self._ensure_dir(path.parent, target)
        with self._locked(path, target):
            old_bytes = self.get(target)
            old = None
            if old_bytes is not None:
                try:
                    old = parse_object(old_bytes, target)
                except MalformedRawObject as exc:
                    # Never overwrite what we cannot read (it may hold plays we do not understand),
                    # and never let it block the hour: move it aside, bytes intact, then land anew.
                    qkey = self._set_aside(target, old_bytes, exc.reason)
                    notice = set_aside_notice(target, qkey, exc.reason)
                    log.warning("%s", notice)
                    if on_set_aside is not None:
                        on_set_aside(notice)
                    old_bytes = None
            other_bytes = self.get(other)
            base = with_other_variant(old, other_bytes, other)
            merged = merge_envelopes(base, envelope)
            if old is not None and merged == old and old_bytes is not None:
                return RawObjectInfo(target, len(old_bytes), hashlib.sha256(old_bytes).hexdigest())
            if old is None and other_bytes is not None and base is not None and merged == base:
                # Nothing new, and all of it is in the other variant already: nothing written.
                return RawObjectInfo(other, len(other_bytes), hashlib.sha256(other_bytes).hexdigest())
            data = encode_stored(merged, self.compression)
            self._write_atomic(path, data, target)
            return RawObjectInfo(target, len(data), hashlib.sha256(data).hexdigest())

    def quarantine(self, key: str, reason: str) -> str:
        data = self.get(key)
        if data is None:
            raise StoreError(f"cannot quarantine {key}: there is no such object in {self.location}")
        qkey = quarantine_key(key)
        note = reason_note(key, reason, hashlib.sha256(data).hexdigest(), self._clock.now())
        for target_key, payload in ((qkey, data), (reason_sidecar_key(key), note)):
            target = self._path(target_key)
            self._ensure_dir(target.parent, target_key)
            self._write_atomic(target, payload, target_key)
        return qkey

    def _set_aside(self, key: str, data: bytes, reason: str) -> str:
        """Copy an unreadable object under ``_quarantine/`` (fsynced) before the caller replaces it:
        the replace is the second half of the move, so a crash between the two leaves both copies."""
        etag = hashlib.sha256(data).hexdigest()
        qkey = quarantine_key(key)
        held = self.get(qkey)
        if held is not None and held != data:
            qkey = set_aside_key(key, etag, taken=True)
        note = reason_note(key, reason, etag, self._clock.now(), moved=True)
        for target_key, payload in ((qkey, data), (sidecar_of(qkey), note)):
            target = self._path(target_key)
            self._ensure_dir(target.parent, target_key)
            self._write_atomic(target, payload, target_key)
        return qkey

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise self._write_error(exc, key, path.parent) from None

    def put_bytes(self, key: str, data: bytes) -> RawObjectInfo:
        return self.put_file(key, io.BytesIO(data))

    def put_file(self, key: str, src: IO[bytes]) -> RawObjectInfo:
        path = self._path(key)
        size, sha, _md5 = stream_digests(src)
        info = RawObjectInfo(key, size, sha)
        if not path.exists():
            self._ensure_dir(path.parent, key)
            if self._write_atomic(path, src, key, overwrite=False):
                return info
        try:
            held = _file_digest(path)
        except OSError as exc:
            raise StoreError(
                f"could not read {path}: {exc.strerror}; check the folder's permissions"
            ) from None
        if held != (size, sha):
            raise already_there(self.location, key)
        return info

    # --- helpers ---------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        try:
            check_key(key)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        return self.root.joinpath(*key.split("/"))

    def _ensure_dir(self, folder: Path, key: str) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._write_error(exc, key, folder) from None

    @contextmanager
    def _locked(self, path: Path, key: str) -> Iterator[None]:
        lock_path = path.with_name(_LOCK_NAME)
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise self._write_error(exc, key, path.parent) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def _write_atomic(self, path: Path, data: bytes | IO[bytes], key: str, *, overwrite: bool = True) -> bool:
        """Write a temp file, fsync it, then publish it at ``path`` in one step. With ``overwrite`` off
        the publish is a hard link, which fails if ``path`` exists, so a racing writer can never
        replace it: returns False then (nothing written)."""
        tmp = path.with_name(f"{_TEMP_PREFIX}{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                if isinstance(data, bytes):
                    _write_all(fd, data)
                else:  # a stream (an archived export): copied in chunks, never whole in memory
                    data.seek(0)
                    while chunk := data.read(1 << 20):
                        _write_all(fd, chunk)
                os.fsync(fd)
            finally:
                os.close(fd)
            if overwrite:
                os.replace(tmp, path)
            elif not _publish_once(tmp, path):
                return False
        except OSError as exc:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass  # the original error is the one to report; a stray temp file is skipped by list()
            raise self._write_error(exc, key, path.parent) from None
        fsync_dir(path.parent)
        return True

    def _write_error(self, exc: OSError, key: str, folder: Path) -> StoreError:
        code = exc.errno
        if code in (errno.ENOSPC, errno.EDQUOT):
            advice = f"the disk holding {folder} is full: free some space and run again"
        elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
            advice = (
                f"{folder} is not writable: make it writable for this user, or point "
                "SPOTIFY_PIPELINE_RAW_ZONE at a writable folder"
            )
        else:
            advice = f"check {folder} and run again"
        name = errno.errorcode.get(code or 0, "error")
        return StoreError(
            f"could not write {key} in {self.location} ({name}: {exc.strerror}); "
            f"the previous object is intact. {advice[0].upper()}{advice[1:]}"
        )


# Filesystems without hard links (FAT, some FUSE and SMB mounts) answer one of these to link().
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK}


def _publish_once(tmp: Path, path: Path) -> bool:
    """Move the finished temp file to ``path`` unless ``path`` exists; True if it was published."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        tmp.unlink(missing_ok=True)
        return False
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        # No hard links here: a rename after an existence check. Only a racing writer of the same
        # key slips through, and write-once keys are content-addressed, so it writes the same bytes.
        if path.exists():
            tmp.unlink(missing_ok=True)
            return False
        os.replace(tmp, path)
        return True
    tmp.unlink()
    return True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _file_digest(path: Path) -> tuple[int, str]:
    """(size, sha256 hex) of a file, read in 1 MiB chunks: an archived export is never loaded whole."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
