"""The elements of a top-level JSON array, one at a time, from a text stream read in chunks.

The standard library has no incremental JSON parser, and ``json.load`` of a 12 MB export file costs
~10x its size in Python objects, so the reader holds one chunk of text and one record at a time.

One bad record never stops the file when its end can still be found: a record nested too deep for
the decoder, holding a number too long to convert, larger than ``MAX_RECORD_CHARS`` or holding bytes
that are not UTF-8 is skipped (scanned to its end by a small bracket-and-string scanner that drops
what it has passed, so a 1 GB string costs one chunk) and comes out as a ``MalformedRecord`` naming
its index and why. Only broken JSON syntax ends the file early (``BrokenFile``): after it, where the
next record starts cannot be known.

Bytes that are not UTF-8 are decoded with ``surrogateescape`` by the caller's text stream: each one
becomes a lone surrogate U+DC80..U+DCFF, which valid UTF-8 can never produce, so a record holding
one is found with a regex and reported with the byte's value and offset (the text is encoded back to
count bytes), never silently replaced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any

from ..errors import MalformedRecord
from .limits import CHUNK_CHARS, MAX_RECORD_CHARS

_WS = re.compile(r"[ \t\n\r]*")  # JSON's whitespace (``\s`` also matches what JSON does not allow)
_BAD = re.compile("[\udc80-\udcff]")  # a byte that was not UTF-8, as surrogateescape decodes it
_STRUCT = re.compile(r'["\[\]{}]')
# The rest of a JSON string up to its closing quote (or the buffer's end), escapes included: one
# C-level match per chunk, however many escapes the string holds. Possessive: a backtracking
# pattern keeps state per escape (32 MB per MiB of escapes, measured); this one keeps none.
_STRING_REST = re.compile(r'[^"\\]*+(?:\\.[^"\\]*+)*+', re.DOTALL)
_SCALAR_END = re.compile(r"[,\]}\s]")


class NotAJsonArray(Exception):
    """The file is not an array of records. ``readable`` is False when it is not even text (its first
    characters are bytes that are not UTF-8): then the file is unreadable, not merely unknown."""

    def __init__(self, reason: str, readable: bool = True, empty: bool = False) -> None:
        super().__init__(reason)
        self.readable = readable
        self.empty = empty


class BrokenFile(MalformedRecord):
    """The file cannot be read on from record ``index``. ``record_lost``: that record is lost (and
    counted malformed); False when every record was read and only text after the array remains."""

    def __init__(self, source: str, index: int, reason: str, record_lost: bool = True) -> None:
        super().__init__(source, index, reason)
        self.record_lost = record_lost


def nbytes(text: str) -> int:
    """The number of bytes ``text`` was decoded from (surrogateescape gives back the bad bytes)."""
    return len(text.encode("utf-8", "surrogateescape"))


def bad_byte(char: str) -> int:
    return ord(char) - 0xDC00


class _Buffer:
    """A window on the stream: ``buf[pos:]`` is what has not been consumed yet."""

    def __init__(self, stream: IO[str], chunk_chars: int) -> None:
        self.stream, self.chunk_chars = stream, chunk_chars
        self.buf, self.pos, self.eof = "", 0, False
        self.byte_base = 0  # the byte offset in the file of buf[0]
        self.has_bad = False  # some chunk held a byte that is not UTF-8

    def more(self) -> bool:
        """Drop the consumed text, append a chunk; False at the end of the stream."""
        if self.eof:
            return False
        chunk = self.stream.read(self.chunk_chars)
        if self.pos:
            self.byte_base += nbytes(self.buf[: self.pos])
        self.buf, self.pos = self.buf[self.pos :] + chunk, 0
        self.eof = not chunk
        if chunk and not self.has_bad and not chunk.isascii():
            # A strict encode fails exactly on a lone surrogate: 5x faster than searching for one
            # (measured: the regex took 5 ms per MiB of non-ASCII text).
            try:
                chunk.encode("utf-8")
            except UnicodeEncodeError:
                self.has_bad = True
        return bool(chunk)

    def peek(self) -> str | None:
        """The next character that is not whitespace (consuming the whitespace), None at the end."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return None

    def offset(self, index: int) -> int:
        """The byte offset in the file of ``buf[index]``."""
        return self.byte_base + nbytes(self.buf[:index])

    def bad_note(self, start: int, end: int) -> str | None:
        """ "byte 0xE9 at offset N is not UTF-8" for the first such byte in buf[start:end], if any."""
        if not self.has_bad:
            return None
        found = _BAD.search(self.buf, start, end)
        if found is None:
            return None
        return f"byte 0x{bad_byte(found.group()):02X} at offset {self.offset(found.start())} is not UTF-8"

    def skip_value(self) -> bool:
        """Move past the JSON value at ``pos`` without decoding it; False if the stream ends inside it."""
        if self.buf[self.pos] not in '[{"':  # a number or a literal: up to the next separator
            while (found := _SCALAR_END.search(self.buf, self.pos)) is None:
                self.pos = len(self.buf)
                if not self.more():
                    return True  # the stream ends the scalar; the caller finds no ']' after it
            self.pos = found.start()
            return True
        depth = 0
        while True:
            found = _STRUCT.search(self.buf, self.pos)
            if found is None:
                self.pos = len(self.buf)
                if not self.more():
                    return False
                continue
            char, self.pos = found.group(), found.end()
            if char == '"':
                if not self._skip_string_rest():
                    return False
                if depth == 0:
                    return True
                continue
            depth += 1 if char in "[{" else -1
            if depth == 0:
                return True

    def _skip_string_rest(self) -> bool:
        """Move past the closing quote of the string ``pos`` is inside; False if the stream ends first."""
        while True:
            self.pos = _STRING_REST.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) and self.buf[self.pos] == '"':
                self.pos += 1
                return True
            # At the buffer's end, or at a backslash whose escaped character is in the next chunk.
            if not self.more():
                return False


