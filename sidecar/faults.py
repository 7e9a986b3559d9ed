"""Fault injection for the torture tests: SIDECAR_FAULT=NAME[:N].

fault_point(NAME) kills the process with SIGKILL the Nth time NAME is reached (a crash at that exact
instant); fault_active(NAME) tells code to misbehave in a named way (for failures that are not crashes).
"""

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


def fault_active(name: str) -> bool:
    return name == _name
