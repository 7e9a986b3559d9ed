"""The unit as a publisher installs it, under a real systemd (tests/systembox.py): start, kills, watchdog,
reload, stop, hardening, the per-imprint template, journal priorities, and faults that pass (a full disk,
a folder it cannot read, a configuration that does not load, a disk that fails fsync).

The project is installed in the box exactly as README says, and the units run exactly as shipped: no
drop-in shortens a timer or lifts a limit (the first test proves it).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from helpers import (book, cell, checkpoints, isbn13, read_rows, rename_in_from_elsewhere, write_book,
                     write_by_rename, write_in_place_with_pauses)
from systembox import SystemBox

pytestmark = pytest.mark.timeout(600)  # the first run builds the rootfs (about a minute)
UNIT = "lsi-sidecar.service"
UNITS = (UNIT, "lsi-sidecar@.service")
BOOKS = "/srv/pipeline/output/xynapse_traces_build/processed_json"
DATA = "/srv/lsi-sidecar/data"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def box():
    b = SystemBox()
    try:
        b.boot()
        b.install_project()
        yield b
    finally:
        b.down()


def test_the_units_run_exactly_as_shipped(box):
    for unit in UNITS:
        assert box.path(f"/etc/systemd/system/{unit}").read_bytes() == (ROOT / "systemd" / unit).read_bytes()
        assert box.show(unit if "@" not in unit else "lsi-sidecar@x.service", "DropInPaths") == ""
    assert not list(box.path("/etc/systemd/system").glob("lsi-sidecar*.d"))
    assert box.show(UNIT, "StartLimitIntervalUSec") == "0"
    assert box.show(UNIT, "RestartUSec") == "5s"


def configure(box: SystemBox, extra: str = "", unit: str = UNIT, config: str = "/etc/lsi-sidecar/config.yaml",
              books: str = BOOKS, data: str = DATA) -> Path:
    """A clean start: the unit stopped, no checkpoint, an empty pipeline folder, the operator's config."""
    box.run(["systemctl", "stop", unit], check=False)
    box.run(["systemctl", "reset-failed", unit], check=False)
    box.run(["rm", "-rf", data, "/srv/pipeline"])
    folder = box.path(books)
    folder.mkdir(parents=True)
    box.path(config).write_text(
        f"watch: [{books}]\ncheckpoint_dir: {data}\n"
        "lsi_config: /opt/lsi-sidecar/examples/pipeline-configs/default_lsi_config.json\n" + extra)
    return folder


def rows(box: SystemBox, data: str = DATA) -> list[list[str]]:
    found = checkpoints(box.path(data))
    return [row for path in found for row in read_rows(path)]


def wait_for(condition, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what} not met within {timeout} s"
        time.sleep(0.05)
    return result


def isbns(box: SystemBox) -> list[str]:
    return sorted(cell(r, "ISBN or SKU") for r in rows(box))


def processes(box: SystemBox, unit: str = UNIT) -> list[str]:
    return box.run(["cat", f"/sys/fs/cgroup/system.slice/{unit}/cgroup.procs"]).stdout.split()


def test_start_is_ready_only_after_the_catch_up_and_each_writer_style_gives_a_row(box):
    folder = configure(box)
    for n in range(1, 201):
        write_book(folder, f"b{n:03}.json", book(n))
    box.run(["systemctl", "start", UNIT])  # returns at READY=1
    assert len(rows(box)) == 200  # every book present at start is in before the unit is active
    assert box.show(UNIT, "ActiveState") == "active"
    assert box.show(UNIT, "StatusText") == "watching 1 folder(s)"
    assert box.show(UNIT, "User") == "lsi-sidecar"
    write_in_place_with_pauses(folder / "w1.json", book(301))
    write_by_rename(folder / "w2.json", book(302))
    rename_in_from_elsewhere(folder / "w3.json", book(303))
    wait_for(lambda: len(rows(box)) == 203, what="three more rows")
    assert isbns(box) == sorted([isbn13(n) for n in range(1, 201)] + [isbn13(n) for n in (301, 302, 303)])


