"""One writer per folder: an flock on <folder>/.sidecar.lock that names its holder."""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime
from fcntl import LOCK_EX, LOCK_NB, flock
from pathlib import Path

from ..errors import LockHeld

LOCK_NAME = ".sidecar.lock"


class DirLock:
    """One writer per folder: an flock on <folder>/.sidecar.lock that names its holder."""

    def __init__(self, folder: Path) -> None:
        """Take the lock, or raise LockHeld naming its holder; OSError when the lock file cannot be opened."""
        self.path = folder / LOCK_NAME
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            flock(self.fd, LOCK_EX | LOCK_NB)
        except BlockingIOError:
            holder = _holder(self.fd)
            os.close(self.fd)
            raise LockHeld(f"{folder} is in use by {holder}; "
                           "stop it first, or give this one another --checkpoint-dir/--state-dir") from None
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "since": datetime.now().isoformat(timespec="seconds")})
        data = info.encode() + b"\n"
        try:  # written over the previous holder's line, so that a full disk seldom refuses it
            os.pwrite(self.fd, data, 0)
            os.ftruncate(self.fd, len(data))
        except OSError:
            pass  # the name of the holder is for messages only; the flock is the lock

    def release(self) -> None:
        """Let the lock go (closing the file releases the flock); releasing twice is harmless."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _holder(fd: int) -> str:
    """Who holds the lock: the sidecar the lock file names when the kernel says it is the holder, else the
    holding processes the kernel lists (a program other than the sidecar, or a sidecar from another host)."""
    recorded = os.pread(fd, 4096, 0).decode(errors="replace").strip()
    try:
        named = json.loads(recorded).get("pid") if recorded.startswith("{") else None
    except ValueError:
        named = None
    holders = lock_holders(os.fstat(fd))
    if holders is None or (named in holders) or not holders:
        return f"another sidecar ({recorded or 'unknown process'})"
    found = ", ".join(f"pid {pid} ({_command(pid)})" for pid in holders)
    return f"{found}, which holds its lock file {LOCK_NAME}" + (
        f" (the file names pid {named}, an earlier holder)" if named is not None else "")


def lock_holders(stat: os.stat_result) -> list[int] | None:
    """The pids holding an flock on the file of stat, from /proc/locks; None where it cannot be read."""
    device = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            lines = f.read(1 << 20).splitlines()
    except OSError:
        return None
    pids = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device and fields[4].isdigit():
            pids.append(int(fields[4]))
    return pids


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read(64).strip() or "?"
    except OSError:
        return "not visible here"
