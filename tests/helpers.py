"""Shared test tools: writing books, running the CLI, and the invariant every scenario must keep."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sidecar.rows.columns import COLUMNS

import invariants

ROOT = Path(__file__).resolve().parents[1]


def isbn13(n: int) -> str:
    """A valid ISBN-13 (978 prefix, correct check digit) for book number n."""
    first12 = f"9781{n:08d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


def book(n: int, **fields: Any) -> dict[str, Any]:
    data = {
        "title": f"Book {n}",
        "author": f"Author {n}",
        "publisher": "Test Press",
        "imprint": "Test Imprint",
        "publication_date": "2026-01-06",
        "language": "English",
        "keywords": "one; two; three",
        "isbn13": isbn13(n),
        "page_count": 100 + n,
    }
    data.update(fields)
    return data


def write_book(folder: Path, name: str, data: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(data, ensure_ascii=False, indent=4), encoding="utf-8")
    return path


def write_in_place_with_pauses(path, data, pieces=4, pause=0.05):
    text = json.dumps(data, indent=4)
    step = len(text) // pieces + 1
    with open(path, "w") as f:  # the pipeline's plain open(path, 'w') + json.dump, slowed down
        for i in range(0, len(text), step):
            f.write(text[i:i + step])
            f.flush()
            time.sleep(pause)


def write_by_rename(path, data):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def rename_in_from_elsewhere(path, data):
    other = path.parent.parent / "elsewhere"
    other.mkdir(exist_ok=True)
    (other / path.name).write_text(json.dumps(data))
    os.rename(other / path.name, path)


def write_config(path: Path, watch: Path, **extra: Any) -> Path:
    import yaml

    settings = {"watch": [str(watch)], "checkpoint_dir": str(path.parent / "data")}
    for key, value in extra.items():
        if isinstance(value, dict):
            settings.setdefault(key, {}).update(value)
        else:
            settings[key] = value
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


def checkpoints(folder: Path) -> list[Path]:
    return sorted(folder.glob("cumulative_checkpoint_*.csv"))


def read_rows(path: Path) -> list[list[str]]:
    """Every record after the header, parsed by Python's csv module (raises on a malformed file)."""
    text = path.read_bytes().decode("utf-8-sig")
    records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    assert records[0] == list(COLUMNS)
    return records[1:]


def cell(row: list[str], column: str) -> str:
    return row[COLUMNS.index(column)]


def run_child(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "sidecar", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)


def check_invariants(folder: Path, checkpoint_dir: Path, complete: bool = True, **more: Any) -> list[list[str]]:
    """The scenarios' invariant (invariants.py), for the test suite's own checkpoints."""
    return invariants.check_invariants(folder, checkpoint_dir, complete, **more)
