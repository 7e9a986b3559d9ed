"""Fault injection for the torture tests: SIDECAR_FAULT=NAME[:N] acts the Nth time NAME is reached.

A point named *-eio raises an I/O error there (a failing disk), *-enospc a full disk; any other point
kills the process with SIGKILL (a crash at that exact instant). fault_active(NAME) tells code to misbehave in a named way.
"""

from __future__ import annotations

import errno
import os
import signal

_name, _, _nth = os.environ.get("SIDECAR_FAULT", "").partition(":")
_remaining = int(_nth or 1)


def fault_point(name: str) -> None:
    global _remaining
    if name == _name:
        _remaining -= 1
        if _remaining == 0:
            if name.endswith("-eio"):
                raise OSError(errno.EIO, "Input/output error (injected)")
            if name.endswith("-enospc"):
                raise OSError(errno.ENOSPC, "No space left on device (injected)")
            os.kill(os.getpid(), signal.SIGKILL)


def fault_active(name: str) -> bool:
    return name == _name
