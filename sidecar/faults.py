"""Crash points for the torture tests: SIDECAR_FAULT=NAME[:N] kills the process the Nth time NAME is reached."""

from __future__ import annotations

import os
import signal

_name, _, _nth = os.environ.get("SIDECAR_FAULT", "").partition(":")
_remaining = int(_nth or 1)


def fault_point(name: str) -> None:
    global _remaining
    if name == _name:
        _remaining -= 1
        if _remaining == 0:
            os.kill(os.getpid(), signal.SIGKILL)
