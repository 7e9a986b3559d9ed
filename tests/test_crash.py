"""Kill a real `sidecar --once` with SIGKILL at every dangerous instant; each book must end up exactly once.

Exact windows come from the fault points in the code (SIDECAR_FAULT=NAME:N kills the process the Nth
time NAME is reached); random timings cover the instants between them.
"""

import json
import random
import signal
import subprocess
import sys
import time

import pytest

from helpers import ROOT, book, cell, check_invariants, checkpoints, read_rows, run_child, write_book

from sidecar.exits import EXIT_OK, EXIT_STOPPED

KILLED = -signal.SIGKILL


@pytest.fixture
def setup(tmp_path):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    config = tmp_path / "config.yaml"
    config.write_text(f"watch: [{folder}]\ncheckpoint_dir: {data}\ncheckpoint: {{rows_per_sync: 3}}\n")

    def run(fault: str | None = None) -> int:
        result = run_child(["--once", "--config", str(config)], env={"SIDECAR_FAULT": fault or ""}, cwd=tmp_path)
        assert result.returncode in (0, KILLED), result.stderr
        return result.returncode

    return folder, data, run


def finish(folder, data, run):
    assert run() == EXIT_OK
    return check_invariants(folder, data)


@pytest.mark.parametrize("fault", ["after-write:2", "after-fsync:2", "after-ledger:1"])
def test_appends_survive_a_kill_at_each_step_of_the_protocol(setup, fault):
    folder, data, run = setup
    for n in range(20):
        write_book(folder, f"book{n:02}.json", book(n))
    kills = 0
    while run(fault) == KILLED:  # each run commits one group of rows, then is killed at the fault
        kills += 1
        check_invariants(folder, data, complete=False)
        assert kills < 20
    assert kills >= 6
    assert len(finish(folder, data, run)) == 20


@pytest.mark.parametrize("fault", ["mid-replace", "after-write", "after-fsync"])
def test_replacing_the_newest_row_survives_a_kill(setup, fault):
    folder, data, run = setup
    for n in range(3):
        write_book(folder, f"book{n}.json", book(n))
    assert run() == EXIT_OK
    for version in range(1, 6):
        write_book(folder, "book2.json", book(2, title=f"Book 2 v{version}", page_count=200 + version))
        assert run(f"{fault}:1") == KILLED
        check_invariants(folder, data, complete=False)
        rows = finish(folder, data, run)
        assert [cell(r, "Title") for r in rows] == ["Book 0", "Book 1", f"Book 2 v{version}"]


def test_replacing_an_older_row_survives_a_kill_between_ledger_and_rename(setup):
    folder, data, run = setup
    for n in range(6):
        write_book(folder, f"book{n}.json", book(n))
    assert run() == EXIT_OK
    for n in range(5):
        write_book(folder, f"book{n}.json", book(n, title=f"Book {n} revised" + "!" * n))
        assert run("mid-rewrite:1") == KILLED
        check_invariants(folder, data, complete=False)
    rows = finish(folder, data, run)
    assert [cell(r, "Title") for r in rows] == [f"Book {n} revised" + "!" * n for n in range(5)] + ["Book 5"]
    assert [p.name for p in data.iterdir() if p.name.startswith(".cumulative")] == []


