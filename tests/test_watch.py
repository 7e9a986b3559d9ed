import json
import os
import subprocess
import sys
import logging
from pathlib import Path

from watchdog.events import (EVENT_TYPE_CLOSED, DirDeletedEvent, FileClosedEvent, FileCreatedEvent, FileModifiedEvent,
                             FileMovedEvent)

from sidecar import cli
from sidecar.settings import DEFAULT_IGNORE, Folder
from sidecar.service.readiness import Readiness
from sidecar.service.watch import Hint, Hints, OverflowAlarm, PathQueue

from helpers import book, write_book

FOLDER = Folder(Path("/books"), "imp")


def hints_for(*events, polling=False):
    queue = PathQueue()
    handler = Hints(FOLDER, queue, DEFAULT_IGNORE, Readiness(polling=polling, settle_seconds=1.0))
    for event in events:
        handler.dispatch(event)
    found = []
    while (hint := queue.get(timeout=0)) is not None:
        found.append((hint.path.name, hint.unfinished))
    return found, queue


def test_closed_and_moved_in_are_ready_now_created_may_still_be_written():
    found, _ = hints_for(FileClosedEvent("/books/a.json"), FileMovedEvent("/books/.b.json.tmp", "/books/b.json"),
                         FileCreatedEvent("/books/c.json"))
    assert found == [("a.json", False), ("b.json", False), ("c.json", True)]


def test_a_bare_modified_event_is_never_a_reason_to_ingest_with_inotify():
    assert hints_for(FileModifiedEvent("/books/a.json"))[0] == []
    assert hints_for(FileModifiedEvent("/books/a.json"), polling=True)[0] == [("a.json", True)]


def test_events_for_files_that_are_not_books_are_dropped():
    found, _ = hints_for(FileClosedEvent("/books/.hidden.json"), FileClosedEvent("/books/a_lsi_metadata.json"),
                         FileClosedEvent("/books/a.json.tmp"), FileClosedEvent("/books/sub/a.json"),
                         FileClosedEvent("/elsewhere/a.json"))
    assert found == []


def test_repeated_events_for_one_path_coalesce_and_ready_now_wins():
    found, _ = hints_for(FileCreatedEvent("/books/a.json"), FileModifiedEvent("/books/a.json"),
                         FileClosedEvent("/books/a.json"), FileClosedEvent("/books/a.json"))
    assert found == [("a.json", False)]


def test_a_full_queue_drops_paths_and_asks_for_a_rescan_instead():
    queue = PathQueue(limit=2)
    for name in ("a", "b", "c"):
        queue.put(Hint(Path(f"/books/{name}.json"), FOLDER, False))
    assert len(queue) == 2
    assert queue.take_rescan() is True
    assert queue.take_rescan() is False


def test_the_handler_never_raises_whatever_the_event():
    class Broken:
        event_type = EVENT_TYPE_CLOSED
        is_directory = False

        @property
        def src_path(self):
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad name")

    found, _ = hints_for(Broken(), FileClosedEvent("/books/a.json"))
    assert found == [("a.json", False)]


def test_the_watched_folder_being_deleted_is_noted():
    _, queue = hints_for(DirDeletedEvent("/books"))
    assert queue.gone == {Path("/books")}


def test_watchdog_s_overflow_warning_asks_for_a_rescan():
    queue = PathQueue()
    alarm = OverflowAlarm(queue)
    log = logging.getLogger("watchdog.observers.inotify_c")
    log.addHandler(alarm)
    try:
        log.warning("Inotify queue overflowed; filesystem events were lost")
    finally:
        log.removeHandler(alarm)
    assert queue.take_rescan() is True


def test_json_logs_are_one_object_a_line_without_tracebacks(tmp_path, capsys):
    folder = tmp_path / "in"
    write_book(folder, "a.json", book(1))
    (folder / "bad.json").write_text("{")
    code = cli.main(["--once", "--watch", str(folder), "--checkpoint-dir", str(tmp_path / "d"), "--log-format", "json"])
    assert code == cli.EXIT_REJECTED
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    messages = [(r["level"], r["message"]) for r in records]
    reason = "it is not valid JSON (Expecting property name enclosed in double quotes at line 1 column 2); it may be incomplete"
    assert ("WARNING", f"rejected {folder / 'bad.json'}: {reason}") in messages
    [rejected] = [r for r in records if r["message"].startswith("rejected")]
    assert set(rejected) == {"time", "level", "message", "source", "reason"}
    assert (rejected["source"], rejected["reason"]) == (str(folder / "bad.json"), reason)
    [appended] = [r for r in records if r["message"].startswith("appended")]
    assert appended["isbn"] == "9781000000016" and appended["checkpoint"].endswith(".csv")
    assert not any("Traceback" in r["message"] for r in records)


def test_under_journald_each_line_carries_its_syslog_priority(tmp_path):
    folder = tmp_path / "in"
    write_book(folder, "a.json", book(1))
    (folder / "bad.json").write_text("{")
    log = tmp_path / "stderr"
    with open(log, "w") as stderr:
        st = os.fstat(stderr.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        code = subprocess.run([sys.executable, "-m", "sidecar", "--once", "--watch", str(folder), "--checkpoint-dir",
                               str(tmp_path / "d")], stderr=stderr, env=env, timeout=60).returncode
    assert code == cli.EXIT_REJECTED
    lines = log.read_text().splitlines()
    assert f"<4>WARNING rejected {folder / 'bad.json'}: it is not valid JSON" in "\n".join(lines)
    assert any(line.startswith("<6>INFO    appended ISBN 9781000000016") for line in lines)
    assert all(line[:3] in ("<4>", "<6>") for line in lines)
