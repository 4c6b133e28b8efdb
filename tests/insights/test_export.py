"""`export plays`: every play with all its artists in order, album and source, in four formats,
streamed; an existing file is refused without --force; one-line errors for bad input."""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from spotify_pipeline.cli.main import app
from spotify_pipeline.insights import playlog
from spotify_pipeline.insights.export import export_plays
from spotify_pipeline.insights.period import InsightsError
from spotify_pipeline.insights.queries import Scope

from .conftest import add_plays, add_track

A1, FEAT, T1, ALB = "1" * 22, "3" * 22, "4" * 22, "6" * 22
END = datetime(2026, 11, 2, 12, 0, 0, 500_000, tzinfo=UTC)


@pytest.fixture()
def filled(engine: Engine) -> Engine:
    add_track(engine, T1, "Halo <b>", [(A1, "Beyoncé"), (FEAT, "Guest")], (ALB, "I Am"), 240_000)
    add_plays(engine, "u", [
        {"played_at": END, "track_id": T1},
        {"played_at": datetime(2026, 11, 3, tzinfo=UTC), "track_id": T1, "source": "export", "ms_played": 61_000,
         "skipped": True, "started_at": datetime(2026, 11, 2, 23, 58, 59, tzinfo=UTC)},
        {"played_at": datetime(2026, 11, 4, tzinfo=UTC), "track_name": "Names Only", "artist_name": "Someone",
         "album_name": "Alb", "source": "export", "ms_played": 30_000},
        {"played_at": datetime(2026, 11, 5, tzinfo=UTC), "source": "export", "ms_played": 30_000},  # no names
    ])  # fmt: skip
    add_plays(engine, "v", [{"played_at": END, "track_id": T1}])
    return engine


def test_csv_and_jsonl(filled: Engine, tmp_path: Path) -> None:
    out = tmp_path / "plays.csv"
    result = export_plays(filled, Scope("u"), "csv", out)
    assert result.plays == 4 and not (tmp_path / "plays.csv.partial").exists()
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert rows[0]["artists"] == "Beyoncé; Guest" and rows[0]["artist_ids"] == f"{A1};{FEAT}"
    assert (
        rows[0]["album_name"] == "I Am" and rows[0]["source"] == "api" and rows[0]["track_name"] == "Halo <b>"
    )
    assert rows[0]["played_at"] == "2026-11-02T12:00:00.500000+00:00"
    assert rows[2]["artists"] == "Someone" and rows[2]["track_id"] == ""
    with pytest.raises(InsightsError, match="exists: choose another --out or pass --force"):
        export_plays(filled, Scope("u"), "csv", out)
    assert export_plays(filled, Scope(None), "jsonl", tmp_path / "p.jsonl").plays == 5
    lines = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 5 and lines[1]["artists"] == ["Beyoncé", "Guest"] and lines[1]["skipped"] is True
    assert [r["user"] for r in lines] == ["u", "u", "u", "u", "v"]
    period = Scope("u", datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC))
    assert export_plays(filled, period, "jsonl", tmp_path / "p.jsonl", force=True).plays == 1


def test_listenbrainz(filled: Engine, tmp_path: Path) -> None:
    out = tmp_path / "lb.jsonl"
    result = export_plays(filled, Scope("u"), "listenbrainz", out)
    assert (result.plays, result.skipped) == (3, 1)  # the play without names cannot be a listen
    listens = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    first = listens[0]
    assert first["listened_at"] == int(END.timestamp()) - 240  # the start: end minus the track's length
    assert listens[1]["listened_at"] == int(datetime(2026, 11, 2, 23, 58, 59, tzinfo=UTC).timestamp())
    meta = first["track_metadata"]
    assert (meta["artist_name"], meta["track_name"], meta["release_name"]) == (
        "Beyoncé, Guest",
        "Halo <b>",
        "I Am",
    )
    info = meta["additional_info"]
    assert info["spotify_id"] == f"https://open.spotify.com/track/{T1}"
    assert info["spotify_album_id"] == f"https://open.spotify.com/album/{ALB}"
    assert info["spotify_artist_ids"] == [
        f"https://open.spotify.com/artist/{A1}",
        f"https://open.spotify.com/artist/{FEAT}",
    ]
    assert info["duration_ms"] == 240_000 and info["submission_client"] == "spotify-pipeline"
    assert listens[2]["track_metadata"]["additional_info"].keys() == {
        "media_player",
        "music_service",
        "submission_client",
    }


