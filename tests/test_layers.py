"""The layers of docs/architecture.md hold: `lint-imports` checks the contracts in pyproject.toml
(faces -> jobs -> Spotify, raw zone, warehouse, exports -> transform -> base; the simulator only for
the CLI and the demo; faces hold no SQL; transform is pure)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import ROOT


def _lint_imports() -> str:
    # The venv running the tests first, then PATH: `make install-dev` puts it in the former.
    here = str(Path(sys.executable).parent)
    found = shutil.which("lint-imports", path=os.pathsep.join([here, os.environ.get("PATH", "")]))
    if found is None:
        pytest.fail(
            "lint-imports not found: install the dev extra (`make install-dev`, or "
            "`pip install -c constraints.txt import-linter`) so the layer contracts can be checked"
        )
    return found


def test_import_contracts_are_kept() -> None:
    # This worktree's source first, whatever copy of the package the venv has installed.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [_lint_imports(), "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"an import contract is broken:\n{done.stdout}\n{done.stderr}"
    assert "0 broken" in done.stdout, done.stdout
