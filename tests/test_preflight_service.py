"""Pre-flight in the running service: with `files` set, the rows' files are checked after the catch-up and
again when a file changes; the journal and the metrics say which rows' files LSI would refuse."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from sidecar.exits import EXIT_OK
from sidecar.rows.lsi_rules import RULES
from sidecar.store.pdf_files import NOT_JUDGED, Memo, read_files

from daemon import Daemon
from helpers import checkpoints, run_child
from test_config_tree import REAL_BOOK, real_tree
from test_faults import wait_for_log
from test_preflight import ISBN, cover, interior

PAGE_COUNT = ("error interior: 221 pages in the PDF, the row's Pages says 222 [page-count]; "
              "error interior: 221 pages, an odd number; LSI's final page count is even [pages]")


@pytest.fixture
def started():
    """The services a test starts: killed at its end, whatever happened."""
    daemons: list[Daemon] = []
    yield daemons
    for d in daemons:
        d.kill()


def _service(shared: Path, tmp_path: Path, upload: Path, started: list[Daemon]) -> Daemon:
    tree = real_tree(shared, tmp_path)
    folder = tmp_path / "output" / "xynapse_traces_build" / "processed_json"
    folder.mkdir(parents=True)
    (folder / REAL_BOOK).write_bytes((shared / "examples" / REAL_BOOK).read_bytes())
    extra = ["--pipeline-configs", str(tree), "--tranche", "xynapse_tranche_1",
             "--metrics-file", str(tmp_path / "sidecar.prom")]
    started.append(Daemon(tmp_path, folder, extra=extra, env={"SIDECAR_FILES": str(upload)}))
    return started[-1]


def _metric(tmp_path: Path, wanted: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    path = tmp_path / "sidecar.prom"
    while wanted not in (path.read_text() if path.exists() else ""):
        assert time.monotonic() < deadline, f"{wanted!r} not in the metrics within {timeout} s"
        time.sleep(0.05)


def test_the_service_checks_the_files_after_catching_up_and_again_when_one_is_replaced(shared, tmp_path, started):
    upload = tmp_path / "upload"
    interior(upload / f"{ISBN}_ai_gover_interior.pdf", pages=221)
    cover(upload / f"{ISBN}_ai_gover_cover.pdf")
    d = _service(shared, tmp_path, upload, started).start()
    checkpoint = checkpoints(tmp_path / "data")[0]
    logs = wait_for_log(d, "rows have file problems")
    assert (f"WARNING files of {checkpoint.name} line 2 ({ISBN}): 2 error(s), 0 warning(s): {PAGE_COUNT}") in logs
    assert (f"WARNING 1 of 1 rows have file problems (sidecar preflight lists them): interior page-count "
            f"(1 rows: {RULES['page-count'].fix}); interior pages (1 rows: {RULES['pages'].fix})") in logs
    _metric(tmp_path, "lsi_sidecar_rows_with_file_errors 1\n")

    # The publisher uploads the right interior: written beside it, then renamed over it.
    interior(tmp_path / "new.pdf", pages=222)
    os.replace(tmp_path / "new.pdf", upload / f"{ISBN}_ai_gover_interior.pdf")
    logs = wait_for_log(d, "files: 1 of 1 rows' files agree with them")
    assert f"INFO    files of {checkpoint.name} line 2 ({ISBN}): they agree with the row now" in logs
    _metric(tmp_path, "lsi_sidecar_rows_with_file_errors 0\n")

    # Cut in place: judged once it holds still, as one problem of the row, then mended in place.
    data = (upload / f"{ISBN}_ai_gover_cover.pdf").read_bytes()
    (upload / f"{ISBN}_ai_gover_cover.pdf").write_bytes(data[: len(data) // 2])
    logs = wait_for_log(d, "1 of 1 rows have file problems (sidecar preflight lists them): cover file-readable")
    assert logs.count("rows have file problems") == 2  # a summary is logged when it changes, not at every look
    (upload / f"{ISBN}_ai_gover_cover.pdf").write_bytes(data)
    deadline = time.monotonic() + 20
    while d.logs().count("they agree with the row now") < 2:
        assert time.monotonic() < deadline, d.logs()
        d.receive(0.05)
    _metric(tmp_path, "lsi_sidecar_rows_with_file_errors 0\n")
    assert d.stop() == 0


def test_a_files_folder_mounted_late_and_a_missing_file_that_arrives_are_found_and_a_rotation_is_told(
        shared, tmp_path, started):
    upload = tmp_path / "upload"
    d = _service(shared, tmp_path, upload, started).start()  # the upload share is not there yet: the books go in all the same
    logs = wait_for_log(d, "rows have file problems")
    assert f"{upload} (the files folder: missing)" in logs
    cover(upload / f"{ISBN}_ai_gover_cover.pdf")
    logs = wait_for_log(d, f"error interior: not found; looked for {upload / f'{ISBN}_ai_gover_interior.pdf'}")
    interior(upload / f"{ISBN}_ai_gover_interior.pdf", pages=222)
    wait_for_log(d, "files: 1 of 1 rows' files agree with them")
    folder = tmp_path / "output" / "xynapse_traces_build" / "processed_json"
    done = run_child(["rotate", "--watch", str(folder), "--checkpoint-dir", str(tmp_path / "data")], cwd=tmp_path)
    assert done.returncode == EXIT_OK, done.stderr
    wait_for_log(d, "files: the current checkpoints have no rows yet")
    assert d.stop() == 0


def test_a_reading_ends_at_once_when_the_service_stops_and_judges_nothing(tmp_path):
    stop = threading.Event()
    stop.set()
    path = interior(tmp_path / "a.pdf")
    memo = Memo()
    assert read_files({"a": path}, memo=memo, stop=stop) == {"a": {"unreadable": "not checked: stopped",
                                                                  "rule": NOT_JUDGED}}
    assert memo.this == {}  # nothing not judged is kept
    assert read_files({"a": path}, memo=memo)["a"]["page_count"] == 222
    known = read_files({"a": path}, memo=memo)["a"]
    assert known is memo.get("pdf", path, path.stat())  # not read again
    st = path.stat()
    path.write_bytes(path.read_bytes())  # rewritten in place as `cp -p` does: same size, same modification time
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert read_files({"a": path}, memo=memo)["a"] is not known  # the change time tells: read again