def test_kill_9_during_a_burst_five_times_restarts_and_keeps_every_book_once(box):
    folder = configure(box)
    box.run(["systemctl", "start", UNIT])
    written = 0
    for kill in range(1, 6):
        pid = box.show(UNIT, "MainPID")
        for _ in range(30):
            written += 1
            write_book(folder, f"k{written:03}.json", book(written))
        box.run(["kill", "-9", pid])
        wait_for(lambda: box.show(UNIT, "NRestarts") == str(kill) and box.show(UNIT, "ActiveState") == "active"
                 and box.show(UNIT, "MainPID") not in ("0", pid), what=f"restart {kill}")
    wait_for(lambda: len(rows(box)) >= written, what="every book in")
    assert isbns(box) == sorted(isbn13(n) for n in range(1, written + 1))  # each once: no duplicate, none lost


def test_a_service_that_stops_pinging_is_killed_by_the_watchdog_and_restarted(box):
    folder = configure(box)
    box.run(["systemctl", "start", UNIT])
    pid = box.show(UNIT, "MainPID")
    box.run(["kill", "-STOP", pid])
    write_book(folder, "a.json", book(1))
    wait_for(lambda: box.show(UNIT, "NRestarts") == "1" and box.show(UNIT, "ActiveState") == "active", timeout=60,
             what="the watchdog's restart (WatchdogSec=30, RestartSec=5)")
    assert "Watchdog timeout" in box.journal(UNIT)
    wait_for(lambda: len(rows(box)) == 1, what="the book written while it hung")
    assert isbns(box) == [isbn13(1)]


def test_reload_puts_the_new_configuration_in_force_in_the_same_process(box):
    folder = configure(box, "lsi: {pub_date_format: iso}\n")
    box.run(["systemctl", "start", UNIT])
    write_book(folder, "a.json", book(1, publication_date="2026-01-06"))
    wait_for(lambda: len(rows(box)) == 1)
    pid = box.show(UNIT, "MainPID")
    config = box.path("/etc/lsi-sidecar/config.yaml")
    config.write_text(config.read_text().replace("pub_date_format: iso", "pub_date_format: m/d/yy"))
    started = time.monotonic()
    box.run(["systemctl", "reload", UNIT], timeout=60)  # ExecReload=kill -HUP may return before RELOADING=1
    wait_for(lambda: box.show(UNIT, "ActiveState") == "active" and "reloaded: the configuration as it is now is in "
             "force" in box.journal(UNIT), what="the reload done")
    reload_seconds = time.monotonic() - started
    assert (box.show(UNIT, "ActiveState"), box.show(UNIT, "MainPID")) == ("active", pid)
    assert processes(box) == [pid]  # no stray process left by the reload
    write_book(folder, "b.json", book(2, publication_date="2026-01-06"))
    # the book written before the reload is converted again under the new configuration: its row replaced
    found = wait_for(lambda: [cell(r, "Pub Date") for r in rows(box)] == ["1/6/26", "1/6/26"] and rows(box))
    assert [cell(r, "ISBN or SKU") for r in found] == [isbn13(1), isbn13(2)]
    assert "the configuration for xynapse_traces changed: its books are converted again" in box.journal(UNIT)
    print(f"reload took {reload_seconds:.2f} s")


def test_stop_during_a_burst_exits_0_well_inside_the_stop_timeout(box):
    folder = configure(box)
    box.run(["systemctl", "start", UNIT])
    for n in range(1, 151):
        write_book(folder, f"s{n:03}.json", book(n))
    started = time.monotonic()
    box.run(["systemctl", "stop", UNIT])
    stop_seconds = time.monotonic() - started
    assert (box.show(UNIT, "Result"), box.show(UNIT, "ExecMainStatus")) == ("success", "0")
    assert stop_seconds < 5, f"stop took {stop_seconds:.1f} s (TimeoutStopSec=10)"
    box.run(["systemctl", "start", UNIT])  # what the stop left is caught up, once
    wait_for(lambda: len(rows(box)) == 150)
    assert isbns(box) == sorted(isbn13(n) for n in range(1, 151))
    print(f"stop during a burst took {stop_seconds:.2f} s")


