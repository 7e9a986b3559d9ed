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
        self.path = folder / LOCK_NAME
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            flock(self.fd, LOCK_EX | LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 4096, 0).decode(errors="replace").strip() or "unknown process"
            os.close(self.fd)
            raise LockHeld(f"{folder} is in use by another sidecar ({holder}); "
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
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
