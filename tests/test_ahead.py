"""Catch-up passes with worker processes (engine/ahead.py) give the rows, rejections and summary a pass
alone gives, use a worker's result only for the version it read, go on alone when a worker dies, and leave
no worker behind (holding a folder lock) when the sidecar is killed."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import book, cell, check_invariants, checkpoints, read_rows, write_book, write_config

from sidecar.engine import ahead
from sidecar.engine.ahead import READ_AHEAD_MIN, Ready, ReadAhead
from sidecar.engine.ingest import Ingestor
from sidecar.engine.outcome import Outcome
from sidecar.exits import EXIT_OK, EXIT_REJECTED
from sidecar.logs import setup_logging
from sidecar.rows.book import book_to_row
from sidecar.settings import load_settings
from sidecar.store.sources import read_source

BOOKS = READ_AHEAD_MIN + 36
TWO_CPUS = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="workers need a second CPU")


def corpus(folder: Path) -> None:
    """BOOKS files: books with and without problems, and some no row can come from."""
    for n in range(BOOKS):
        write_book(folder, f"book{n:03}.json", book(n, **({"page_count": "many"} if n % 7 == 0 else {})))
    (folder / "book010.json").write_text('{"title": "Cut short", "isbn13": "97')
    (folder / "book020.json").write_text('{"title": "Twice", "title": "Twice again", "isbn13": "9781000000202"}')
    write_book(folder, "book030.json", book(3))  # the ISBN of book003.json: two files, one book


def once(config: Path, cpus: set[int]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sidecar", "--once", "--config", str(config)], capture_output=True,
                          text=True, timeout=120, preexec_fn=lambda: os.sched_setaffinity(0, cpus))


@TWO_CPUS
def test_a_pass_with_workers_writes_what_a_pass_alone_writes(tmp_path):
    runs = {}
    for name, cpus in (("alone", {min(os.sched_getaffinity(0))}), ("workers", os.sched_getaffinity(0))):
        folder = tmp_path / name / "processed_json"
        corpus(folder)
        result = once(write_config(tmp_path / name / "config.yaml", folder), cpus)
        assert result.returncode == EXIT_REJECTED, result.stderr
        used = f"worker processes read and convert the pass's {BOOKS} files ahead" in result.stderr
        assert used == (name == "workers"), result.stderr
        runs[name] = (checkpoints(tmp_path / name / "data")[0].read_bytes(), result.stdout.split("; checkpoint:")[0],
                      sorted(line.split(" WARNING ")[-1].replace(f"/{name}/", "/") for line in result.stderr.splitlines()
                             if " WARNING " in line))
    assert runs["alone"] == runs["workers"]
    rows, summary, warnings = runs["workers"]
    assert summary == f"sidecar: {BOOKS - 3} appended, 0 replaced, 0 unchanged, 3 rejected, {BOOKS - 3} not LSI-ready"
    assert any("book010.json: it is not valid JSON" in w for w in warnings)
    assert any("book020.json: its JSON has the key 'title' twice in one object" in w for w in warnings)
    assert any("book030.json: ISBN 9781000000030 is already in the checkpoint from" in w for w in warnings)


def test_a_workers_result_is_used_only_for_the_version_it_read(tmp_path):
    folder = tmp_path / "processed_json"
    path = write_book(folder, "book.json", book(1, title="As the worker read it"))
    settings = load_settings({"config": str(write_config(tmp_path / "config.yaml", folder))})
    with Ingestor(settings) as ingestor:
        src = read_source(path, settings.max_bytes)
        made = book_to_row(src.data, ingestor.profiles[settings.folders[0].imprint], False, settings.dialect)
        read = Ready(time.time_ns(), src.stat, src.sha256, made)
        write_book(folder, "book.json", book(1, title="As it is now, a little longer"))
        assert ingestor.ingest(path, settings.folders[0], ready=read) == Outcome.APPENDED
    assert [cell(r, "Title") for r in read_rows(checkpoints(tmp_path / "data")[0])] == ["As it is now, a little longer"]


def _die_in_a_worker(*args, parent=os.getpid()):
    if os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    return book_to_row(*args)


def test_a_pass_goes_on_alone_when_a_worker_dies(tmp_path, monkeypatch, capsys):
    setup_logging()
    folder = tmp_path / "processed_json"
    for n in range(BOOKS):
        write_book(folder, f"book{n:03}.json", book(n))
    monkeypatch.setattr(ahead, "book_to_row", _die_in_a_worker)  # the forked workers have it too
    settings = load_settings({"config": str(write_config(tmp_path / "config.yaml", folder))})
    with Ingestor(settings) as ingestor:
        items = [(settings.folders[0], p) for p in sorted(folder.iterdir())]
        with ReadAhead(ingestor, items, workers=2) as read_ahead:
            outcomes = [ingestor.ingest(p, f, ready=read_ahead.take(n)) for n, (f, p) in enumerate(items)]
        assert read_ahead.broken
    assert outcomes == [Outcome.APPENDED] * BOOKS
    assert len(check_invariants(folder, tmp_path / "data")) == BOOKS
    assert "the worker processes stopped (BrokenProcessPool" in capsys.readouterr().err


def _processes_running(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def _pass_with_workers(tmp_path: Path, books: int) -> tuple[Path, Path, subprocess.Popen[str]]:
    """A real `sidecar --once` over books books, once its workers run and it has written 80 rows; its
    output goes to tmp_path/out and tmp_path/err."""
    folder = tmp_path / "processed_json"
    for n in range(books):
        write_book(folder, f"book{n:03}.json", book(n, storefront_description_en="Text. " * 300))
    config = write_config(tmp_path / "config.yaml", folder, checkpoint={"rows_per_sync": 1})
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        child = subprocess.Popen([sys.executable, "-m", "sidecar", "--once", "--config", str(config)],
                                 stdout=out, stderr=err, text=True)
    deadline = time.monotonic() + 60
    while not (checkpoints(tmp_path / "data") and len(read_rows(checkpoints(tmp_path / "data")[0])) >= 80):
        assert time.monotonic() < deadline and child.poll() is None
        time.sleep(0.01)
    return folder, config, child


@TWO_CPUS
def test_a_pass_whose_worker_is_killed_finishes_alone_and_exits(tmp_path):
    folder, config, child = _pass_with_workers(tmp_path, 2000)
    workers = [pid for pid in _processes_running(str(config)) if pid != child.pid]
    assert len(workers) == 2
    os.kill(workers[-1], signal.SIGKILL)  # as the kernel's out-of-memory killer would
    assert child.wait(timeout=120) == EXIT_OK, (tmp_path / "err").read_text()[-2000:]
    out, err = (tmp_path / "out").read_text(), (tmp_path / "err").read_text()
    assert "the worker processes stopped (BrokenProcessPool" in err
    assert out.startswith("sidecar: 2000 appended, 0 replaced, 0 unchanged, 0 rejected")
    assert len(check_invariants(folder, tmp_path / "data")) == 2000
    assert _processes_running(str(config)) == []


@TWO_CPUS
def test_a_killed_sidecar_leaves_no_worker_and_no_lock_behind(tmp_path):
    folder, config, child = _pass_with_workers(tmp_path, 600)
    deadline = time.monotonic() + 60
    assert len(_processes_running(str(config))) == 3  # the pass and its two workers
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    while _processes_running(str(config)):
        assert time.monotonic() < deadline, "a worker outlived the sidecar"
        time.sleep(0.01)
    check_invariants(folder, tmp_path / "data", complete=False)
    result = subprocess.run([sys.executable, "-m", "sidecar", "--once", "--config", str(config)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == EXIT_OK, result.stderr
    assert len(check_invariants(folder, tmp_path / "data")) == 600
