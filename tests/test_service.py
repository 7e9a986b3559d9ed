"""The service end to end: a real child daemon, the pipeline's writer styles, kills, signals, systemd."""

import json
import os
import random
import shutil
import signal
import statistics
import time

import pytest

from helpers import (book, cell, check_invariants, checkpoints, isbn13, read_rows, rename_in_from_elsewhere, run_child,
                     write_book, write_by_rename, write_in_place_with_pauses)

from daemon import Daemon

from sidecar.exits import EXIT_OK, EXIT_SERVICE_FAILED

MODES = [pytest.param(None, id="inotify"), pytest.param(0.1, id="polling")]


@pytest.fixture
def daemons(tmp_path):
    started: list[Daemon] = []

    def make(folder=None, **kwargs) -> Daemon:
        d = Daemon(tmp_path, folder or tmp_path / "processed_json", **kwargs)
        started.append(d)
        return d

    yield make
    for d in started:
        d.kill()


def titles(rows):
    return sorted(cell(r, "Title") for r in rows)


@pytest.mark.parametrize("poll", MODES)
def test_the_three_writer_styles_of_the_pipeline_each_give_one_row(daemons, tmp_path, poll):
    folder = tmp_path / "processed_json"
    folder.mkdir()
    d = daemons(poll=poll).start()
    write_in_place_with_pauses(folder / "a.json", book(1))
    write_by_rename(folder / "b.json", book(2))
    rename_in_from_elsewhere(folder / "c.json", book(3))
    rows = d.wait_for_rows(lambda rows: len(rows) == 3)
    assert titles(rows) == ["Book 1", "Book 2", "Book 3"]
    assert d.stop() == EXIT_OK
    check_invariants(folder, d.data)
    assert "WARNING rejected" not in d.logs()  # a partly written file is never a rejection, let alone a row


@pytest.mark.parametrize("poll", MODES)
def test_a_book_rewritten_three_times_keeps_one_row_with_the_latest_content(daemons, tmp_path, poll):
    folder = tmp_path / "processed_json"
    folder.mkdir()
    d = daemons(poll=poll).start()
    write_book(folder, "other.json", book(9))
    for version in (1, 2, 3):
        write_in_place_with_pauses(folder / "a.json", book(1, title=f"Book 1 v{version}", page_count=100 + version),
                                   pause=0.01)
        d.wait_for_rows(lambda rows: f"Book 1 v{version}" in titles(rows))
    assert d.stop() == EXIT_OK
    rows = check_invariants(folder, d.data)
    assert titles(rows) == ["Book 1 v3", "Book 9"]


def test_a_file_that_is_not_a_book_yet_is_picked_up_when_fixed(daemons, tmp_path):
    folder = tmp_path / "processed_json"
    folder.mkdir()
    d = daemons().start()
    (folder / "a.json").write_text('{"title": "Half')
    deadline = time.monotonic() + 20
    while f"rejected {folder / 'a.json'}: it is not valid JSON" not in d.logs():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    write_book(folder, "a.json", book(1))
    d.wait_for_rows(lambda rows: titles(rows) == ["Book 1"])
    assert d.stop() == EXIT_OK


@pytest.mark.parametrize("poll", MODES)
def test_kill_9_at_random_moments_of_a_burst_then_restart_ten_times(daemons, tmp_path, poll):
    rng = random.Random(7)
    folder = tmp_path / "processed_json"
    folder.mkdir()
    d = daemons(poll=poll, extra=["--rescan", "1"])
    count = 0
    for _ in range(10):
        d.start()
        for _ in range(30):
            write_by_rename(folder / f"book{count:03}.json", book(count))
            count += 1
            if rng.random() < 0.2:  # and the pipeline rewrites an earlier book now and then
                n = rng.randrange(count)
                write_book(folder, f"book{n:03}.json", book(n, title=f"Book {n} again {count}"))
        time.sleep(rng.uniform(0, 0.15))  # a random instant of the burst is the point here
        d.signal(signal.SIGKILL)
        assert d.wait() == -signal.SIGKILL
        check_invariants(folder, d.data, complete=False)
    d.start()
    d.wait_for_rows(lambda rows: len(rows) == count)
    assert d.stop() == EXIT_OK
    rows = check_invariants(folder, d.data)
    for path in folder.glob("*.json"):
        assert json.loads(path.read_text())["title"] in titles(rows)


