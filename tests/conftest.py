from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
THREAD_GRACE_SECONDS = 5.0  # a thread a test started may take this long to finish once the test is done


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


def threads_left(before: set[threading.Thread], grace_seconds: float) -> list[str]:
    """The names of the threads not in before that are still running once each had grace_seconds (in all)
    to finish."""
    deadline = time.monotonic() + grace_seconds
    for thread in set(threading.enumerate()) - before:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sorted(t.name for t in set(threading.enumerate()) - before if t.is_alive())


@pytest.fixture(autouse=True)
def _no_thread_left_running() -> Iterator[None]:
    """A test that leaves a thread running fails (as in watchdog's own suite): a thread it started must have
    finished, or finish within THREAD_GRACE_SECONDS, once the test is done."""
    before = set(threading.enumerate())
    yield
    left = threads_left(before, THREAD_GRACE_SECONDS)
    assert not left, f"the test left threads running: {', '.join(left)}"
