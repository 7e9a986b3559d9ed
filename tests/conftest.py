from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared() -> Path:
    """The real LSI reference data in ../shared/lsi (never copied into the project)."""
    path = Path(os.environ.get("SIDECAR_SHARED_LSI", ROOT.parent / "shared" / "lsi"))
    if not (path / "LSI_ACS_header.csv").is_file():
        pytest.fail(f"the shared LSI reference data is missing at {path} (set SIDECAR_SHARED_LSI)")
    return path


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's SIDECAR_* variables or the repo's config.yaml."""
    for key in list(os.environ):
        if key.startswith("SIDECAR_") and key != "SIDECAR_SHARED_LSI":
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