def test_a_checkpoint_folder_outside_read_write_paths_is_waited_for_until_the_configuration_is_mended(box):
    folder = configure(box, data="/var/lib/lsi-elsewhere")
    box.run(["rm", "-rf", DATA])  # where the mended configuration puts it
    write_book(folder, "a.json", book(1))
    box.run(["systemctl", "start", UNIT])  # READY=1 while it waits: systemctl start does not hang
    waiting = "waiting: checkpoint_dir /var/lib/lsi-elsewhere cannot be created: Read-only file system"
    assert box.show(UNIT, "StatusText") == waiting
    config = box.path("/etc/lsi-sidecar/config.yaml")
    config.write_text(config.read_text().replace("/var/lib/lsi-elsewhere", DATA))
    wait_for(lambda: len(rows(box)) == 1, what="the book, once the configuration is mended")
    wait_for(lambda: box.show(UNIT, "StatusText") == "watching 1 folder(s)", what="the status")
    journal = box.journal(UNIT)
    assert [json.loads(x)["message"] for x in journal.splitlines() if waiting in x] == [
        f"{waiting}; retrying until it passes"]  # once, however many retries
    assert "Traceback" not in journal
    assert (box.show(UNIT, "NRestarts"), box.show(UNIT, "ActiveState")) == ("0", "active")


def test_the_watched_folder_is_only_read(box):
    folder = configure(box)
    for n in (1, 2):
        write_book(folder, f"{n}.json", book(n))
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    box.run(["systemctl", "start", UNIT])
    wait_for(lambda: len(rows(box)) == 2)
    probe = box.run(["setpriv", "--reuid=lsi-sidecar", "--regid=lsi-sidecar", "--clear-groups", "touch",
                     f"{BOOKS}/probe"], check=False)
    assert probe.returncode != 0  # and the unit's own sandbox makes it read-only besides
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()} == before


def test_a_rejected_book_is_a_warning_in_the_journal_with_its_fields(box):
    folder = configure(box)
    box.run(["systemctl", "start", UNIT])
    (folder / "bad.json").write_text("{")
    write_book(folder, "good.json", book(1))
    wait_for(lambda: len(rows(box)) == 1)
    warnings = wait_for(lambda: "rejected" in (w := box.journal(UNIT, "-p", "warning")) and w, what="the warning")
    lines = [json.loads(x) for x in warnings.splitlines() if x.startswith("{")]
    [line] = [x for x in lines if x["message"].startswith("rejected")]
    assert (line["level"], line["source"]) == ("WARNING", f"{BOOKS}/bad.json")
    assert line["reason"].startswith("it is not valid JSON")
    assert "appended" not in box.journal(UNIT, "-p", "warning")  # INFO lines stay at priority 6
    entries = [json.loads(x) for x in box.run(["journalctl", "-u", UNIT, "-o", "json", "--no-pager"]).stdout.splitlines()]
    [entry] = [e for e in entries if str(e.get("MESSAGE", "")).startswith('{"time"')
               and json.loads(e["MESSAGE"])["message"].startswith("rejected")]
    assert entry["PRIORITY"] == "4" and entry["SYSLOG_IDENTIFIER"] == "lsi-sidecar"


def test_the_per_imprint_template_runs_with_its_own_config_and_folder(box):
    unit = "lsi-sidecar@xynapse_traces.service"
    box.run(["mkdir", "-p", "/srv/lsi-sidecar/xynapse_traces"])
    box.run(["chown", "lsi-sidecar:", "/srv/lsi-sidecar/xynapse_traces"])
    folder = configure(box, unit=unit, config="/etc/lsi-sidecar/xynapse_traces.yaml",
                       data="/srv/lsi-sidecar/xynapse_traces/data")
    write_book(folder, "a.json", book(1))
    box.run(["systemctl", "start", unit])
    [checkpoint] = wait_for(lambda: checkpoints(box.path("/srv/lsi-sidecar/xynapse_traces/data")))
    assert checkpoint.name.endswith("_xynapse_traces.csv")
    assert [cell(r, "ISBN or SKU") for r in read_rows(checkpoint)] == [isbn13(1)]
    box.run(["systemctl", "stop", unit])
    assert box.show(unit, "Result") == "success"