@pytest.mark.parametrize("poll", MODES)
def test_sigterm_during_a_burst_exits_0_and_the_rest_is_picked_up_on_restart(daemons, tmp_path, poll):
    folder = tmp_path / "processed_json"
    folder.mkdir()
    d = daemons(poll=poll).start()
    for n in range(200):
        write_by_rename(folder / f"book{n:03}.json", book(n))
    start = time.monotonic()
    assert d.stop() == EXIT_OK
    assert time.monotonic() - start < 5
    assert any("STOPPING=1" in m for _, m in d.messages)
    check_invariants(folder, d.data, complete=False)
    d.start()
    d.wait_for_rows(lambda rows: len(rows) == 200)
    assert d.stop() == EXIT_OK
    check_invariants(folder, d.data)


def test_files_whose_events_were_lost_appear_after_a_rescan(daemons, tmp_path):
    folder = tmp_path / "processed_json"
    folder.mkdir()
    d = daemons(extra=["--rescan", "0.5"], env={"SIDECAR_FAULT": "drop-events"}).start()
    for n in range(3):
        write_book(folder, f"b{n}.json", book(n))
    d.wait_for_rows(lambda rows: len(rows) == 3)
    assert d.stop() == EXIT_OK


@pytest.mark.parametrize("poll", MODES)
def test_a_folder_created_later_and_deleted_and_recreated_is_waited_for(daemons, tmp_path, poll):
    folder = tmp_path / "output" / "imp_build" / "processed_json"
    d = daemons(folder, poll=poll).start()
    assert f"{folder} does not exist yet; waiting for it" in d.logs()
    folder.mkdir(parents=True)
    write_by_rename(folder / "a.json", book(1))
    d.wait_for_rows(lambda rows: len(rows) == 1)
    shutil.rmtree(folder)
    deadline = time.monotonic() + 10
    while "was removed; waiting for it to come back" not in d.logs():
        assert time.monotonic() < deadline, d.logs()
        time.sleep(0.01)
    folder.mkdir()
    write_by_rename(folder / "b.json", book(2))
    d.wait_for_rows(lambda rows: "Book 2" in titles(rows))
    assert d.stop() == EXIT_OK
    assert checkpoints(d.data)[0].name.endswith("_imp.csv")


def test_systemd_hears_ready_after_catch_up_then_watchdog_pings_then_stopping(daemons, tmp_path):
    folder = tmp_path / "processed_json"
    for n in range(50):
        write_book(folder, f"b{n}.json", book(n))
    d = daemons(env={"WATCHDOG_USEC": "200000"}).start()
    assert len(read_rows(checkpoints(d.data)[0])) == 50  # READY=1 came after the catch-up
    assert d.messages[0][1] == "STATUS=catching up: 1/50 books\nWATCHDOG=1"
    ready_at = next(t for t, m in d.messages if "READY=1" in m)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        d.receive(0.05)
    pings = [t for t, m in d.messages if m == "WATCHDOG=1" and t >= ready_at]
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    assert len(pings) >= 12
    assert 0.07 <= statistics.median(gaps) <= 0.13  # every WATCHDOG_USEC / 2
    assert max(gaps) < 0.2  # never late enough for systemd to kill it
    assert d.stop() == EXIT_OK
    assert d.messages[-1][1] == "STOPPING=1"


def test_pings_stop_and_the_service_exits_non_zero_when_the_observer_dies(daemons, tmp_path):
    folder = tmp_path / "processed_json"
    folder.mkdir()
    d = daemons(env={"WATCHDOG_USEC": "200000", "SIDECAR_FAULT": "observer-dies"}).start()
    d.wait_for_message("WATCHDOG=1")
    write_book(folder, "a.json", book(1))  # the first event kills the observer thread
    assert d.wait(timeout=10) == EXIT_SERVICE_FAILED
    died = d.logs().index("the filesystem observer thread died")
    assert "exiting so that the service is restarted" in d.logs()[died:]
    last_ping = max(t for t, m in d.messages if m == "WATCHDOG=1")
    assert all(m != "WATCHDOG=1" for t, m in d.messages if t > last_ping)


