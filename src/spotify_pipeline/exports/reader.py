"""Find the export files in a zip, a folder or a list of files, and stream their records.

Memory stays flat: a file is never loaded whole. Each JSON array is decoded element by element from
a text stream read in 1 MiB chunks (``jsonstream``), so the import holds one chunk of text and the
caller's batch of records at a time, whatever the size of the export.

Every JSON file ends in exactly one state (docs/import-history.md, "Files"): recognised and *read* to
its end, recognised but *partial* (it broke: the rest was not read), *unreadable* (too large, a zip
bomb, encrypted, not UTF-8 text, ...) or *unknown* (JSON that is not streaming history). Nothing is
dropped without being named.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from ..errors import MalformedRecord, PipelineError
from .fastread import decode_fast, read_capped
from .formats import (
    EmptyRecord,
    ExportFormat,
    ExportRecord,
    clean_extended,
    detect_format,
    format_from_name,
    latest_end,
    parse_fields,
    parse_record,
)  # fmt: skip
from .jsonstream import BrokenFile, NotAJsonArray, iter_json_array
from .limits import MAX_COMPRESSION_RATIO, MAX_FILE_BYTES, RATIO_FLOOR_BYTES
from .shapes import Fields

__all__ = [
    "BrokenFile", "Discovered", "EmptyRecord", "ExportFile", "ExportReadError", "FileReader", "NotAJsonArray",
    "Sniffed", "discover", "iter_json_array", "read_records", "sniff",
]  # fmt: skip

#: What reading a file (from disk or a zip member) can raise besides our own errors: I/O, a corrupt
#: or truncated member (CRC, deflate stream), a member cut short.
READ_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zipfile.BadZipFile, zlib.error)
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


class ExportReadError(PipelineError):
    """A path given to the import cannot be read at all (missing, not a zip, no JSON inside)."""


class FileTooLarge(OSError):
    """A stream gave more bytes than its file may hold (``MAX_FILE_BYTES`` or the zip's own size)."""


@dataclass(frozen=True)
class ExportFile:
    """One JSON file of an export, wherever it lives: a file, a zip member, or the copy an import
    archived in the raw zone (``rebuild``). ``name`` is what reports and errors show; ``_open``
    returns a fresh binary stream of the file's bytes on every call."""

    name: str
    size: int
    _open: Callable[[], IO[bytes]]

    @contextmanager
    def binary(self) -> Iterator[IO[bytes]]:
        """The file's bytes as stored, as a stream (the import archives each file before reading it)."""
        raw = self._open()
        try:
            yield raw
        finally:
            raw.close()

    @contextmanager
    def text(self) -> Iterator[IO[str]]:
        """The file as text. A byte that is not UTF-8 becomes a lone surrogate (surrogateescape), which
        ``jsonstream`` reports with its offset: never replaced silently, never the end of the file."""
        raw = self._open()
        try:
            yield io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape")
        finally:
            raw.close()


@dataclass(frozen=True)
class Discovered:
    files: list[ExportFile]
    ignored: list[str]  # not JSON (Read_Me_First.pdf, ...): listed, never read
    # JSON files refused before a byte was read (too large, a zip bomb, encrypted), with the reason.
    refused: list[tuple[str, str]] = field(default_factory=list)


def discover(paths: Path | Iterable[Path]) -> Discovered:
    """Every ``*.json`` under the given zip files, folders and files, in a stable order."""
    items = [paths] if isinstance(paths, Path) else list(paths)
    found = Discovered([], [], [])
    for path in items:
        if not path.exists():
            raise ExportReadError(
                f"{path}: no such file or folder; pass the zip Spotify sent, its folder or its JSON files"
            )
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                _add_path(child, found)
        else:
            _add_path(path, found, explicit=True)
    if not found.files and not found.refused:
        raise ExportReadError(
            f"no JSON file found in {', '.join(map(str, items))}: is this a Spotify data export?"
        )
    return found


def _add_path(path: Path, found: Discovered, explicit: bool = False) -> None:
    if path.suffix.lower() == ".zip":
        _add_zip(path, found)
    elif path.suffix.lower() == ".json" and not path.name.startswith("._"):
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            found.refused.append((str(path), _too_large(size)))
            return

        def opener(p: Path = path) -> IO[bytes]:
            return _Capped(open(p, "rb"), str(p), MAX_FILE_BYTES)  # type: ignore[return-value]

        found.files.append(ExportFile(str(path), size, opener))
    elif explicit:
        raise ExportReadError(f"{path}: not a .json or .zip file")
    else:
        found.ignored.append(str(path))


def _too_large(size: int) -> str:
    return (
        f"{size / 2**20:,.0f} MiB is larger than the {MAX_FILE_BYTES / 2**20:,.0f} MiB an export file may be "
        "(Spotify's are under 15 MB): not read"
    )


def _add_zip(path: Path, found: Discovered) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            # By position, not name: a zip may hold two members of one name, and each is read.
            members = sorted(enumerate(zf.infolist()), key=lambda m: (m[1].filename, m[0]))
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExportReadError(f"{path}: not a readable zip file ({exc}); download the export again") from None
    seen: dict[str, int] = {}
    for position, info in members:
        base = info.filename.rsplit("/", 1)[-1]
        if info.is_dir() or info.filename.startswith("__MACOSX/"):
            continue
        name = f"{path}/{info.filename}"
        if not info.filename.lower().endswith(".json") or base.startswith("._"):
            found.ignored.append(name)
            continue
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name += f" (member {seen[name]} of that name)"
        problem = _member_problem(info)
        if problem is not None:
            found.refused.append((name, problem))
            continue

        def opener(p: Path = path, at: int = position, label: str = name) -> IO[bytes]:
            # One ZipFile per member read, closed with the member: nothing stays open between files.
            zf = zipfile.ZipFile(p)
            try:
                member = zf.infolist()[at]
                inner = zf.open(member)
            except BaseException:
                zf.close()
                raise
            return _Capped(inner, label, min(member.file_size, MAX_FILE_BYTES), owner=zf)  # type: ignore[return-value]

        found.files.append(ExportFile(name, info.file_size, opener))


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member is refused before it is read (None: it may be read)."""
    if info.flag_bits & 0x1:
        return "encrypted in the zip: unzip it with your system's tool and import the folder"
    if info.compress_type not in _ZIP_METHODS:
        return (
            f"compressed with zip method {info.compress_type}, which Python cannot read: unzip it with your "
            "system's tool and import the folder"
        )
    if info.file_size > MAX_FILE_BYTES:
        return _too_large(info.file_size)
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_FLOOR_BYTES and ratio > MAX_COMPRESSION_RATIO:
        return (
            f"expands {ratio:,.0f} times ({info.compress_size:,} bytes to {info.file_size:,}), more than the "
            f"{MAX_COMPRESSION_RATIO} times a real export file does (a zip bomb?): not read"
        )
    return None


class _Capped(io.RawIOBase):
    """A file or zip member stream that refuses to give more than ``limit`` bytes, and closes the
    ZipFile it came from with it."""

    def __init__(self, inner: IO[bytes], name: str, limit: int, owner: zipfile.ZipFile | None = None) -> None:
        self._inner, self._name, self._left, self._owner = inner, name, limit, owner

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._inner.read(len(b))
        self._left -= len(data)
        if self._left < 0:
            raise FileTooLarge(
                f"{self._name} gives more bytes than it declares (or than an export file may hold)"
            )
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
            finally:
                if self._owner is not None:
                    self._owner.close()
        super().close()


# --- what a file is, and its records -------------------------------------------------------------

#: How many leading elements ``sniff`` looks through for a record to recognise the format by.
_SNIFF_ELEMENTS = 20


@dataclass(frozen=True)
class Sniffed:
    file: ExportFile
    format: ExportFormat | None
    problem: str | None = None  # why the file is unknown or unreadable
    readable: bool = True  # False: the file could not be read (unreadable), not merely unknown

    @property
    def status(self) -> str:
        if self.format is not None:
            return "recognised"
        return "unknown" if self.readable else "unreadable"


def sniff(file: ExportFile) -> Sniffed:
    """Open a file, look at its first records only, and say which format it is (or why it is unknown
    or unreadable). The first record that decodes decides: one bad first record does not hide a file."""
    first: Any = None
    try:
        with file.text() as stream:
            for n, element in enumerate(iter_json_array(stream, file.name)):
                if not isinstance(element, MalformedRecord) or n >= _SNIFF_ELEMENTS:
                    first = None if isinstance(element, MalformedRecord) else element
                    break
    except NotAJsonArray as exc:
        # An empty file named like streaming history is a lost file (a cut download), not someone else's.
        lost = exc.empty and format_from_name(file.name) is not None
        return Sniffed(file, None, str(exc), readable=exc.readable and not lost)
    except BrokenFile:
        pass  # broken before a record decoded: the name may still say what the file is
    except READ_ERRORS as exc:
        return Sniffed(file, None, f"could not be read ({_describe(exc)})", readable=False)
    fmt = detect_format(first, file.name)
    if fmt is None:
        keys = ", ".join(sorted(first)[:8]) if isinstance(first, dict) else "none"
        return Sniffed(file, None, f"records are not streaming history (keys: {keys})")
    return Sniffed(file, fmt)


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class FileReader:
    """Iterate over every record of ``file`` parsed as ``fmt``: an ExportRecord, or the
    MalformedRecord saying why not. After the iteration, ``problem`` says why the file was not read to
    its end (None: it was): broken JSON, text after the array, an I/O or zip error."""

    def __init__(self, file: ExportFile, fmt: ExportFormat, not_after: datetime | None = None) -> None:
        self.file, self.fmt, self.not_after = file, fmt, not_after
        self.problem: str | None = None

    def __iter__(self) -> Iterator[ExportRecord | MalformedRecord]:
        fields = self._decode_fast()
        if fields is not None:
            name, fmt, not_after = self.file.name, self.fmt, self.not_after
            if fmt.is_account:
                for index, raw in enumerate(fields):
                    yield _parse(raw, fmt, name, index, not_after, fields=True)
                return
            # Extended: a clean music record in a few operations, any other the exact way.
            latest = latest_end(not_after)
            for index, raw in enumerate(fields):
                rec = clean_extended(raw, fmt, name, index, latest)  # type: ignore[arg-type]
                yield rec if rec is not None else _parse(raw, fmt, name, index, not_after, fields=True)
            return
        yield from self._stream()

    def _decode_fast(self) -> list[Fields] | None:
        """The whole file decoded at once (``fastread``), or None: then it is streamed, exactly. A read
        error here is left to the streaming path, which names the record it happened at."""
        try:
            with self.file.binary() as raw:
                data = read_capped(raw, self.file.size)
        except READ_ERRORS:
            return None
        return None if data is None else decode_fast(data, self.fmt.is_account)

    def _stream(self) -> Iterator[ExportRecord | MalformedRecord]:
        count = 0
        name = self.file.name
        try:
            with self.file.text() as stream:
                for raw in iter_json_array(stream, name):
                    if isinstance(raw, MalformedRecord):
                        yield raw
                    else:
                        yield _parse(raw, self.fmt, name, count, self.not_after)
                    count += 1
        except BrokenFile as broken:
            self.problem = broken.reason
            if broken.record_lost:
                yield broken
        except READ_ERRORS as exc:
            self.problem = f"could not be read past record {count} ({_describe(exc)})"
            yield BrokenFile(name, count, f"{self.problem}; the rest of the file was not read")


def _parse(
    raw: Any, fmt: ExportFormat, name: str, index: int, not_after: datetime | None, *, fields: bool = False
) -> ExportRecord | MalformedRecord:
    """``parse_record`` (raw JSON) or, with ``fields``, ``parse_fields`` (the fast path's decoded
    fields): a record or its MalformedRecord, whatever went wrong with it."""
    try:
        if fields:
            return parse_fields(raw, fmt, name, index, not_after=not_after)
        return parse_record(raw, fmt, name, index, not_after=not_after)
    except MalformedRecord as bad:
        return bad
    except Exception as exc:  # noqa: BLE001 - one record's odd value must never stop the file
        return MalformedRecord(name, index, f"could not be parsed ({_describe(exc)})")


def read_records(
    file: ExportFile, fmt: ExportFormat, not_after: datetime | None = None
) -> Iterator[ExportRecord | MalformedRecord]:
    """Every record of ``file`` parsed as ``fmt`` (``FileReader`` without the file's problem)."""
    yield from FileReader(file, fmt, not_after)