# [Service] keys that say how the unit is started and supervised, not how its process is confined.
NOT_SANDBOX = {"Type", "NotifyAccess", "ExecStart", "ExecReload", "Restart", "RestartPreventExitStatus", "RestartSec",
               "WatchdogSec", "TimeoutStartSec", "TimeoutStopSec", "SyslogIdentifier"}
PREFLIGHT_PROBE = """
import ctypes, json, os, resource
from pathlib import Path
from sidecar.store.pdf_files import Limits, read_files
libc = ctypes.CDLL(None, use_errno=True)
limit = (ctypes.c_ulong * 2)(1 << 40, 1 << 40)
raw = libc.syscall(160, resource.RLIMIT_AS, limit)  # setrlimit(2) itself (x86-64 number 160)
denied = ctypes.get_errno() if raw else None
try:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 40, 1 << 40))  # glibc's setrlimit(), by prlimit64(2)
    glibc = None
except OSError as exc:
    glibc = exc.errno
up = Path("/srv/lsi-sidecar/upload")
print(json.dumps({"setrlimit": denied, "glibc_setrlimit": glibc, "good": read_files({"interior": up / "good.pdf"})["interior"],
                  "cut": read_files({"interior": up / "cut.pdf"})["interior"],
                  "memory": read_files({"interior": up / "good.pdf"}, Limits(memory_bytes=1 << 20))["interior"],
                  "time": read_files({"interior": up / "good.pdf"}, Limits(seconds=0))["interior"]}))
"""


def unit_sandbox() -> list[str]:
    """The shipped unit's [Service] settings that confine its process, as systemd-run properties."""
    text = (Path(__file__).resolve().parents[1] / "systemd" / UNIT).read_text()
    service = text.split("[Service]", 1)[1].split("\n[", 1)[0]
    lines = [line.strip() for line in service.splitlines() if "=" in line and not line.lstrip().startswith("#")]
    return [f"--property={line}" for line in lines if line.split("=", 1)[0] not in NOT_SANDBOX]


