from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from spotify_pipeline.errors import ConfigError
from spotify_pipeline.landing import open_store
from spotify_pipeline.settings import Settings


def test_the_core_does_not_import_boto3(tmp_path: Path) -> None:
    # A folder raw zone must work with only the core installed: boto3 is loaded for S3 alone.
    code = (
        "import sys; from pathlib import Path; from spotify_pipeline.landing import open_store; "
        "from spotify_pipeline.settings import Settings; "
        f"open_store(Settings(raw_zone={str(tmp_path)!r})); print('boto3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_s3_without_boto3_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # makes `import boto3` fail
    monkeypatch.delitem(sys.modules, "spotify_pipeline.landing.s3", raising=False)
    with pytest.raises(ConfigError, match=r"SPOTIFY_PIPELINE_RAW_ZONE.*pip install 'spotify-pipeline\[s3\]'"):
        open_store(Settings(raw_zone="s3://bucket/prefix"))
