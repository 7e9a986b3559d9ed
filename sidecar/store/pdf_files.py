"""PDF files read for pre-flight, each by a child process held to a time and a memory limit.

The child (store/pdf_facts.py) reads FILES_PER_CHILD files and prints one JSON line of facts per file;
the parent kills it when one file runs over Limits, so no file can hang or exhaust the caller. Nothing
sets a resource limit: the service's system-call filter denies setrlimit, and that does not matter here.
A file changing while it is read is never judged half-written (the readiness rule of the books).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Hashable, Mapping, Sequence

from ..errors import InputError
from ..inputs import open_regular_file
from .pdf_facts import status_kib

SETTLE_SECONDS = 2.0  # the engine's "racy" window: a file changed this recently may still be being written
POLL_SECONDS = 0.02  # how often the child's memory is looked at while waiting for it
FILES_PER_CHILD = 32  # files one child process reads: its start (the interpreter, pypdf) is paid once for them
NOT_JUDGED = "file-settled"  # the rule of a file not judged yet (being written, or the reading was stopped)

Facts = dict[str, Any]  # store/pdf_facts.py gives their shape


@dataclass(frozen=True)
class Limits:
    """What reading one file may cost: its wall time (seconds), and the resident memory of the reading
    process (bytes)."""

    seconds: float = 60.0
    memory_bytes: int = 512 << 20


@dataclass
class Memo:
    """What one run learnt that the next may reuse for a file unchanged since (the same path, device,
    inode, size, modification and change times: a copy that keeps the modification time, `cp -p`, still
    changes the change time): a PDF's facts, a book's few keys. Holds only the last run's
    values, so its memory follows the number of rows, not the number of runs."""

    last: dict[tuple[Hashable, ...], Any] = field(default_factory=dict)
    this: dict[tuple[Hashable, ...], Any] = field(default_factory=dict)

    def get(self, kind: str, path: Path, st: os.stat_result) -> Any:
        """The value kept for this file as it is now, or None."""
        key = _identity(kind, path, st)
        value = self.this.get(key, self.last.get(key))
        if value is not None:
            self.this[key] = value
        return value

    def put(self, kind: str, path: Path, st: os.stat_result, value: Any) -> None:
        self.this[_identity(kind, path, st)] = value

    def next_run(self) -> None:
        """Forget what the run just ended did not use."""
        self.last, self.this = self.this, {}


def _identity(kind: str, path: Path, st: os.stat_result) -> tuple[Hashable, ...]:
    return kind, str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def read_files(paths: Mapping[Hashable, Path], limits: Limits = Limits(), memo: Memo | None = None,
               stop: threading.Event | None = None, patient: bool = True) -> dict[Hashable, Facts]:
    """The facts of each file (key -> facts), read by child processes held to limits, each file to its own.
    A file that cannot be opened, or is not a regular file, is {"unreadable": reason, "rule": "file-readable"};
    one the limits stopped, rule "file-limits"; one not judged (being written, or stop was set), rule
    NOT_JUDGED. patient (the tools, which run once): a file being written is read once more after
    SETTLE_SECONDS; the service, which looks again by itself, is not. With a memo, a file unchanged since the
    memo's last run is not read again. Never raises."""
    facts = _read_files(paths, limits, memo, stop)
    again = {key: path for key, path in paths.items() if facts[key].get("rule") == NOT_JUDGED}
    if patient and again and not (stop is not None and stop.is_set()):
        time.sleep(SETTLE_SECONDS)
        facts.update(_read_files(again, limits, memo, stop))
    return facts


def _read_files(paths: Mapping[Hashable, Path], limits: Limits, memo: Memo | None,
                stop: threading.Event | None) -> dict[Hashable, Facts]:
    facts: dict[Hashable, Facts] = {}
    before: dict[Hashable, os.stat_result] = {}
    started = time.time()
    for key, path in paths.items():
        try:
            fd, before[key] = open_regular_file(path)  # never a FIFO or a device, which could block a reader
            os.close(fd)
        except (InputError, OSError) as exc:
            facts[key] = {"unreadable": str(exc) if isinstance(exc, InputError) else f"cannot open it: {exc}",
                          "rule": "file-readable"}
            continue
        known = memo.get("pdf", path, before[key]) if memo is not None else None
        if known is not None:
            facts[key] = known
            del before[key]
    pending = [key for key in paths if key not in facts]
    while pending:
        results, over = _child([paths[key] for key in pending], limits, stop)
        facts.update(zip(pending, results))
        pending = pending[len(results):]
        if stop is not None and stop.is_set():
            facts.update({key: {"unreadable": "not checked: stopped", "rule": NOT_JUDGED} for key in pending})
            break
        if over and pending:
            facts[pending.pop(0)] = {"unreadable": over, "rule": "file-limits"}
    for key, st in before.items():
        facts[key] = _settled(paths[key], st, facts[key], started)
        if memo is not None and facts[key].get("rule") != NOT_JUDGED:
            memo.put("pdf", paths[key], st, facts[key])
    return facts


def _settled(path: Path, before: os.stat_result, facts: Facts, started: float) -> Facts:
    """A file that changed while read, or that is unreadable and had changed a moment before its reading
    started, is being written: it is not judged (the readiness rule of the books)."""
    try:
        after = os.stat(path)
    except OSError:
        return {"unreadable": "it was removed while being read; checked again at the next run", "rule": NOT_JUDGED}
    age = started - after.st_mtime  # negative: a modification time ahead of this clock (a skewed file server)
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        return {"unreadable": "it changed while being read (still being written); not judged yet", "rule": NOT_JUDGED}
    if facts.get("unreadable") and facts.get("rule") is None and 0 <= age < SETTLE_SECONDS:
        return {"unreadable": f"being written (changed {age:.1f} s ago) and not a whole PDF yet; not judged yet",
                "rule": NOT_JUDGED}
    return facts


def _child(paths: Sequence[Path], limits: Limits, stop: threading.Event | None) -> tuple[list[Facts], str | None]:
    """Run pdf_facts on paths; the facts it printed, and why it was stopped (None when it finished)."""
    over = None
    with tempfile.TemporaryFile() as out:
        # -P: the current folder is not put on the child's import path (a stray pypdf.py there is not run)
        proc = subprocess.Popen([sys.executable, "-P", "-m", "sidecar.store.pdf_facts", *map(str, paths)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL)
        deadline, written = time.monotonic() + limits.seconds, 0
        while True:
            try:
                proc.wait(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                if os.fstat(out.fileno()).st_size != written:  # a file's facts came out: the next one's time starts
                    deadline, written = time.monotonic() + limits.seconds, os.fstat(out.fileno()).st_size
                if stop is not None and stop.is_set():
                    over = "not checked: stopped"
                elif time.monotonic() > deadline:
                    over = f"not checked: reading it took over {limits.seconds:g} s (the limit); stopped"
                elif status_kib("VmRSS", proc.pid) * 1024 > limits.memory_bytes:
                    over = f"not checked: reading it needed over {limits.memory_bytes >> 20} MB (the limit); stopped"
                if over:
                    proc.kill()
                    proc.wait()
                    break
        out.seek(0)
        lines = _json_lines(out.read())
    results = [line for line in lines if "peak_rss_kb" not in line]
    if over is None and len(results) < len(paths):
        over = f"not checked: the reading process failed (exit {proc.returncode})"
    return results, over


def _json_lines(data: bytes) -> list[Facts]:
    """The child's whole lines, up to the first that is not a JSON object (it was killed mid-line)."""
    found = []
    for line in data.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            break
        if not isinstance(value, dict):
            break
        found.append(value)
    return found