def test_sighup_restarts_in_place_with_the_new_configuration(daemons, tmp_path):
    folder = tmp_path / "processed_json"
    folder.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text("lsi: {pub_date_format: iso}\n")
    d = daemons(extra=["--config", str(config)]).start()
    write_book(folder, "a.json", book(1, publication_date="2026-01-06"))
    d.wait_for_rows(lambda rows: len(rows) == 1)
    config.write_text("lsi: {pub_date_format: m/d/yy}\n")
    pid = d.proc.pid
    d.messages.clear()
    d.signal(signal.SIGHUP)
    d.wait_for_message("RELOADING=1")
    d.wait_for_message("READY=1")
    [reloading] = [m for _, m in d.messages if m.startswith("RELOADING=1")]
    assert reloading.startswith("RELOADING=1\nMONOTONIC_USEC=") and int(reloading.split("=")[-1]) > 0
    states = [m.split("\n")[0] for _, m in d.messages if m.startswith(("RELOADING=1", "READY=1"))]
    assert states[:2] == ["RELOADING=1", "READY=1"]
    write_book(folder, "b.json", book(2, publication_date="2026-01-06"))
    # the book written before the reload is converted again under the new configuration: its row replaced
    rows = d.wait_for_rows(lambda rows: [cell(r, "Pub Date") for r in rows] == ["1/6/26", "1/6/26"])
    assert [cell(r, "ISBN or SKU") for r in rows] == [isbn13(1), isbn13(2)]
    assert d.proc.pid == pid
    assert d.stop() == EXIT_OK


def test_a_reload_with_a_broken_configuration_keeps_the_one_in_force(daemons, tmp_path):
    folder = tmp_path / "processed_json"
    folder.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text("lsi: {pub_date_format: m/d/yy}\n")
    d = daemons(extra=["--config", str(config)]).start()
    config.write_text("lsi: {pub_date_format: someday}\n")
    d.messages.clear()
    d.signal(signal.SIGHUP)
    d.wait_for_message("READY=1")
    write_book(folder, "a.json", book(1, publication_date="2026-01-06"))
    [row] = d.wait_for_rows(lambda rows: len(rows) == 1)
    assert cell(row, "Pub Date") == "1/6/26"
    assert "reload refused: 'lsi.pub_date_format' in " in d.logs()
    assert d.stop() == EXIT_OK


def test_status_and_metrics_while_the_service_runs(daemons, tmp_path):
    folder = tmp_path / "processed_json"
    write_book(folder, "a.json", book(1))
    (folder / "bad.json").write_text("[]")
    os.utime(folder / "bad.json", (time.time() - 60, time.time() - 60))  # an old file, not one being written
    metrics = tmp_path / "sidecar.prom"
    d = daemons(extra=["--metrics-file", str(metrics)]).start()
    result = run_child(["status", "--json", "--watch", str(folder), "--checkpoint-dir", str(d.data)], cwd=tmp_path)
    assert result.returncode == EXIT_OK, result.stderr
    status = json.loads(result.stdout)["imprints"]["processed_json"]
    assert status["rows"] == 1 and status["ledger_and_csv"] == "agree"
    assert status["checkpoint"] == str(checkpoints(d.data)[0])
    assert status["rejected"] == [{"source": str(folder / "bad.json"),
                                   "reason": "its JSON is an array, expected an object with the book's fields"}]
    assert status["waiting"] == []
    write_book(folder, "b.json", book(2))
    d.wait_for_rows(lambda rows: len(rows) == 2)
    deadline = time.monotonic() + 5
    while 'lsi_sidecar_books_total{outcome="appended"} 2\n' not in (metrics.read_text() if metrics.exists() else ""):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    text = metrics.read_text()
    assert 'lsi_sidecar_books_total{outcome="rejected"} 1\n' in text  # counted since the service started
    assert 'lsi_sidecar_books_total{outcome="replaced"} 0\n' in text
    assert "lsi_sidecar_queue_depth 0\n" in text
    [last] = [line for line in text.splitlines() if line.startswith("lsi_sidecar_last_append_timestamp_seconds ")]
    assert time.time() - 60 < float(last.split()[1]) <= time.time()
    assert d.stop() == EXIT_OK


def test_a_watch_that_cannot_be_made_is_reported_once_and_rescans_still_bring_books_in(daemons, tmp_path):
    folder = tmp_path / "processed_json"
    folder.mkdir()
    d = daemons(extra=["--rescan", "0.5"], env={"SIDECAR_FAULT": "watch-limit"})
    d.start(wait_ready=False)
    write_book(folder, "a.json", book(1))
    d.wait_for_rows(lambda rows: len(rows) == 1)
    assert d.stop() == EXIT_OK
    assert d.logs().count(f"cannot watch {folder}: [Errno 28] inotify watch limit reached") == 1