def iter_json_array(
    stream: IO[str],
    source: str,
    chunk_chars: int = CHUNK_CHARS,
    max_record_chars: int = MAX_RECORD_CHARS,
) -> Iterator[Any]:
    """Yield the elements of the top-level JSON array in ``stream`` one at a time, or for an element
    that cannot be decoded, the ``MalformedRecord`` saying why (the next one follows).

    Raises NotAJsonArray when the document does not start with ``[``, and BrokenFile when the JSON
    breaks (naming the element's index): what follows cannot be located reliably.
    """
    b = _Buffer(stream, chunk_chars)
    first = b.peek()
    if first == "\ufeff":  # a BOM, if some tool re-saved the file: not part of the first key
        b.pos += 1
        first = b.peek()
    if first != "[":
        if first is not None and _BAD.match(first):
            raise NotAJsonArray(f"not UTF-8 text ({b.bad_note(b.pos, b.pos + 1)})", readable=False)
        kind = "empty" if first is None else ("a JSON object" if first == "{" else "not a JSON array")
        raise NotAJsonArray(f"top level is {kind}, not an array of streams", empty=first is None)
    b.pos += 1
    index = 0
    if b.peek() == "]":
        b.pos += 1
        _check_end(b, source, index)
        return
    while True:
        yield _next_value(b, source, index, max_record_chars)
        index += 1
        sep = b.peek()
        if sep == ",":
            b.pos += 1
            continue
        if sep == "]":
            b.pos += 1
            _check_end(b, source, index)
            return
        where = "the file ends" if sep is None else f"byte {b.offset(b.pos)}"
        note = b.bad_note(b.pos, b.pos + 1)
        raise BrokenFile(
            source,
            index,
            f"invalid JSON: expected ',' or ']' after record {index - 1}, {where}"
            + (f" ({note})" if note else "")
            + "; the rest of the file was not read",
        )


_DECODER = json.JSONDecoder()


def _next_value(b: _Buffer, source: str, index: int, max_record_chars: int) -> Any:
    """The value at ``b.pos`` (consumed), or a MalformedRecord for a value skipped whole."""
    b.peek()  # raw_decode does not skip leading whitespace
    while True:
        try:
            value, end = _DECODER.raw_decode(b.buf, b.pos)
        except json.JSONDecodeError as exc:
            if len(b.buf) - b.pos > max_record_chars:
                return _skip(b, source, index, f"is larger than {max_record_chars:,} characters")
            if b.more():
                continue
            note = b.bad_note(exc.pos, exc.pos + 1)
            where = note or f"{exc.msg}, byte {b.offset(exc.pos)}"
            raise BrokenFile(
                source, index, f"invalid JSON ({where}); the rest of the file was not read"
            ) from None
        except RecursionError:
            return _skip(b, source, index, "is nested deeper than the JSON decoder goes")
        except ValueError:  # a number of more than sys.get_int_max_str_digits() digits
            return _skip(b, source, index, "holds a number too long to convert")
        # A value that ends exactly at the buffer's end may be a cut number: read on and decode again.
        if end < len(b.buf) or b.eof or not b.more():
            break
    note = b.bad_note(b.pos, end) if b.has_bad else None
    b.pos = end
    if note is not None:
        return MalformedRecord(
            source, index, f"{note}: the file is damaged or was re-saved in another encoding"
        )
    return value


def _skip(b: _Buffer, source: str, index: int, why: str) -> MalformedRecord:
    if not b.skip_value():
        raise BrokenFile(source, index, f"record {why} and the file ends inside it; not read")
    return MalformedRecord(source, index, f"record {why}: skipped")


def _check_end(b: _Buffer, source: str, index: int) -> None:
    if b.peek() is not None:
        raise BrokenFile(
            source,
            index,
            f"text after the array's closing ']' at byte {b.offset(b.pos)} was not read "
            "(two files pasted into one?)",
            record_lost=False,
        )