@pytest.mark.parametrize("fault", ["rewrite-copied", "mid-rewrite"])
def test_a_settings_pass_survives_a_kill_before_and_after_its_one_rewrite_is_committed(tmp_path, fault):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    config = tmp_path / "config.yaml"
    for n in range(12):
        write_book(folder, f"book{n:02}.json", book(n))

    def run(date_format, fault=""):
        config.write_text(f"watch: [{folder}]\ncheckpoint_dir: {data}\nlsi: {{pub_date_format: '{date_format}'}}\n")
        return run_child(["--once", "--config", str(config)], env={"SIDECAR_FAULT": fault}, cwd=tmp_path).returncode

    assert run("iso") == EXIT_OK
    assert run("m/d/yy", f"{fault}:1") == KILLED
    rows = check_invariants(folder, data, complete=False)
    # Killed before the ledger committed the copy: the old rows stand; after: the copy is the checkpoint.
    assert {cell(r, "Pub Date") for r in rows} == ({"2026-01-06"} if fault == "rewrite-copied" else {"1/6/26"})
    assert run("m/d/yy") == EXIT_OK
    assert [cell(r, "Pub Date") for r in check_invariants(folder, data)] == ["1/6/26"] * 12
    assert [p.name for p in data.iterdir() if p.name.startswith(".cumulative")] == []


def test_random_kills_during_a_batch_with_rewrites_lose_and_double_nothing(tmp_path):
    rng = random.Random(20261126)
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    config = tmp_path / "config.yaml"
    config.write_text(f"watch: [{folder}]\ncheckpoint_dir: {data}\ncheckpoint: {{rows_per_sync: 1}}\n")
    count, kills = 0, 0
    for _ in range(60):
        for _ in range(15):  # the pipeline keeps adding books and rewriting some while the sidecar is down
            write_book(folder, f"book{count:03}.json", book(count, storefront_description_en="Text. " * rng.randrange(9, 400)))
            count += 1
        for n in rng.sample(range(count), 3):
            write_book(folder, f"book{n:03}.json", book(n, title=f"Book {n} after kill {kills}"))
        size = checkpoints(data)[0].stat().st_size if checkpoints(data) else 0
        child = subprocess.Popen([sys.executable, "-m", "sidecar", "--once", "--config", str(config)],
                                 cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while child.poll() is None and not (checkpoints(data) and checkpoints(data)[0].stat().st_size != size):
            assert time.monotonic() < deadline
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.02))  # a random instant inside the work is the point here
        child.send_signal(signal.SIGKILL)
        kills += child.wait(timeout=30) == KILLED
        check_invariants(folder, data, complete=False)
        if kills == 25:
            break
    assert kills == 25
    result = run_child(["--once", "--config", str(config)], cwd=tmp_path)
    assert result.returncode == EXIT_OK, result.stderr
    rows = check_invariants(folder, data)
    assert len(rows) == count
    titles = {cell(r, "ISBN or SKU"): cell(r, "Title") for r in rows}
    for path in folder.glob("*.json"):
        current = json.loads(path.read_text())
        assert titles[current["isbn13"]] == current["title"]


def test_sigterm_finishes_the_row_in_hand_and_exits_7_stopped(tmp_path):
    folder, data = tmp_path / "processed_json", tmp_path / "data"
    for n in range(400):
        write_book(folder, f"book{n:03}.json", book(n))
    config = tmp_path / "config.yaml"
    config.write_text(f"watch: [{folder}]\ncheckpoint_dir: {data}\ncheckpoint: {{rows_per_sync: 1}}\n")
    child = subprocess.Popen([sys.executable, "-m", "sidecar", "--once", "--config", str(config)],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (checkpoints(data) and len(read_rows(checkpoints(data)[0])) >= 5):
        assert time.monotonic() < deadline and child.poll() is None
        time.sleep(0.01)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=10)
    assert child.returncode == EXIT_STOPPED, err
    assert "WARNING stopped by a signal before every book was seen; run again to finish" in err
    done = check_invariants(folder, data, complete=False)
    assert 5 <= len(done) < 400
    assert out.startswith(f"sidecar: {len(done)} appended, 0 replaced, 0 unchanged, 0 rejected")
    assert run_child(["--once", "--config", str(config)], cwd=tmp_path).returncode == EXIT_OK
    assert len(check_invariants(folder, data)) == 400


def test_the_package_runs_as_a_module(tmp_path):
    result = run_child(["--version"], cwd=ROOT)
    assert result.returncode == EXIT_OK and result.stdout.startswith("sidecar ")