def test_parquet(filled: Engine, tmp_path: Path) -> None:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        if os.environ.get("CI"):
            raise  # CI installs the dev extra, which holds pyarrow: the test must run there
        pytest.skip("pyarrow is not installed (pip install 'spotify-pipeline[parquet]')")
    out = tmp_path / "p.parquet"
    assert export_plays(filled, Scope("u"), "parquet", out).plays == 4
    table = pq.read_table(out)
    assert table.num_rows == 4 and table.column("artists").to_pylist()[0] == ["Beyoncé", "Guest"]
    assert table.column("played_at").to_pylist()[0] == END.replace(microsecond=500_000)


def test_parquet_without_pyarrow_names_the_extra(
    filled: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real = builtins.__import__

    def no_pyarrow(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(InsightsError, match=r"spotify-pipeline\[parquet\]"):
        export_plays(filled, Scope("u"), "parquet", tmp_path / "p.parquet")
    assert not (tmp_path / "p.parquet").exists()


def test_streams_in_batches(filled: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The query runs with a server-side cursor / yield_per, so rows arrive in batches."""
    seen: list[dict[str, object]] = []
    real = playlog.Connection.execution_options

    def spy(self, **opts):  # type: ignore[no-untyped-def]
        seen.append(opts)
        return real(self, **opts)

    monkeypatch.setattr(playlog.Connection, "execution_options", spy)
    with filled.connect() as conn:
        rows = playlog.iter_plays(conn, Scope("u"))
        assert next(rows).track_id == T1
        rows.close()  # a consumer that stops early closes the cursor
    assert {"stream_results": True, "yield_per": playlog.BATCH} in seen


def test_cli_export_and_errors(
    filled: Engine, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPOTIFY_PIPELINE_WAREHOUSE_URL", url)
    monkeypatch.setenv("SPOTIFY_PIPELINE_USER", "u")
    runner = CliRunner()
    out = tmp_path / "x.csv"
    ok = runner.invoke(app, ["export", "plays", "--format", "csv", "--out", str(out), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["plays"] == 4
    for args, message in [
        (["--format", "csv", "--out", str(out)], "exists: choose another --out or pass --force"),
        (["--format", "xml", "--out", str(tmp_path / "y")], "unknown export format 'xml'"),
        (["--format", "csv", "--out", str(tmp_path / "y"), "--from", "2026-02-30"], "--from '2026-02-30' is not a date"),
        (["--format", "csv", "--out", str(tmp_path / "y"), "--user", "zed"], "unknown user 'zed'"),
    ]:  # fmt: skip
        bad = runner.invoke(app, ["export", "plays", *args])
        assert bad.exit_code == 1 and message in bad.output, bad.output
        assert len(bad.output.strip().splitlines()) == 1 and "Traceback" not in bad.output
    every = runner.invoke(
        app, ["export", "plays", "--format", "jsonl", "--out", str(tmp_path / "all.jsonl"), "--user", "*"]
    )
    assert every.exit_code == 0 and len((tmp_path / "all.jsonl").read_text().splitlines()) == 5


def test_a_failed_export_leaves_no_file_and_says_why(
    filled: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spotify_pipeline.insights import export as module

    def full_disk(rows: object, path: Path) -> tuple[int, int]:
        path.write_text("half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module, "_csv", full_disk)
    out = tmp_path / "o.csv"
    with pytest.raises(InsightsError, match=r"cannot write .*o\.csv: No space left on device"):
        export_plays(filled, Scope("u"), "csv", out)
    assert not out.exists() and not (tmp_path / "o.csv.partial").exists()
