"""Find the export files in a zip, a folder or a list of files, and stream their records.

Memory stays flat: a file is never loaded whole. Each JSON array is decoded element by element from
a text stream read in 1 MiB chunks (the standard library has no incremental JSON parser, and
``json.load`` of a 12 MB export file costs ~10x its size in Python objects), so the import holds one
chunk of text and the caller's batch of records at a time, whatever the size of the export.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import MalformedRecord, PipelineError
from .formats import ExportFormat, ExportRecord, detect_format, parse_record
from .limits import check_zip_member

CHUNK_CHARS = 1 << 20
# A streaming-history record is under 2 KB; a "record" that has not closed after this much text is
# broken JSON, and reading on would pull the rest of the file into memory.
_MAX_RECORD_CHARS = 4 * CHUNK_CHARS
_WS = re.compile(r"\s*")


class ExportReadError(PipelineError):
    """A path given to the import cannot be read at all (missing, not a zip, no JSON inside)."""


class NotAJsonArray(Exception):
    """The file is JSON (or not) but not an array of records: an unknown file, reported as such."""


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
    def text(self, on_bytes: Callable[[int], None] | None = None) -> Iterator[IO[str]]:
        raw: IO[bytes] = self._open()
        if on_bytes is not None:
            raw = _Counting(raw, on_bytes)  # type: ignore[assignment]
        try:
            # utf-8-sig: a BOM, if some tool re-saved the file, is not part of the first key.
            yield io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict")
        finally:
            raw.close()


@dataclass(frozen=True)
class Discovered:
    files: list[ExportFile]
    ignored: list[str]  # not JSON (Read_Me_First.pdf, ...): listed, never read


def discover(paths: Path | Iterable[Path]) -> Discovered:
    """Every ``*.json`` under the given zip files, folders and files, in a stable order."""
    items = [paths] if isinstance(paths, Path) else list(paths)
    files: list[ExportFile] = []
    ignored: list[str] = []
    for path in items:
        if not path.exists():
            raise ExportReadError(
                f"{path}: no such file or folder; pass the zip Spotify sent, its folder or its JSON files"
            )
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                _add_path(child, files, ignored)
        else:
            _add_path(path, files, ignored, explicit=True)
    if not files:
        raise ExportReadError(
            f"no JSON file found in {', '.join(map(str, items))}: is this a Spotify data export?"
        )
    return Discovered(files, ignored)


def _add_path(path: Path, files: list[ExportFile], ignored: list[str], explicit: bool = False) -> None:
    if path.suffix.lower() == ".zip":
        _add_zip(path, files, ignored)
    elif path.suffix.lower() == ".json" and not path.name.startswith("._"):
        files.append(ExportFile(str(path), path.stat().st_size, lambda p=path: open(p, "rb")))  # type: ignore[misc]
    elif explicit:
        raise ExportReadError(f"{path}: not a .json or .zip file")
    else:
        ignored.append(str(path))


def _add_zip(path: Path, files: list[ExportFile], ignored: list[str]) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            members = sorted(zf.infolist(), key=lambda i: i.filename)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExportReadError(f"{path}: not a readable zip file ({exc}); download the export again") from None
    for info in members:
        base = info.filename.rsplit("/", 1)[-1]
        if info.is_dir() or info.filename.startswith("__MACOSX/"):
            continue
        if not info.filename.lower().endswith(".json") or base.startswith("._"):
            ignored.append(f"{path}/{info.filename}")
            continue
        check_zip_member(path, info)  # a zip bomb is refused before a byte of it is read

        def opener(p: Path = path, member: str = info.filename) -> IO[bytes]:
            # One ZipFile per member read, closed with the member: nothing stays open between files.
            zf = zipfile.ZipFile(p)
            inner = zf.open(member)
            return _Closing(inner, zf)  # type: ignore[return-value]

        files.append(ExportFile(f"{path}/{info.filename}", info.file_size, opener))


class _Counting(io.RawIOBase):
    """Reports the bytes read from a stream (the progress bar moves as the file is read)."""

    def __init__(self, inner: IO[bytes], on_bytes: Callable[[int], None]) -> None:
        self._inner, self._on_bytes = inner, on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._inner.read(len(b))
        b[: len(data)] = data
        if data:
            self._on_bytes(len(data))
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()


class _Closing(io.RawIOBase):
    """A zip member stream that also closes its ZipFile."""

    def __init__(self, inner: IO[bytes], owner: zipfile.ZipFile) -> None:
        self._inner, self._owner = inner, owner

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._inner.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
            self._owner.close()
        super().close()


# --- streaming JSON array ------------------------------------------------------------------------


def iter_json_array(stream: IO[str], source: str, chunk_chars: int = CHUNK_CHARS) -> Iterator[Any]:
    """Yield the elements of the top-level JSON array in ``stream`` one at a time.

    Raises NotAJsonArray when the document does not start with ``[``, and MalformedRecord (naming the
    element's index) when the JSON breaks mid-array: what follows cannot be located reliably.
    """
    decoder = json.JSONDecoder()
    buf, pos, eof = "", 0, False

    def more() -> bool:
        nonlocal buf, pos, eof
        if eof:
            return False
        chunk = stream.read(chunk_chars)
        buf, pos = buf[pos:] + chunk, 0
        eof = not chunk
        return bool(chunk)

    def peek() -> str | None:
        nonlocal pos
        while True:
            pos = _WS.match(buf, pos).end()  # type: ignore[union-attr]
            if pos < len(buf):
                return buf[pos]
            if not more():
                return None

    try:
        first = peek()
    except UnicodeDecodeError as exc:
        raise NotAJsonArray(f"not UTF-8 text ({exc.reason})") from None
    if first != "[":
        kind = "empty" if first is None else ("a JSON object" if first == "{" else "not a JSON array")
        raise NotAJsonArray(f"top level is {kind}, not an array of streams")
    pos += 1
    index = 0
    if peek() == "]":
        return
    while True:
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                if len(buf) - pos > _MAX_RECORD_CHARS or not more():
                    raise MalformedRecord(
                        source, index, f"invalid JSON ({exc.msg}); the rest of the file is unreadable"
                    ) from None
                continue
            # A value that ends exactly at the buffer's end may be a cut number: read on and decode again.
            if end < len(buf) or eof or not more():
                break
        pos = end
        yield value
        index += 1
        sep = peek()
        if sep == ",":
            pos += 1
            peek()
            continue
        if sep == "]":
            return
        raise MalformedRecord(
            source,
            index,
            "invalid JSON (expected ',' or ']' after a record); the rest of the file is unreadable",
        )


# --- what a file is, and its records -------------------------------------------------------------


@dataclass(frozen=True)
class Sniffed:
    file: ExportFile
    format: ExportFormat | None
    problem: str | None = None  # why the file is unknown


def sniff(file: ExportFile) -> Sniffed:
    """Open a file, look at its first record only, and say which format it is (or why it is unknown)."""
    try:
        with file.text() as stream:
            elements = iter_json_array(stream, file.name)
            first = next(elements, None)
    except NotAJsonArray as exc:
        return Sniffed(file, None, str(exc))
    except MalformedRecord:
        first = None  # broken first record: the name may still say what the file is
    except UnicodeDecodeError as exc:
        return Sniffed(file, None, f"not UTF-8 text ({exc.reason})")
    fmt = detect_format(first, file.name)
    if fmt is None:
        keys = ", ".join(sorted(first)[:8]) if isinstance(first, dict) else "none"
        return Sniffed(file, None, f"records are not streaming history (keys: {keys})")
    return Sniffed(file, fmt)


def read_records(
    file: ExportFile, fmt: ExportFormat, on_bytes: Callable[[int], None] | None = None
) -> Iterator[ExportRecord | MalformedRecord]:
    """Every record of ``file`` parsed as ``fmt``: an ExportRecord, or the MalformedRecord saying why
    not. A JSON syntax error ends the file with one MalformedRecord for the record where it broke."""
    count = 0
    try:
        with file.text(on_bytes) as stream:
            for raw in iter_json_array(stream, file.name):
                try:
                    yield parse_record(raw, fmt, file.name, count)
                except MalformedRecord as bad:
                    yield bad
                count += 1
    except MalformedRecord as broken:
        yield broken
    except UnicodeDecodeError as exc:
        yield MalformedRecord(
            file.name, count, f"not UTF-8 text ({exc.reason}); the rest of the file is unreadable"
        )
