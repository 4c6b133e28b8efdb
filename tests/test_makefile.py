"""`make clean` never deletes collected data: the default raw zone, warehouse and token file live
under ./data, and a cron line may run inside the checkout."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tests.conftest import ROOT

from spotify_pipeline.settings import Settings


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_clean_keeps_collected_data_and_removes_the_demo(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    defaults = Settings.model_fields
    kept = [
        Path(str(defaults["raw_zone"].default)) / "recently_played" / "2026120110.json",
        Path(defaults["warehouse_url"].default.get_secret_value().removeprefix("sqlite:///")),
        Path(str(defaults["token_file"].default)),
    ]
    for path in kept:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("collected")
    (tmp_path / "data" / "demo" / "raw").mkdir(parents=True)
    (tmp_path / ".venv").mkdir()
    result = subprocess.run(
        ["make", "clean", "VENV=.venv"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    for path in kept:
        assert (tmp_path / path).read_text() == "collected", path
    assert not (tmp_path / "data" / "demo").exists()
    assert not (tmp_path / ".venv").exists()
