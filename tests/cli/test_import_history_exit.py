"""`import-history` exit codes and what it says: 0 when everything was
imported, 3 when a file or record was left out (named, with what to do), 1 on failure, 130 on Ctrl-C;
always one line per problem and never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from spotify_pipeline.cli.main import app
from spotify_pipeline.jobs import import_history as job

runner = CliRunner()


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("SPOTIFY_PIPELINE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SPOTIFY_PIPELINE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setenv("SPOTIFY_PIPELINE_RAW_ZONE", str(tmp_path / "raw"))
    monkeypatch.setenv("SPOTIFY_PIPELINE_USER", "alice")
    monkeypatch.setenv("SPOTIFY_PIPELINE_TOKEN_FILE", str(tmp_path / "tokens.json"))
    assert runner.invoke(app, ["init"]).exit_code == 0  # only init creates the warehouse
    return tmp_path


def _record(minute: int, **change: Any) -> bytes:
    rec = {
        "ts": f"2024-03-01T08:{minute:02d}:00Z",
        "ms_played": 200_000,
        "spotify_track_uri": "spotify:track:" + f"{minute:02d}".rjust(22, "a"),
        "master_metadata_track_name": f"Song {minute}",
        **change,
    }
    return json.dumps(rec).encode()


def _export(folder: Path, *files: tuple[str, bytes]) -> Path:
    folder.mkdir()
    for name, data in files:
        (folder / name).write_bytes(data)
    return folder


def _assert_no_traceback(output: str) -> None:
    assert "Traceback" not in output and 'File "' not in output, output


def test_a_complete_import_exits_0(env: Path) -> None:
    export = _export(env / "export", ("endsong_0.json", b"[" + _record(1) + b"," + _record(2) + b"]"))
    result = runner.invoke(app, ["import-history", str(export)])
    assert result.exit_code == 0, result.output
    _assert_no_traceback(result.output)


def test_a_file_with_a_bad_byte_or_trailing_text_exits_3_naming_the_file(env: Path) -> None:
    latin = _record(3).replace(b"Song 3", "Caf\u00e9 [s3]".encode("latin-1"))
    export = _export(
        env / "exp[old]",
        ("endsong_0.json", b"[" + _record(1) + b"," + latin + b"]"),
        ("endsong_1.json", b"[" + _record(2) + b"]\n[" + _record(4) + b"]"),
    )
    result = runner.invoke(app, ["import-history", str(export)])
    assert result.exit_code == 3, result.output
    _assert_no_traceback(result.output)
    err = result.stderr
    # Rich markup in names is shown as is, not eaten.
    assert f"partial file: {export}/endsong_1.json: 1 records read, then text after" in err
    assert f"malformed: {export}/endsong_0.json record 1: byte 0xE9 at offset" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("partial: not everything was imported: 1 file(s) read only in part, 1 malformed")
    assert "import it again" in last


def test_json_output_stays_parseable_and_still_exits_3(env: Path) -> None:
    export = _export(
        env / "export",
        ("endsong_0.json", b"[" + _record(1) + b"," + _record(2, ts="9999-01-01T00:00:00Z") + b"]"),
    )
    result = runner.invoke(app, ["import-history", str(export), "--json"])
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert report["status"] == "partial" and report["malformed"] == 1 and report["files_read"] == 1


def test_a_zip_bomb_is_named_and_exits_3(env: Path) -> None:
    import zipfile

    archive = env / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("endsong_0.json", b"[" + _record(1) + b"]")
        zf.writestr("endsong_1.json", b"[" + b" " * (8 * 1024 * 1024) + b"]")
    result = runner.invoke(app, ["import-history", str(archive)])
    assert result.exit_code == 3, result.output
    assert f"unreadable file: {archive}/endsong_1.json: expands" in result.stderr


def test_ctrl_c_says_one_line_and_exits_130(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    export = _export(env / "export", ("endsong_0.json", b"[" + _record(1) + b"]"))

    def interrupted(self: job.BatchImporter, engine: Any, batch: list, fmt: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(job.BatchImporter, "flush", interrupted)
    result = runner.invoke(app, ["import-history", str(export)])
    assert result.exit_code == 130, result.output
    _assert_no_traceback(result.output)
    assert result.stderr.strip() == (
        "interrupted: import interrupted after 1 records; nothing half-written: run it again"
    )


def test_a_failure_exits_1_with_one_line(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    export = _export(env / "export", ("endsong_0.json", b"[" + _record(1) + b"]"))

    def broken(self: job.BatchImporter, engine: Any, batch: list, fmt: Any) -> None:
        raise RuntimeError("the disk caught fire\nsecond line")

    monkeypatch.setattr(job.BatchImporter, "flush", broken)
    result = runner.invoke(app, ["import-history", str(export)])
    assert result.exit_code == 1
    _assert_no_traceback(result.output)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: import 1 failed after 1 records (RuntimeError: the disk caught fire)")
