"""Faults that pass are waited out by the service, never a dead process: a full disk, a watched folder it
cannot list, a configuration that does not load. A failed fsync still ends it (exit 3)."""

import json
import signal
import time

import pytest

from daemon import Daemon
from helpers import book, cell, checkpoints, isbn13, read_rows, run_child, write_book
from sidecar import cli
from sidecar.exits import EXIT_CHECKPOINT, EXIT_OK, EXIT_USAGE

# Root passes every permission check; without these capabilities it is refused like any other user.
NO_ROOT_PASS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


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
        if d.proc is not None:
            d.close()  # also after a failed assertion: no socket or log left to a later test


def isbns(rows):
    return sorted(cell(r, "ISBN or SKU") for r in rows)


def wait_for_log(d: Daemon, text: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while text not in d.logs():
        assert d.proc.poll() is None, f"daemon exited {d.proc.returncode}: {d.logs()}"
        assert time.monotonic() < deadline, f"{text!r} not logged within {timeout} s: {d.logs()}"
        d.receive(0.05)
    return d.logs()


def wait_for_messages(d: Daemon, first: str, then: str, timeout: float = 20) -> None:
    """Until systemd has heard a line first, and later a line then."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for _, m in d.messages for line in m.splitlines()]
        if first in lines and then in lines[lines.index(first) + 1:]:
            return
        assert time.monotonic() < deadline, f"no {first!r} then {then!r} within {timeout} s: {lines}"
        d.receive(0.1)


def statuses(d: Daemon) -> list[str]:
    return [line[len("STATUS="):] for _, m in d.messages for line in m.splitlines() if line.startswith("STATUS=")]


@pytest.mark.parametrize("nth", [1, 2], ids=["at-the-start-catch-up", "in-the-worker"])
def test_a_full_disk_is_waited_out_and_every_book_gets_in_once(daemons, tmp_path, nth):
    folder = tmp_path / "processed_json"
    write_book(folder, "a.json", book(1))
    d = daemons(folder, env={"SIDECAR_FAULT": f"write-enospc:{nth}"}).start()  # READY=1 also while it waits
    for n in (2, 3):
        write_book(folder, f"{n}.json", book(n))
    rows = d.wait_for_rows(lambda rows: len(rows) == 3)
    assert isbns(rows) == [isbn13(n) for n in (1, 2, 3)]
    [checkpoint] = checkpoints(tmp_path / "data")
    waiting = (f"waiting: cannot append to {checkpoint}: [Errno 28] No space left on device (injected); "
               "retrying until it passes")
    logs = wait_for_log(d, "resumed: no longer waiting for: cannot append to")
    assert logs.count(waiting) == 1
    wait_for_messages(d, f"STATUS=waiting: cannot append to {checkpoint}: [Errno 28] No space left on device "
                         "(injected)", "STATUS=watching 1 folder(s)")
    assert d.stop() == EXIT_OK


def test_a_failed_fsync_still_ends_the_service_with_exit_3(daemons, tmp_path):
    folder = tmp_path / "processed_json"
    write_book(folder, "a.json", book(1))
    d = daemons(folder, env={"SIDECAR_FAULT": "fsync-eio:1"}).start(wait_ready=False)
    assert d.wait() == EXIT_CHECKPOINT
    [checkpoint] = checkpoints(tmp_path / "data")
    assert f"sidecar: cannot make {checkpoint} durable: [Errno 5] Input/output error (injected)\n" in d.logs()
    done = run_child(["--once", "--watch", str(folder), "--checkpoint-dir", str(tmp_path / "data")])
    assert done.returncode == EXIT_OK  # the restart cuts the unrecorded row and writes it again
    assert "cut " in done.stderr and isbns(read_rows(checkpoint)) == [isbn13(1)]


def test_a_watched_folder_replaced_by_a_file_is_waited_for_and_taken_up_again(daemons, tmp_path):
    folder = tmp_path / "processed_json"
    write_book(folder, "a.json", book(1))
    d = daemons(folder).start()
    d.wait_for_rows(lambda rows: len(rows) == 1)
    folder.rename(tmp_path / "aside")
    folder.write_text("not a folder")
    wait_for_log(d, f"waiting: the watched folder {folder} cannot be read: it is not a folder (a file has its name); "
                    "retrying until it passes")
    d.wait_for_message(f"STATUS=waiting: the watched folder {folder} cannot be read: it is not a folder")
    folder.unlink()
    (tmp_path / "aside").rename(folder)
    write_book(folder, "b.json", book(2))
    rows = d.wait_for_rows(lambda rows: len(rows) == 2)
    assert isbns(rows) == [isbn13(1), isbn13(2)]
    wait_for_log(d, f"resumed: no longer waiting for: the watched folder {folder} cannot be read")
    assert d.stop() == EXIT_OK


def test_a_watched_folder_the_service_cannot_read_is_waited_for_from_the_start(daemons, tmp_path):
    folder = tmp_path / "processed_json"
    write_book(folder, "a.json", book(1))
    folder.chmod(0)
    try:
        d = daemons(folder, prefix=NO_ROOT_PASS).start()
        wait_for_log(d, f"waiting: the watched folder {folder} cannot be read: permission denied for user root; "
                        "make it readable and searchable (r-x) to the sidecar; retrying until it passes")
        assert statuses(d)[-1].startswith(f"waiting: the watched folder {folder} cannot be read: permission denied")
    finally:
        folder.chmod(0o755)
    rows = d.wait_for_rows(lambda rows: len(rows) == 1)
    write_book(folder, "b.json", book(2))
    rows = d.wait_for_rows(lambda rows: len(rows) == 2)
    assert isbns(rows) == [isbn13(1), isbn13(2)]
    d.wait_for_message("STATUS=watching 1 folder(s)")
    assert d.stop() == EXIT_OK


def test_a_folder_that_becomes_unsearchable_under_the_running_service_is_waited_for(daemons, tmp_path):
    folder = tmp_path / "processed_json"
    folder.mkdir()
    d = daemons(folder, prefix=NO_ROOT_PASS).start()
    folder.chmod(0o644)  # listable, but its files cannot be reached
    try:
        write_book(folder, "a.json", book(1))  # root's write; the service's inotify still hears it
        wait_for_log(d, f"waiting: the watched folder {folder} cannot be read: permission denied")
    finally:
        folder.chmod(0o755)
    rows = d.wait_for_rows(lambda rows: len(rows) == 1)
    assert isbns(rows) == [isbn13(1)]
    assert d.stop() == EXIT_OK


def test_a_configuration_that_does_not_load_at_start_is_waited_for_until_it_is_mended(daemons, tmp_path):
    folder = tmp_path / "processed_json"
    write_book(folder, "a.json", book(1))
    config = tmp_path / "config.yaml"
    config.write_text(f"watch: [{folder}]\ncheckpoint_dir: {tmp_path / 'data'}\nlog_level: LOUD\n")
    d = daemons(folder, extra=["--config", str(config)]).start()  # READY=1: systemd must not time it out
    assert statuses(d) == ["waiting: the configuration cannot be loaded: log level 'LOUD' is not one of TRACE, "
                           "DEBUG, INFO, SUCCESS, WARNING, ERROR, CRITICAL"]
    config.write_text(config.read_text().replace("LOUD", "INFO"))
    rows = d.wait_for_rows(lambda rows: len(rows) == 1, timeout=30)  # found by the retries' back-off
    assert isbns(rows) == [isbn13(1)]
    assert d.logs().count("waiting: the configuration cannot be loaded: log level 'LOUD'") == 1
    assert d.stop() == EXIT_OK


def test_sighup_retries_a_configuration_that_did_not_load_at_once(daemons, tmp_path):
    folder = tmp_path / "processed_json"
    write_book(folder, "a.json", book(1))
    config = tmp_path / "config.yaml"
    config.write_text("watch: [" + "[" * 100_000 + "]" * 100_000 + "]\n")
    d = daemons(folder, extra=["--config", str(config)]).start()
    wait_for_log(d, f"waiting: the configuration cannot be loaded: {config} is not valid YAML: nested more than 64 "
                    "levels deep")
    config.write_text(f"watch: [{folder}]\ncheckpoint_dir: {tmp_path / 'data'}\n")
    d.signal(signal.SIGHUP)
    d.wait_for_rows(lambda rows: len(rows) == 1, timeout=5)  # well before the next retry is due
    assert d.stop() == EXIT_OK


@pytest.mark.parametrize(("content", "reason"), [
    ('{"a": ' * 100_000 + "1" + "}" * 100_000, "its JSON is nested too deeply to be a config file"),
    ('{"us_list_price": ' + "9" * 5000 + "}", "it holds a number too long to read (Exceeds the limit (4300 digits) "
                                             "for integer string conversion)"),
    ('{"us_list_price": 1, "us_list_price": 2}', "its JSON has the key 'us_list_price' twice in one object"),
], ids=["nested-100000-deep", "5000-digit-number", "a-key-twice"])
def test_a_reload_with_a_hostile_config_file_keeps_the_settings_in_force(daemons, tmp_path, content, reason):
    folder = tmp_path / "processed_json"
    tranche = tmp_path / "tranche.json"
    tranche.write_text(json.dumps({"us_list_price": 12.5}))
    d = daemons(folder, extra=["--tranche", str(tranche)]).start()
    tranche.write_text(content)
    d.signal(signal.SIGHUP)
    wait_for_log(d, f"reload refused: the pipeline's config file {tranche} cannot be used: {reason}; "
                    "the configuration in force goes on")
    write_book(folder, "a.json", book(1))
    [row] = d.wait_for_rows(lambda rows: len(rows) == 1)
    assert cell(row, "US Suggested List Price") == "12.50"  # the settings in force
    assert d.stop() == EXIT_OK


def test_status_says_what_the_service_waits_for(daemons, tmp_path):
    folder = tmp_path / "processed_json"
    write_book(folder, "a.json", book(1))
    d = daemons(folder).start()
    d.wait_for_rows(lambda rows: len(rows) == 1)
    folder.rename(tmp_path / "aside")
    folder.write_text("")
    wait_for_log(d, "waiting: the watched folder")

    done = run_child(["status", "--watch", str(folder), "--checkpoint-dir", str(tmp_path / "data")])
    assert done.returncode == EXIT_OK
    lines = done.stdout.splitlines()
    assert lines[0].startswith("the service waits (since ")
    assert lines[0].endswith(f"): the watched folder {folder} cannot be read: it is not a folder (a file has its name)")
    assert f"    the watched folder {folder} cannot be read: it is not a folder (a file has its name)" in lines
    folder.unlink()
    (tmp_path / "aside").rename(folder)
    wait_for_log(d, "resumed: no longer waiting for: the watched folder")
    assert not (tmp_path / "data" / "state" / "waiting.json").exists()
    assert d.stop() == EXIT_OK


def test_a_watched_folder_that_is_a_file_is_a_configuration_error_for_once(tmp_path, capsys):
    folder = tmp_path / "processed_json"
    folder.write_text("")
    assert cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(tmp_path / "data")]) == EXIT_USAGE
    assert capsys.readouterr().err == (f"sidecar: the watched folder {folder} cannot be read: it is not a folder "
                                       "(a file has its name)\n")


def test_a_watched_folder_that_does_not_exist_is_waited_for_and_said_so(daemons, tmp_path):
    folder = tmp_path / "processed_json"
    d = daemons(folder).start()
    wait_for_log(d, f"waiting: the watched folder {folder} does not exist; retrying until it passes")
    d.wait_for_message(f"STATUS=waiting: the watched folder {folder} does not exist")
    write_book(folder, "a.json", book(1))
    assert isbns(d.wait_for_rows(lambda rows: len(rows) == 1)) == [isbn13(1)]
    wait_for_log(d, f"resumed: no longer waiting for: the watched folder {folder} does not exist")
    assert d.stop() == EXIT_OK
