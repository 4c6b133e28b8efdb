"""Streaming reads: zips, folders, broken JSON, flat memory."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from spotify_pipeline.errors import MalformedRecord
from spotify_pipeline.exports.reader import ExportReadError, NotAJsonArray, discover, iter_json_array

from .conftest import EXPORT_FIXTURES


def test_zip_members_are_found_and_non_json_ignored(tmp_path: Path) -> None:
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(EXPORT_FIXTURES / "endsong_0.json", "MyData/endsong_0.json")
        zf.writestr("MyData/ReadMeFirst.pdf", b"%PDF-1.4")
        zf.writestr("__MACOSX/MyData/._endsong_0.json", b"\x00")
    found = discover(archive)
    assert [f.name for f in found.files] == [f"{archive}/MyData/endsong_0.json"]
    assert found.ignored == [f"{archive}/MyData/ReadMeFirst.pdf"]
    with found.files[0].text() as stream:
        assert len(list(iter_json_array(stream, "x"))) == 5


def test_missing_path_and_empty_folder_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ExportReadError, match="no such file"):
        discover(tmp_path / "nope.zip")
    with pytest.raises(ExportReadError, match="no JSON file"):
        discover(tmp_path)


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1 << 20])
def test_array_is_decoded_across_any_chunk_boundary(chunk: int) -> None:
    data = [{"a": 1, "s": "x,]}"}, 12345, [1, 2], "str", None, {"n": -1.5e3}]
    text = "\ufeff" if False else "  " + json.dumps(data, indent=1) + "\n"
    assert list(iter_json_array(io.StringIO(text), "f", chunk_chars=chunk)) == data


def test_broken_json_names_the_record_where_it_broke() -> None:
    text = '[{"a": 1}, {"a": 2}, {"a": ]'
    out = []
    with pytest.raises(MalformedRecord) as err:
        for v in iter_json_array(io.StringIO(text), "f.json", chunk_chars=4):
            out.append(v)
    assert out == [{"a": 1}, {"a": 2}] and err.value.index == 2


def test_not_an_array() -> None:
    with pytest.raises(NotAJsonArray, match="JSON object"):
        list(iter_json_array(io.StringIO('{"a": 1}'), "f"))
    with pytest.raises(NotAJsonArray, match="empty"):
        list(iter_json_array(io.StringIO("   "), "f"))


def test_memory_stays_flat_for_a_large_array(tmp_path: Path) -> None:
    # ~20 MB of records: a json.load would hold ~10x that; the stream holds a chunk and a record.
    path = tmp_path / "big.json"
    record = json.dumps({"ts": "2024-01-01T00:00:00Z", "ms_played": 1, "pad": "x" * 180})
    with path.open("w") as fh:
        fh.write("[" + ",\n".join([record] * 100_000) + "]")
    tracemalloc.start()
    with path.open() as fh:
        n = sum(1 for _ in iter_json_array(fh, "big.json"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 100_000
    assert peak < 8 * 1024 * 1024, peak
