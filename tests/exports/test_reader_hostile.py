"""The reader under hostile input: every file and record is accounted
for, one bad record never stops the file, a zip bomb or a huge file is refused before it is read,
and memory stays flat whatever a record holds."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from spotify_pipeline.errors import MalformedRecord
from spotify_pipeline.exports import limits
from spotify_pipeline.exports.formats import ExportFormat
from spotify_pipeline.exports.jsonstream import BrokenFile, iter_json_array
from spotify_pipeline.exports.reader import FileReader, discover, sniff

GOOD = {
    "ts": "2024-03-01T08:15:12Z",
    "ms_played": 200_000,
    "spotify_track_uri": "spotify:track:" + "a" * 22,
    "master_metadata_track_name": "Song",
}


def _stream(data: bytes) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")


def _read(data: bytes, **kw: int) -> list:
    """Elements (MalformedRecord as ("bad", index, reason)), then ("broken", ...) if the file broke."""
    out: list = []
    try:
        for v in iter_json_array(_stream(data), "f.json", **kw):
            out.append(("bad", v.index, v.reason) if isinstance(v, MalformedRecord) else v)
    except BrokenFile as exc:
        out.append(("broken", exc.index, exc.reason, exc.record_lost))
    return out


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _extended(records: list[bytes]) -> bytes:
    return b"[" + b",\n".join(records) + b"]"


GOOD_BYTES = json.dumps(GOOD).encode()


# --- item 7: nothing is dropped silently -----------------------------------------------------------


def test_a_non_utf8_byte_is_one_malformed_record_with_its_offset_and_the_file_reads_on(
    tmp_path: Path,
) -> None:
    latin = json.dumps({**GOOD, "master_metadata_track_name": "Caf\u00e9"}, ensure_ascii=False).encode(
        "latin-1"
    )
    data = _extended([GOOD_BYTES, latin, GOOD_BYTES])
    path = _file(tmp_path, "Streaming_History_Audio_2024_0.json", data)
    (file,) = discover(path).files
    assert sniff(file).format is ExportFormat.EXTENDED  # a small file is not "unknown" for one byte
    reader = FileReader(file, ExportFormat.EXTENDED)
    out = list(reader)
    assert reader.problem is None and len(out) == 3
    bad = out[1]
    assert isinstance(bad, MalformedRecord) and bad.index == 1
    offset = data.index(b"\xe9")
    assert f"byte 0xE9 at offset {offset} is not UTF-8" in bad.reason
    assert not isinstance(out[2], MalformedRecord)


def test_a_non_utf8_byte_first_does_not_hide_the_file(tmp_path: Path) -> None:
    latin = json.dumps({**GOOD, "master_metadata_track_name": "\u00c9t\u00e9"}, ensure_ascii=False).encode(
        "latin-1"
    )
    path = _file(tmp_path, "export.json", _extended([latin, GOOD_BYTES]))
    (file,) = discover(path).files
    assert sniff(file).format is ExportFormat.EXTENDED


def test_a_file_that_is_not_utf8_text_is_unreadable_not_unknown(tmp_path: Path) -> None:
    path = _file(tmp_path, "Streaming_History_Audio_2024_0.json", "[]".encode("utf-16"))
    (file,) = discover(path).files
    sniffed = sniff(file)
    assert sniffed.status == "unreadable" and "byte 0xFF at offset 0 is not UTF-8" in (sniffed.problem or "")


def test_an_empty_file_named_as_history_is_unreadable_and_other_json_unknown(tmp_path: Path) -> None:
    (empty,) = discover(_file(tmp_path, "endsong_3.json", b"")).files
    (other,) = discover(_file(tmp_path, "Userdata.json", b'{"a": 1}')).files
    assert sniff(empty).status == "unreadable" and sniff(other).status == "unknown"


def test_text_after_the_closing_bracket_makes_the_file_partial(tmp_path: Path) -> None:
    data = _extended([GOOD_BYTES]) + b"\n" + _extended([GOOD_BYTES])
    (file,) = discover(_file(tmp_path, "endsong_0.json", data)).files
    reader = FileReader(file, ExportFormat.ENDSONG)
    out = list(reader)
    assert len(out) == 1 and not isinstance(out[0], MalformedRecord)  # no record invented
    assert reader.problem is not None
    assert f"text after the array's closing ']' at byte {len(_extended([GOOD_BYTES])) + 1}" in reader.problem


def test_two_zip_members_of_one_name_are_both_read(tmp_path: Path) -> None:
    archive = tmp_path / "my_spotify_data.zip"
    second = json.dumps({**GOOD, "ts": "2024-03-02T08:15:12Z"}).encode()
    with zipfile.ZipFile(archive, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("MyData/endsong_0.json", _extended([GOOD_BYTES]))
        zf.writestr("MyData/endsong_0.json", _extended([second]))
    files = discover(archive).files
    assert [f.name for f in files] == [
        f"{archive}/MyData/endsong_0.json",
        f"{archive}/MyData/endsong_0.json (member 2 of that name)",
    ]
    times = [r.ended_at.day for f in files for r in FileReader(f, ExportFormat.ENDSONG)]  # type: ignore[union-attr]
    assert times == [1, 2]


# --- item 10: zip bombs, huge members, huge records ---------------------------------------------------


def test_a_zip_bomb_member_is_refused_by_name_before_it_is_read(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("endsong_0.json", b"[" + b" " * (20 * 1024 * 1024) + b"]")  # 20 MB of spaces: ~1000x
        zf.writestr("endsong_1.json", _extended([GOOD_BYTES]))
    found = discover(archive)
    assert [f.name for f in found.files] == [f"{archive}/endsong_1.json"]
    ((name, reason),) = found.refused
    assert name == f"{archive}/endsong_0.json" and "a zip bomb?" in reason and "times" in reason


def test_a_member_larger_than_the_cap_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("spotify_pipeline.exports.reader.MAX_FILE_BYTES", 1000)
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("endsong_0.json", _extended([GOOD_BYTES] * 20))
    big = _file(tmp_path, "endsong_9.json", _extended([GOOD_BYTES] * 20))
    found = discover([archive, big])
    assert found.files == [] and [n for n, _ in found.refused] == [f"{archive}/endsong_0.json", str(big)]
    assert all("larger than" in r for _, r in found.refused)


def test_a_member_giving_more_bytes_than_it_declares_is_stopped(tmp_path: Path) -> None:
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("endsong_0.json", _extended([GOOD_BYTES] * 3))
    (file,) = discover(archive).files
    # Claim fewer bytes than the member holds: the stream refuses to read past the claim.
    shrunk = type(file)(file.name, file.size, file._open)
    from spotify_pipeline.exports import reader as r

    opened = shrunk._open()
    assert isinstance(opened, r._Capped)
    opened._left = 10
    with pytest.raises(r.FileTooLarge, match="more bytes than it declares"):
        opened.read()
    opened.close()


def test_a_huge_record_is_skipped_without_holding_it(tmp_path: Path) -> None:
    # One 40 MB string inside a record: skipped as malformed, the records around it read, and the
    # reader never holds more than a few chunks.
    path = tmp_path / "endsong_0.json"
    with path.open("wb") as fh:
        fh.write(b"[" + GOOD_BYTES + b', {"ts": "')
        for _ in range(40):
            fh.write(b'x\\"' * (1 << 18) + b"y" * (1 << 18))
        fh.write(b'"}, ' + GOOD_BYTES + b"]")
    (file,) = discover(path).files
    tracemalloc.start()
    out = list(FileReader(file, ExportFormat.ENDSONG))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [type(r).__name__ for r in out] == ["ExportRecord", "MalformedRecord", "ExportRecord"]
    assert "larger than" in out[1].reason and out[1].index == 1  # type: ignore[union-attr]
    assert peak < 8 * limits.MAX_RECORD_CHARS, peak


@pytest.mark.parametrize(
    ("element", "words"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
        (b'{"ms_played": ' + b"9" * 5000 + b"}", "number too long"),
        (b"-" + b"1" * 5000, "number too long"),
        (b'{"ts": "\\ud800", "ms_played": 1}', None),  # decodes: the parser's check names it
    ],
)
def test_one_pathological_record_is_skipped_and_the_next_ones_read(element: bytes, words: str | None) -> None:
    out = _read(_extended([GOOD_BYTES, element, GOOD_BYTES, GOOD_BYTES]), chunk_chars=4096)
    assert len(out) == 4 and out[0] == out[2] == out[3] == GOOD
    if words is not None:
        assert out[1][0] == "bad" and out[1][1] == 1 and words in out[1][2]


@pytest.mark.parametrize("chunk", [1, 5, 64, 1 << 20])
def test_bad_bytes_anywhere_are_found_at_their_exact_offset_and_the_file_reads_on(chunk: int) -> None:
    # Multi-byte characters and a BOM before the bad bytes: the offset counts bytes, not characters.
    named = json.dumps(
        {**GOOD, "master_metadata_track_name": "\u4e2d\u00e9 \U0001f3b5"}, ensure_ascii=False
    ).encode()
    bad_a = named.replace("\u00e9".encode(), b"\xe9")
    bad_b = GOOD_BYTES.replace(b"Song", b"So\xff\xfeng")
    data = b"\xef\xbb\xbf" + _extended([named] * 50 + [bad_a] + [named] * 50 + [bad_b, GOOD_BYTES])
    out = _read(data, chunk_chars=chunk)
    assert len(out) == 103 and all(o == json.loads(named) for o in out[:50] + out[51:101])
    at_e9, at_ff = data.index(b"\xe9"), data.index(b"\xff")
    assert out[50][:2] == ("bad", 50) and f"byte 0xE9 at offset {at_e9} " in out[50][2]
    assert out[101][:2] == ("bad", 101) and f"byte 0xFF at offset {at_ff} " in out[101][2]
    assert out[102] == GOOD