def test_preflight_reads_pdfs_and_holds_its_limits_under_the_unit_s_sandbox_which_denies_setrlimit(box):
    from test_preflight import interior

    configure(box)
    upload = box.path("/srv/lsi-sidecar/upload")
    upload.mkdir(parents=True, exist_ok=True)
    interior(upload / "good.pdf")
    cut = interior(upload / "cut.pdf")
    cut.write_bytes(cut.read_bytes()[:4000])
    box.run(["touch", "-d", "1 hour ago", "/srv/lsi-sidecar/upload/cut.pdf"])
    done = box.run(["systemd-run", "--wait", "--pipe", "--quiet", *unit_sandbox(),
                    "/opt/lsi-sidecar/.venv/bin/python", "-c", PREFLIGHT_PROBE], check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["setrlimit"] == 1, found  # EPERM: the unit's SystemCallFilter=~@resources at work
    # glibc's setrlimit() calls prlimit64(2), which systemd 252's @resources does not hold: it goes through.
    # Preflight relies on neither; its limits are the parent's clock and its reading of the child's RSS.
    assert found["glibc_setrlimit"] is None, found
    assert found["good"]["page_count"] == 222 and found["good"]["fonts_not_embedded_count"] == 0
    assert found["cut"] == {"unreadable": "not a whole PDF: no %%EOF at its end (cut short, or still being written)"}
    assert found["memory"] == {"unreadable": "not checked: reading it needed over 1 MB (the limit); stopped",
                               "rule": "file-limits"}
    assert found["time"] == {"unreadable": "not checked: reading it took over 0 s (the limit); stopped",
                             "rule": "file-limits"}


def never_failed(box: SystemBox, seen: list[str]) -> None:
    seen.append(box.show(UNIT, "ActiveState"))
    assert "failed" not in seen, f"the unit failed: {box.journal(UNIT)[-3000:]}"


def rows_inside(box: SystemBox) -> list[list[str]]:
    """The rows of the one checkpoint on the box's own tmpfs, which the host cannot see."""
    copy = "/srv/full-disk-copy.csv"
    box.run(["sh", "-c", f"cat {DATA}/cumulative_checkpoint_*.csv > {copy}"])
    return read_rows(box.path(copy))


def test_a_full_checkpoint_disk_for_60_s_is_waited_out_and_every_book_gets_in_once(box):
    folder = configure(box)
    box.run(["mkdir", "-p", DATA])
    box.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "lsi-full", DATA])
    try:
        box.run(["chown", "lsi-sidecar:", DATA])
        write_book(folder, "a000.json", book(1))
        box.run(["systemctl", "start", UNIT])
        box.run(["dd", "if=/dev/zero", f"of={DATA}/filler", "bs=4k"], check=False)  # until the disk is full
        for n in range(2, 31):
            write_book(folder, f"a{n:03}.json", book(n))
        wait_for(lambda: box.show(UNIT, "StatusText").startswith("waiting: "), what="the wait")
        status = box.show(UNIT, "StatusText")  # the checkpoint's write or the ledger's, whichever found it full
        assert "No space left on device" in status or status.endswith("database or disk is full"), status
        seen: list[str] = []
        full_until = time.monotonic() + 60
        while time.monotonic() < full_until:
            never_failed(box, seen)
            time.sleep(0.5)
        box.run(["rm", f"{DATA}/filler"])
        wait_for(lambda: len(rows_inside(box)) == 30, timeout=40, what="every book, once there is space")
        assert sorted(cell(r, "ISBN or SKU") for r in rows_inside(box)) == sorted(isbn13(n) for n in range(1, 31))
        wait_for(lambda: box.show(UNIT, "StatusText") == "watching 1 folder(s)", what="the status")
        assert (box.show(UNIT, "NRestarts"), box.show(UNIT, "ActiveState")) == ("0", "active")
        assert "resumed: no longer waiting for" in box.journal(UNIT)
    finally:
        box.run(["systemctl", "stop", UNIT], check=False)
        box.run(["umount", DATA], check=False)


def test_a_watched_folder_the_service_cannot_read_is_waited_for_until_it_can(box):
    folder = configure(box)
    write_book(folder, "a.json", book(1))
    box.run(["systemctl", "start", UNIT])
    box.run(["chmod", "0700", BOOKS])  # root's: the service user may no longer enter it
    for n in range(2, 7):
        write_book(folder, f"{n}.json", book(n))
    wait_for(lambda: box.show(UNIT, "StatusText").startswith(f"waiting: the watched folder {BOOKS} cannot be read: "
                                                             "permission denied for user lsi-sidecar"),
             what="the wait")
    seen: list[str] = []
    for _ in range(10):
        never_failed(box, seen)
        time.sleep(0.5)
    box.run(["chmod", "0755", BOOKS])
    wait_for(lambda: len(rows(box)) == 6, what="every book, once the folder can be read")
    assert isbns(box) == sorted(isbn13(n) for n in range(1, 7))
    wait_for(lambda: box.show(UNIT, "StatusText") == "watching 1 folder(s)", what="the status")
    assert (box.show(UNIT, "NRestarts"), box.show(UNIT, "ActiveState")) == ("0", "active")


def test_a_configuration_saved_broken_then_mended_never_stops_the_service(box):
    folder = configure(box)
    write_book(folder, "a.json", book(1))
    box.run(["systemctl", "start", UNIT])
    wait_for(lambda: len(rows(box)) == 1)
    config = box.path("/etc/lsi-sidecar/config.yaml")
    good = config.read_text()
    config.write_text(good + "lsi: {pub_date_format: [\n")  # saved half-way
    pid = box.show(UNIT, "MainPID")
    box.run(["systemctl", "reload", UNIT])  # ExecReload=kill -HUP may return before RELOADING=1 arrives
    wait_for(lambda: box.show(UNIT, "ActiveState") == "active" and "reload refused: " in box.journal(UNIT),
             what="the reload refused")
    assert box.show(UNIT, "MainPID") == pid
    assert "reload refused: /etc/lsi-sidecar/config.yaml is not valid YAML" in box.journal(UNIT)
    box.run(["systemctl", "restart", UNIT])  # a restart while it is broken: waited, not exit 2
    assert box.show(UNIT, "StatusText").startswith(
        "waiting: the configuration cannot be loaded: /etc/lsi-sidecar/config.yaml is not valid YAML")
    write_book(folder, "b.json", book(2))
    config.write_text(good)
    wait_for(lambda: len(rows(box)) == 2, what="the book written while it waited")
    assert isbns(box) == [isbn13(1), isbn13(2)]
    assert (box.show(UNIT, "NRestarts"), box.show(UNIT, "ActiveState")) == ("0", "active")


def test_a_disk_that_fails_fsync_exits_3_and_is_restarted_until_it_no_longer_does(box):
    folder = configure(box)
    write_book(folder, "a.json", book(1))
    box.run(["systemctl", "set-environment", "SIDECAR_FAULT=fsync-eio:1"])  # every start's first fsync fails
    try:
        box.run(["systemctl", "start", UNIT], check=False)
        seen: list[str] = []
        # More starts than the old StartLimitBurst=5 allowed: the unit as shipped never gives up.
        wait_for(lambda: never_failed(box, seen) or int(box.show(UNIT, "NRestarts")) >= 6, timeout=90,
                 what="six restarts")
        journal = box.journal(UNIT)
        assert journal.count("Main process exited, code=exited, status=3/NOTIMPLEMENTED") >= 6
        assert "durable: [Errno 5] Input/output error (injected)" in journal
    finally:
        box.run(["systemctl", "unset-environment", "SIDECAR_FAULT"])
    wait_for(lambda: box.show(UNIT, "ActiveState") == "active" and box.show(UNIT, "SubState") == "running"
             and len(rows(box)) == 1, timeout=30, what="the restart after the disk mends")
    assert isbns(box) == [isbn13(1)]


def test_the_service_checks_the_rows_files_under_the_unit_as_shipped_and_again_when_one_is_replaced(box):
    from test_preflight import interior

    def row_lines() -> list[dict]:
        return [json.loads(x) for x in box.journal(UNIT).splitlines() if "files of cumulative" in x]

    folder = configure(box, extra="files: /srv/lsi-sidecar/upload\n")
    box.run(["rm", "-rf", "/srv/lsi-sidecar/upload"])  # what an earlier scenario left there
    upload = box.path("/srv/lsi-sidecar/upload")
    upload.mkdir(parents=True)
    write_book(folder, "b1.json", book(1, page_count=120))
    box.run(["systemctl", "start", UNIT])
    [row] = wait_for(lambda: rows(box))
    assert cell(row, "Pages") == "120"
    name = cell(row, "Interior Path / Filename")
    assert "interior: not found" in wait_for(row_lines, timeout=60, what="the first check")[0]["message"]
    for pages in (118, 120):  # the wrong interior, then the right one, each written beside and renamed in
        seen = len(row_lines())
        interior(upload / "new.pdf", pages=pages)
        box.run(["chmod", "-R", "a+rX", "/srv/lsi-sidecar/upload"])
        box.run(["mv", "/srv/lsi-sidecar/upload/new.pdf", f"/srv/lsi-sidecar/upload/{name}"])
        line = wait_for(lambda: len(row_lines()) > seen and row_lines()[-1], timeout=60, what=f"{pages} pages checked")
        assert line["isbn"] == isbn13(1), line
        short = "interior: 118 pages in the PDF, the row's Pages says 120 [page-count]"
        assert (short in line["message"]) == (pages == 118), line
    assert box.show(UNIT, "ActiveState") == "active"
    box.run(["systemctl", "stop", UNIT])
    assert box.show(UNIT, "Result") == "success"
